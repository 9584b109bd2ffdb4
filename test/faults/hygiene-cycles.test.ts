/**
 * Issue 9, item 7 (resource hygiene), repeated: the tree started and stopped 100 times in one
 * process on one data directory (dashboard enabled, a feed client connected in every third
 * cycle, a few metrics written each time) does not grow the heap, the active handles or the open
 * file descriptors, and the counters carry on from their persisted values across every restart.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { type Logger, startMonitoring } from '../../src/index.js';
import type { ServerMsg } from '../../src/server/protocol.js';
import { activeResources, leakedAfterSettling, type LogRecord, until } from '../helpers.js';
import { fdsUnder, HAS_PROC_FD, heapAfterGc, openFds } from './hygiene-fixture.js';
import { FAST_CONFIG, runCleanups, tempDir } from './tree-fixture.js';

afterEach(runCleanups);

const CYCLES = 100;
const BASELINE_CYCLE = 10;
/** Sampled too, to tell steady growth (a leak) from warm-up (which levels off). */
const MIDDLE_CYCLE = 55;
/** Allowed heap growth between cycle 10 and cycle 100, after a full GC. */
const HEAP_BOUND = 5 * 1024 * 1024;

/** Keeps warnings and errors only (100 cycles of info lines would grow the heap being measured). */
function problemsLogger(): Logger & { problems: LogRecord[] } {
  const problems: LogRecord[] = [];
  const keep = (level: 'warn' | 'error') => (fields: object, msg: string) =>
    problems.push({ level, msg, fields: fields as Record<string, unknown> });
  return { problems, debug: () => undefined, info: () => undefined, warn: keep('warn'), error: keep('error') };
}

/** Connects to the feed and waits for its first frame; resolves with a closer. */
async function feedUntilFrame(url: string): Promise<{ closed: Promise<number> }> {
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/ws`, { perMessageDeflate: false });
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  let frames = 0;
  ws.on('message', (data) => {
    if ((JSON.parse(data.toString()) as ServerMsg).type === 'frame') frames++;
  });
  await until(() => expect(frames).toBeGreaterThan(0));
  return { closed };
}

interface Sample {
  heap: number;
  fds: number;
}

describe.skipIf(!HAS_PROC_FD)('100 start/stop cycles (needs /proc/self/fd: Linux)', () => {
  it(
    'do not grow heap, handles or descriptors; counters continue from LMDB every time',
    { timeout: 120_000 },
    async () => {
      const dataDir = tempDir();
      const logger = problemsLogger();
      const resources = activeResources();
      const samples = new Map<number, Sample>();
      const cycleMs: number[] = [];

      for (let cycle = 1; cycle <= CYCLES; cycle++) {
        const started = performance.now();
        const mon = await startMonitoring({ env: {}, logger, dataDir, config: FAST_CONFIG }); // process metrics on, as by default
        const runs = mon.metrics.counter('cycles_total', { help: 'one per start' });
        // Restored from the last stop's flush: every earlier cycle is counted.
        expect(mon.metrics.getMetric('cycles_total')?.value ?? 0).toBe(cycle - 1);
        runs.inc();
        mon.metrics.gauge('cycle', { help: 'the current cycle' }).set(cycle);
        mon.metrics.histogram('cycle_ms', { help: 'cycle time' }).observe(cycle % 17);
        let feed: { closed: Promise<number> } | undefined;
        if (cycle % 3 === 0) feed = await feedUntilFrame((await mon.dashboardAddress()).url);
        await mon.stop();
        if (feed !== undefined) expect(await feed.closed).toBe(1001);
        cycleMs.push(performance.now() - started);

        if (cycle === BASELINE_CYCLE || cycle === MIDDLE_CYCLE || cycle === CYCLES) {
          expect(await leakedAfterSettling(resources)).toEqual([]);
          expect(fdsUnder(dataDir)).toEqual([]);
          samples.set(cycle, { heap: heapAfterGc(), fds: openFds().length });
        }
      }

      const base = samples.get(BASELINE_CYCLE)!;
      const middle = samples.get(MIDDLE_CYCLE)!;
      const last = samples.get(CYCLES)!;
      const sorted = [...cycleMs].sort((a, b) => a - b);
      console.info(
        `hygiene: heap after GC at cycle ${BASELINE_CYCLE} ${(base.heap / 1048576).toFixed(2)} MB, at ${MIDDLE_CYCLE} ${(middle.heap / 1048576).toFixed(2)} MB, at ${CYCLES} ${(last.heap / 1048576).toFixed(2)} MB ` +
          `(growth ${((last.heap - base.heap) / 1048576).toFixed(2)} MB); fds ${base.fds} -> ${middle.fds} -> ${last.fds}; ` +
          `cycle ms median ${sorted[CYCLES >> 1]!.toFixed(0)}, max ${sorted[CYCLES - 1]!.toFixed(0)}, total ${(cycleMs.reduce((a, b) => a + b, 0) / 1000).toFixed(1)} s`,
      );
      expect(last.heap - base.heap).toBeLessThan(HEAP_BOUND);
      expect(middle.fds).toBe(base.fds);
      expect(last.fds).toBe(base.fds);
      expect(logger.problems.filter((r) => r.level === 'error')).toEqual([]);
    },
  );
});
