/**
 * `npm run bench [-- <suite>...] [--quick] [--check]`: runs the named suites (all of the default
 * set when none is named), prints one markdown table per suite, and writes the figures to
 * bench/results/latest.json with the machine, Node and package versions. A partial run replaces
 * only its own suites in latest.json; each suite records when it ran.
 *
 * `--quick` shortens every time budget (still at least 3 samples per figure). `--check` (what
 * `npm run bench:check` uses, on `hot-path exposition`) exits 1 when any figure with a target
 * misses it by more than its margin, naming each one.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { dashboardSuite } from './dashboard.bench.js';
import { endToEndSuite } from './e2e.bench.js';
import { expositionSuite } from './exposition.bench.js';
import { feedSuite } from './feed.bench.js';
import { type Check, checkStatus, markdownTable, type SuiteOptions, type SuiteResult } from './harness.js';
import { hotPathSuite } from './metrics.bench.js';
import { mcpSuite } from './mcp.bench.js';
import { memorySuite } from './memory.bench.js';
import { millionSuite } from './million.bench.js';
import { messageApiSuite } from './otp.bench.js';
import { outboundSuite } from './outbound.bench.js';
import { percentileSuite } from './percentile.bench.js';
import { sketchSuite } from './sketch.bench.js';
import { storeSuite } from './store.bench.js';

interface SuiteEntry {
  id: string;
  run: (options: SuiteOptions) => Promise<SuiteResult>;
  baseline?: string;
  /** Runs only when named. */
  optIn?: boolean;
}

const SUITES: SuiteEntry[] = [
  { id: 'hot-path', run: hotPathSuite },
  { id: 'message-api', run: messageApiSuite, baseline: 'bare nact dispatch (baseline)' },
  { id: 'exposition', run: expositionSuite },
  { id: 'store', run: storeSuite },
  { id: 'feed', run: feedSuite },
  { id: 'end-to-end', run: endToEndSuite },
  { id: 'outbound', run: outboundSuite },
  // instrument.mcp on tools/call, paired against plain McpServers with an A/A control (about 20 s).
  { id: 'mcp', run: mcpSuite },
  { id: 'percentiles', run: percentileSuite },
  // Heap per series next to prom-client, one fresh process per figure (about a minute).
  { id: 'memory', run: memorySuite },
  { id: 'sketch', run: sketchSuite, baseline: 'loop only (sum values, baseline)', optIn: true },
  // The dashboard's own figures (clients in this process, API round trips), from its author.
  { id: 'dashboard', run: dashboardSuite, optIn: true },
  // 1,000,000 series in one tree in a child process (100,000 with --quick); minutes.
  { id: 'million', run: millionSuite, optIn: true },
];

const args = process.argv.slice(2);
const flags = new Set(args.filter((a) => a.startsWith('--')));
const named = args.filter((a) => !a.startsWith('--'));
for (const flag of flags) {
  if (flag !== '--quick' && flag !== '--check') {
    console.error(`unknown option ${flag}; allowed: --quick, --check`);
    process.exit(2);
  }
}
for (const id of named) {
  if (!SUITES.some((s) => s.id === id)) {
    console.error(`unknown suite "${id}"; allowed: ${SUITES.map((s) => s.id).join(', ')}`);
    process.exit(2);
  }
}
const selected = named.length > 0 ? SUITES.filter((s) => named.includes(s.id)) : SUITES.filter((s) => !s.optIn);
const options: SuiteOptions = { quick: flags.has('--quick') };

const machine = () =>
  `${os.cpus().length} x ${os.cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}, load average ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`;
console.log(
  `Benchmarks (${options.quick ? 'quick' : 'full'}: ${selected.map((s) => s.id).join(', ')}) on ${machine()}\n`,
);

const root = fileURLToPath(new URL('../../', import.meta.url));
const results: Record<string, SuiteResult & { date: string; quick: boolean }> = {};
for (const suite of selected) {
  const result = await suite.run(options);
  results[suite.id] = { ...result, date: new Date().toISOString(), quick: options.quick };
  console.log(`${markdownTable(result, suite.baseline)}\n`);
}

const pkg = (name: string) => {
  try {
    return (JSON.parse(readFileSync(`${root}node_modules/${name}/package.json`, 'utf8')) as { version: string })
      .version;
  } catch {
    return undefined;
  }
};
const file = `${root}bench/results/latest.json`;
let previous: { suites?: Record<string, unknown> } = {};
if (existsSync(file)) {
  try {
    previous = JSON.parse(readFileSync(file, 'utf8')) as typeof previous;
  } catch {
    previous = {};
  }
}
mkdirSync(`${root}bench/results`, { recursive: true });
writeFileSync(
  file,
  JSON.stringify(
    {
      date: new Date().toISOString(),
      machine: {
        cpus: os.cpus().length,
        model: os.cpus()[0]?.model,
        memoryGiB: Math.round(os.totalmem() / 2 ** 30),
        platform: `${os.platform()} ${os.release()}`,
        loadAverage: os.loadavg(),
      },
      node: process.version,
      packages: Object.fromEntries(
        [
          'nact',
          'tinybench',
          'lmdb',
          'ws',
          'autocannon',
          'prom-client',
          '@opentelemetry/sdk-metrics',
          '@modelcontextprotocol/sdk',
        ].map((name) => [name, pkg(name)]),
      ),
      suites: { ...(previous.suites ?? {}), ...results },
    },
    null,
    2,
  ),
);
console.log(`figures written to bench/results/latest.json; machine at the end: ${machine()}`);

if (flags.has('--check')) {
  const checks: Check[] = Object.values(results).flatMap((r) => r.checks ?? []);
  const failed = checks.filter((c) => checkStatus(c) === 'FAILS');
  const within = checks.filter((c) => checkStatus(c) === 'within margin');
  for (const c of within)
    console.log(
      `bench:check: below target but within the ${c.margin * 100}% margin: ${c.name} = ${c.measured.toFixed(2)}${c.unit} (target ${c.target}${c.unit})`,
    );
  if (checks.length === 0) {
    console.error('bench:check FAILED: the selected suites measured no figure with a target');
    process.exitCode = 1;
  } else if (failed.length > 0) {
    for (const c of failed) {
      console.error(
        `bench:check FAILED: ${c.name} = ${c.measured.toFixed(2)}${c.unit}, target ${c.better === 'higher' ? '>=' : '<='} ${c.target}${c.unit} (margin ${c.margin * 100}%)`,
      );
    }
    process.exitCode = 1;
  } else {
    console.log(`bench:check: all ${checks.length} targets met (or within their margin)`);
  }
}
