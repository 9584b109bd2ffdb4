/**
 * `node dist/bench/e2e-fastify-cost.js [--rounds R] [--requests N]`: what `fastifyRoute` adds to
 * Fastify's own request path, in CPU time per request, measured in one process where a loaded
 * machine moves every figure alike (a diagnostic beside bench/e2e-paired.ts, whose end-to-end
 * bursts need a quiet machine). Apps, each answering `GET /users/:id` through `app.inject()`:
 * - `plain`: bare Fastify; `hook`: an empty global `onRequest` hook (an app-wide hook costs far
 *   more on a real socket than it does here: bench/e2e-server.ts modes `fastify-hook`, `fastify-after`);
 * - `route`: `fastifyRoute(app)` (its handler wrapper);
 * - `auth-plain` / `auth-route`: a global `preHandler` hook (as an auth plugin adds), without and
 *   with `fastifyRoute` (whose recorder then joins that phase).
 * Each round runs N requests on each app in the orders of a balanced Latin square; every app's
 * CPU per request is divided by its baseline's of the same round (`plain`, or `auth-plain`), and
 * the median ratio is printed with its 95 % interval. `inject` itself costs CPU that a real socket
 * does not, so the ratios understate what a real request pays; the µs difference is the figure to read.
 * Beside it, bytes allocated per request in the young generation (windows of 50 requests, each
 * after a full collection; the median window): not timed, so a loaded machine does not move it.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createLogger } from '../src/logger.js';
import { Registry } from '../src/metrics/registry.js';
import { instrumentHttp } from '../src/sources/http-instrument.js';
import { fastifyRoute } from '../src/sources/http-routes.js';
import { balancedOrder, median, medianInterval } from './harness.js';

if (process.argv.includes('--help')) {
  console.log(
    'usage: node dist/bench/e2e-fastify-cost.js [--rounds R (default 8)] [--requests N per app per round (default 2000)]',
  );
  process.exit(0);
}
const arg = (name: string, fallback: number) => {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? Number(process.argv[at + 1]) : fallback;
};
// Each `inject()` response stays reachable after the app is closed and the heap collected
// (~10 KB each, Fastify 5 with light-my-request), so the process holds every request it ran:
// 40 rounds (420,000 injects) ran out of a 4 GB heap; 8 rounds are ~100,000 (~1 GB).
const ROUNDS = arg('rounds', 8);
const REQUESTS = arg('requests', 2000);

type Variant = 'plain' | 'hook' | 'route' | 'auth-plain' | 'auth-route';
const VARIANTS: Variant[] = ['plain', 'hook', 'route', 'auth-plain', 'auth-route'];
const BASELINE: Record<Variant, Variant> = {
  plain: 'plain',
  hook: 'plain',
  route: 'plain',
  'auth-plain': 'auth-plain',
  'auth-route': 'auth-plain',
};

async function build(variant: Variant): Promise<FastifyInstance> {
  const app = Fastify({ logger: false });
  if (variant === 'route' || variant === 'auth-route')
    instrumentHttp(new Registry({ logger: createLogger({ level: 'silent' }) }), app.server, {
      route: fastifyRoute(app),
    });
  if (variant === 'hook') app.addHook('onRequest', (_request, _reply, done) => done());
  if (variant.startsWith('auth-'))
    app.addHook('preHandler', (request, reply, done) =>
      request.headers['x-deny'] === undefined ? done() : void reply.code(401).send(),
    );
  app.get('/users/:id', (_request, reply) => {
    reply.send({ ok: true });
  });
  await app.ready();
  return app;
}

const apps = Object.fromEntries(await Promise.all(VARIANTS.map(async (v) => [v, await build(v)] as const))) as Record<
  Variant,
  FastifyInstance
>;

async function cpuPerRequest(app: FastifyInstance): Promise<number> {
  const before = process.cpuUsage();
  for (let i = 0; i < REQUESTS; i++) {
    const res = await app.inject({ method: 'GET', url: `/users/${i}` });
    if (res.statusCode !== 200) throw new Error(`e2e-fastify-cost: status ${res.statusCode}`);
  }
  const used = process.cpuUsage(before);
  return (used.user + used.system) / REQUESTS;
}

for (const v of VARIANTS) await cpuPerRequest(apps[v]); // warm-up
const samples: Record<Variant, number[]> = { plain: [], hook: [], route: [], 'auth-plain': [], 'auth-route': [] };
for (let r = 0; r < ROUNDS; r++) {
  for (const i of balancedOrder(VARIANTS.length, r))
    samples[VARIANTS[i]!].push(await cpuPerRequest(apps[VARIANTS[i]!]));
}
v8.setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const youngBytes = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')!.space_used_size;
const ALLOC_WINDOW = 50;
async function bytesPerRequest(app: FastifyInstance): Promise<number> {
  const windows: number[] = [];
  for (let w = 0; w < 40; w++) {
    gc();
    const before = youngBytes();
    for (let i = 0; i < ALLOC_WINDOW; i++) await app.inject({ method: 'GET', url: `/users/${i}` });
    windows.push((youngBytes() - before) / ALLOC_WINDOW);
  }
  return median(windows);
}
const bytes = {} as Record<Variant, number>;
for (const v of VARIANTS) bytes[v] = await bytesPerRequest(apps[v]);

const pct = (x: number) => `${x >= 1 ? '+' : ''}${((x - 1) * 100).toFixed(2)}%`;
console.log(
  `| ${ROUNDS} rounds of ${REQUESTS} inject() requests per app | CPU per request vs baseline (95 % CI) | µs per request (median) | young-generation bytes per request (vs baseline) |`,
);
console.log('|---|---|---|---|');
for (const v of VARIANTS) {
  const base = BASELINE[v];
  const ratios = samples[v].map((x, i) => x / samples[base][i]!);
  const ci = medianInterval(ratios);
  const cell = v === base ? 'baseline' : `${pct(median(ratios))} (${pct(ci.low)} … ${pct(ci.high)}) vs ${base}`;
  console.log(
    `| ${v} | ${cell} | ${median(samples[v]).toFixed(2)} | ${bytes[v].toFixed(0)} (${v === base ? 'baseline' : `${bytes[v] - bytes[base] >= 0 ? '+' : ''}${(bytes[v] - bytes[base]).toFixed(0)}`}) |`,
  );
}
await Promise.all(VARIANTS.map((v) => apps[v].close()));
