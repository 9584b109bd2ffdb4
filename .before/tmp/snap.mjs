// node --expose-gc snap.mjs <kind> <n>: aggregate heap snapshot self sizes by node type/name after the probe's workload
import v8 from 'node:v8';
import fs from 'node:fs';
const [kind, count] = process.argv.slice(2);
const n = Number(count);
const { Registry } = await import('/work/wt/hist/dist/src/metrics/registry.js');
const { SliceClock } = await import('/work/wt/hist/dist/src/metrics/slice-clock.js');
const { createLogger } = await import('/work/wt/hist/dist/src/logger.js');
const { mulberry32 } = await import('/work/wt/hist/dist/bench/prng.js');
const clock = new SliceClock(10000, 0);
const r = new Registry({ seriesLimit: n, clock, logger: createLogger({ level: 'silent' }) });
const h = r.histogram('http_request_duration', { labels: ['route', 'method', 'status'], buckets: [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000] });
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];
const STATUSES = ['200', '201', '204', '301', '400', '401', '404', '409', '500', '503'];
const routes = Array.from({ length: Math.ceil(n / 50) }, (_, i) => `/api/v1/x/${i}/details`);
const labelsAt = (i) => ({ route: routes[Math.floor(i / 50)], method: METHODS[i % 5], status: STATUSES[Math.floor(i / 5) % 10] });
globalThis.keep = r;
if (kind === '1rps') {
  const random = mulberry32(42);
  const lognormal = () => 50 * Math.exp(Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random()));
  for (let second = 0; second < 300; second++) { clock.tick(second * 1000); for (let i = 0; i < n; i++) h.observe(labelsAt(i), lognormal()); }
} else for (let i = 0; i < n; i++) h.observe(labelsAt(i), 1 + (i % 977));
gc(); gc();
const file = v8.writeHeapSnapshot('/tmp/hist-snap.heapsnapshot');
const snap = JSON.parse(fs.readFileSync(file, 'utf8'));
const f = snap.snapshot.meta.node_fields; const types = snap.snapshot.meta.node_types[0];
const ti = f.indexOf('type'), ni = f.indexOf('name'), si = f.indexOf('self_size');
const nodes = snap.nodes, strings = snap.strings, W = f.length;
const agg = new Map();
for (let i = 0; i < nodes.length; i += W) {
  const t = types[nodes[i + ti]]; let name = strings[nodes[i + ni]];
  if (t === 'string' || t === 'concatenated string') name = '(string)';
  if (t === 'code' || t === 'closure') name = '(' + t + ')';
  const k = t + ':' + name.slice(0, 40);
  const a = agg.get(k) ?? [0, 0]; a[0] += nodes[i + si]; a[1]++; agg.set(k, a);
}
const rows = [...agg].sort((a, b) => b[1][0] - a[1][0]).slice(0, 25);
for (const [k, [bytes, cnt]] of rows) console.log(`${(bytes / n).toFixed(1).padStart(8)} B/series ${String(cnt).padStart(8)} objs  ${k}`);
fs.unlinkSync(file);
