const n = 10000;
const { Registry } = await import('/work/wt/hist/dist/src/metrics/registry.js');
const { SliceClock } = await import('/work/wt/hist/dist/src/metrics/slice-clock.js');
const { createLogger } = await import('/work/wt/hist/dist/src/logger.js');
const { mulberry32 } = await import('/work/wt/hist/dist/bench/prng.js');
const clock = new SliceClock(10000, 0);
const r = new Registry({ seriesLimit: n, clock, logger: createLogger({ level: 'silent' }) });
const h = r.histogram('d', { labels: ['i'], buckets: [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000] });
const random = mulberry32(42);
const lognormal = () => 50 * Math.exp(Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random()));
for (let second = 0; second < 300; second++) { clock.tick(second * 1000); for (let i = 0; i < n; i++) h.observe({ i }, lognormal()); }
let sk = 0, win = 0, winCount = 0;
for (const s of h.series()) { sk += s.sketch.byteLength; win += s.window.byteLength; winCount += s.window.count(300000); }
console.log({ allTimeSketchData: sk / n, windowData: win / n, windowKeys: winCount / n });
