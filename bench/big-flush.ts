/**
 * One flush of N changed series (default 100,000; `1000000` for a million), two rounds: the
 * store's main-thread total and longest block (`FlushResult.syncMs`, `longestBlockMs`), the event
 * loop's longest delay while it runs (monitorEventLoopDelay), the time until the commit is durable
 * and the process CPU (both threads) until then, and the size of data.mdb. Run from the sources:
 * `node --import ./test/ts-worker-hooks.mjs bench/big-flush.ts 100000`.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { MetricStore } from '../src/store/lmdb-store.js';

const n = Number(process.argv[2] ?? 100000);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bigflush-'));
const store = MetricStore.open({ dataDir: path.join(dir, 's') });
const t0 = performance.now();
const ids: number[] = [];
for (let i = 0; i < n; i++) {
  ids.push(store.defineSeries(`c${i}`, { name: 'c', type: 'counter', labels: { i: String(i) } }));
  if (i % 5000 === 0) await new Promise((r) => setImmediate(r));
}
await store.flush({});
const defMs = performance.now() - t0;
const size0 = fs.statSync(path.join(dir, 's', 'data.mdb')).size;
for (let round = 0; round < 2; round++) {
  const ts = 1_700_000_000_000 + round * 5000;
  const batch = {
    current: ids.map((id) => [id, { v: round }] as const),
    points: ids.map((id) => ({ id, ts, value: round + id })),
  };
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  const r = await store.flush(batch);
  const durable = performance.now() - start;
  const cpu = process.cpuUsage(cpu0);
  h.disable();
  const size = fs.statSync(path.join(dir, 's', 'data.mdb')).size;
  console.log(
    JSON.stringify({
      n,
      round,
      defineMs: Math.round(defMs),
      syncMs: +r.syncMs.toFixed(1),
      longestBlockMs: +r.longestBlockMs.toFixed(1),
      loopDelayMaxMs: +(h.max / 1e6).toFixed(1),
      durableMs: Math.round(durable),
      cpuMs: Math.round((cpu.user + cpu.system) / 1000),
      fileMB: +(size / 1048576).toFixed(1),
      fileBeforeMB: +(size0 / 1048576).toFixed(1),
    }),
  );
}
await store.close();
fs.rmSync(dir, { recursive: true, force: true });
