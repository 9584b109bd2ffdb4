const dir = process.argv[2];
const { Registry } = await import(dir + '/src/metrics/registry.js');
const { SliceClock } = await import(dir + '/src/metrics/slice-clock.js');
const { createLogger } = await import(dir + '/src/logger.js');
const r = new Registry({ clock: new SliceClock(10000, 0), logger: createLogger({ level: 'silent' }) });
const h = r.histogram('h', { labels: ['a'], buckets: [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000] });
const b = h.bind({ a: 'x' });
const vals = Float64Array.from({ length: 1024 }, (_, i) => 1 + (i * 37) % 700);
for (let round = 0; round < 8; round++) {
  const N = 20_000_000; const t = process.hrtime.bigint();
  for (let i = 0; i < N; i++) b.observe(vals[i & 1023]);
  const ns = Number(process.hrtime.bigint() - t) / N;
  if (round >= 3) console.log(dir.slice(-12), 'bound ns/op', ns.toFixed(2));
}
