/**
 * Issue 14, item 7 (limits): help at most 1,024 characters, a unit a name fragment of at most 64,
 * a series key (label values) at most 1,000 UTF-8 bytes, at most 100,000 updates per batch, and
 * an invalid batch that costs no more than a valid one (a cast batch refuses at most 100 bad
 * updates one by one, then drops the rest, counted). Each limit refuses with its code and a
 * message naming the metric, the size and the limit, and changes nothing.
 */
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  COLLECTOR_NAME,
  type CollectorConfig,
  type CollectorProtocol,
  collector,
  MAX_BATCH_REFUSALS,
  MAX_BATCH_UPDATES,
  REJECTED_METRIC,
} from '../../actors/collector.js';
import { ErrorCode, MonitorError } from '../../src/errors.js';
import { MAX_HELP_LENGTH, MAX_SERIES_KEY_BYTES, MAX_UNIT_LENGTH } from '../../src/metrics/metric.js';
import { Registry } from '../../src/metrics/registry.js';
import { restoreTable } from '../../src/store/table-store.js';
import { renderExposition } from '../../src/exposition/negotiate.js';
import { OtpSystem, type Pid, startServer } from '../../src/otp/index.js';
import { MetricStore } from '../../src/store/lmdb-store.js';
import { memoryLogger } from '../helpers.js';
import { onCleanup, runCleanups, tempDir } from './tree-fixture.js';

afterEach(runCleanups);

const figures: string[] = [];
afterAll(() => {
  if (figures.length > 0) console.info(`limits: ${figures.join('; ')}`);
});

const QUIET: CollectorConfig = {
  metrics_enabled: false,
  collection_interval: 600_000,
  aggregation_interval: 600_000,
  retention_period: 86_400_000,
};

function refusal(fn: () => unknown): MonitorError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(MonitorError);
    return err as MonitorError;
  }
  throw new Error('expected a refusal');
}

async function collectorWorld() {
  const logger = memoryLogger();
  const system = new OtpSystem({ logger });
  onCleanup(() => system.close());
  const registry = new Registry({ logger });
  const store = MetricStore.open({ dataDir: path.join(tempDir(), 'lmdb') });
  onCleanup(() => store.close());
  const pid: Pid<CollectorProtocol> = await startServer(
    system,
    collector,
    { registry, store, config: QUIET, sources: () => [] },
    { name: COLLECTOR_NAME },
  );
  onCleanup(async () => {
    await pid.stop();
  });
  let exited = false;
  void pid.exited.then(() => (exited = true));
  return { pid, registry, store, logger, exited: () => exited };
}

describe('limits on what a metric declaration carries', () => {
  it(`help: up to ${MAX_HELP_LENGTH} characters; longer is EMON_INVALID_OPTION naming the metric and both sizes`, () => {
    const registry = new Registry({ logger: memoryLogger() });
    expect(registry.counter('help_ok_total', { help: 'h'.repeat(MAX_HELP_LENGTH) }).help).toHaveLength(MAX_HELP_LENGTH);
    for (const length of [MAX_HELP_LENGTH + 1, 100 * 1024]) {
      const err = refusal(() => registry.gauge('help_big', { help: 'h'.repeat(length) }));
      expect(err.code).toBe(ErrorCode.InvalidOption);
      expect(err.message).toBe(`metric "help_big": help is ${length} characters long (at most ${MAX_HELP_LENGTH})`);
      expect(registry.get('help_big')).toBeUndefined();
    }
    // A re-declaration is checked too (it used to be ignored silently).
    expect(refusal(() => registry.counter('help_ok_total', { help: 'h'.repeat(MAX_HELP_LENGTH + 1) })).code).toBe(
      ErrorCode.InvalidOption,
    );
  });

  it(`unit: a name fragment of up to ${MAX_UNIT_LENGTH} characters; a 1 MB unit is refused without being echoed`, async () => {
    const registry = new Registry({ logger: memoryLogger() });
    ['ms', 'bytes', 'req/s', 'percent', 'u'.repeat(MAX_UNIT_LENGTH)].forEach((unit, i) =>
      registry.gauge(`unit_ok_${i}`, { unit }).set(1),
    );
    const cases: [string, string][] = [
      ['u'.repeat(MAX_UNIT_LENGTH + 1), `(${MAX_UNIT_LENGTH + 1} characters)`],
      ['u'.repeat(1024 * 1024), '(1048576 characters)'],
      ['milli seconds', '"milli seconds"'],
      ['%', '"%"'],
      ['µs', '"µs"'],
      ['2xx', '"2xx"'],
      ['a{b="c"}', '"a{b=\\"c\\"}"'],
    ];
    for (const [unit, shown] of cases) {
      const err = refusal(() => registry.histogram('unit_bad', { unit }));
      expect(err.code).toBe(ErrorCode.InvalidOption);
      expect(err.message).toContain(`metric "unit_bad": invalid unit `);
      expect(err.message).toContain(shown);
      expect(err.message).toContain(`at most ${MAX_UNIT_LENGTH} characters`);
      expect(err.message.length).toBeLessThan(400);
      expect(registry.get('unit_bad')).toBeUndefined();
    }
    const text = (await renderExposition(registry, undefined)).body;
    expect(text).toContain('unit_ok_2_req_s');
    expect(text.length).toBeLessThan(10_000);
  });

  it(`label values: a series key over ${MAX_SERIES_KEY_BYTES} UTF-8 bytes is EMON_INVALID_LABELS; no series is created`, () => {
    const registry = new Registry({ logger: memoryLogger() });
    const c = registry.counter('labelled_total', { labels: ['path'] });
    c.inc({ path: 'p'.repeat(900) });
    const err = refusal(() => c.inc({ path: 'é'.repeat(600) }));
    expect(err.code).toBe(ErrorCode.InvalidLabels);
    expect(err.message).toMatch(
      /^metric "labelled_total": label values too long: the series key would be \d+ bytes \(at most 1000\)$/,
    );
    expect(c.series()).toHaveLength(1);
  });

  it('a help stored before the limit is clipped on restore, and the series keeps its value', async () => {
    const dir = tempDir();
    const store = MetricStore.open({ dataDir: dir });
    const id = store.defineSeries('old_total', { name: 'old_total', type: 'counter', help: 'x'.repeat(5000) });
    await store.flush({ current: [[id, { v: 41 }]] });
    const registry = new Registry({ logger: memoryLogger() });
    expect(restoreTable(registry, store, memoryLogger())).toEqual({ restored: 1, skipped: 0 });
    await store.close();
    expect(registry.getMetric('old_total')).toMatchObject({ value: 41, help: 'x'.repeat(MAX_HELP_LENGTH) });
  });
});

describe('limits on batches of updates', () => {
  it(`a batch holds at most ${MAX_BATCH_UPDATES.toLocaleString('en')} updates: more is EMON_LIMIT_EXCEEDED and none is applied`, async () => {
    const w = await collectorWorld();
    const counter = w.registry.counter('batch_total');
    const update = { type: 'increment', name: 'batch_total' } as const;
    const tooMany = new Array(MAX_BATCH_UPDATES + 1).fill(update);
    const err = await w.pid.call({ type: 'apply', updates: tooMany }).catch((e: unknown) => e as MonitorError);
    expect(err).toMatchObject({
      code: ErrorCode.LimitExceeded,
      message: `apply: ${MAX_BATCH_UPDATES + 1} updates in one message (at most ${MAX_BATCH_UPDATES}); none applied: send them in smaller batches`,
    });
    w.pid.cast({ type: 'batch', updates: tooMany });
    expect((await w.pid.call({ type: 'stats' })).rejectedUpdates).toBe(MAX_BATCH_UPDATES + 1);
    expect(counter.get() ?? 0).toBe(0);
    expect(w.registry.counter(REJECTED_METRIC, { labels: ['code'] }).get({ code: ErrorCode.LimitExceeded })).toBe(
      MAX_BATCH_UPDATES + 1,
    );
    // Exactly the limit is taken, by call and by cast.
    const full = new Array(MAX_BATCH_UPDATES).fill(update);
    expect(await w.pid.call({ type: 'apply', updates: full })).toEqual({ applied: MAX_BATCH_UPDATES });
    w.pid.cast({ type: 'batch', updates: full });
    await w.pid.call({ type: 'stats' });
    expect(counter.get()).toBe(2 * MAX_BATCH_UPDATES);
    expect(w.exited()).toBe(false);
  });

  it(`a cast batch refuses ${MAX_BATCH_REFUSALS} bad updates one by one, then drops the rest, counted`, async () => {
    const w = await collectorWorld();
    const good = w.registry.counter('good_total');
    // 150 bad updates, each followed by a good one: the first 100 bad ones are refused one by one.
    const updates = Array.from({ length: 300 }, (_, i) =>
      i % 2 === 0 ? { type: 'set', name: 'good_total', value: 1 } : { type: 'increment', name: 'good_total' },
    );
    w.pid.cast({ type: 'batch', updates: updates as never });
    const stats = await w.pid.call({ type: 'stats' });
    // updates[198] is the 100th bad one (a set on a counter); the 99 good ones between are applied, updates[199..299] are not.
    expect(good.get()).toBe(99);
    expect(stats.rejectedUpdates).toBe(100 + 101);
    const byCode = Object.fromEntries(
      w.registry
        .counter(REJECTED_METRIC, { labels: ['code'] })
        .series()
        .map((s) => [s.labels.code, s.value]),
    );
    expect(byCode).toEqual({ [ErrorCode.MetricConflict]: 100, [ErrorCode.LimitExceeded]: 101 });
    const lines = w.logger.records
      .filter((r) => r.msg === 'metric update refused')
      .map((r) => (r.fields.err as Error).message);
    expect(lines).toContain(
      `batch: 100 of its first 199 updates were refused (at most ${MAX_BATCH_REFUSALS} per batch); the other 101 were not applied`,
    );
  });

  it('1,000,000 invalid updates block the event loop no longer than 1,000,000 valid ones', async () => {
    const w = await collectorWorld();
    const valid = w.registry.counter('loop_total');
    const VALID = { type: 'increment', name: 'loop_total' } as const;
    const INVALID = { type: 'increment', name: 'loop_nope_total' } as const;
    const slices = MAX_BATCH_UPDATES;
    const batches = (update: object) =>
      Array.from({ length: 1_000_000 / slices }, () => new Array(slices).fill(update));
    const runs = {
      'valid, 10 x 100,000': batches(VALID),
      'invalid, 10 x 100,000': batches(INVALID),
      'invalid, 1 x 1,000,000': [new Array(1_000_000).fill(INVALID)],
    };
    type Run = keyof typeof runs;
    const best = new Map<Run, { maxMs: number; cpuMs: number; heapMB: number }>();
    // Alternating rounds; the least disturbed (smallest) block of each kind counts, as a preemption
    // by another process on this shared machine lengthens a block by chance, never shortens it.
    for (let round = 0; round < 3; round++) {
      for (const [run, casts] of Object.entries(runs) as [Run, unknown[][]][]) {
        const histogram = monitorEventLoopDelay({ resolution: 1 });
        const cpu0 = process.cpuUsage();
        histogram.enable();
        for (const updates of casts) w.pid.cast({ type: 'batch', updates: updates as never });
        await w.pid.call({ type: 'stats' }, 60_000);
        const heapMB = process.memoryUsage().heapUsed / 1e6;
        // Lets the delay sampler fire once more, so the block that just ended is recorded.
        await sleep(5);
        histogram.disable();
        const used = process.cpuUsage(cpu0);
        const sample = { maxMs: histogram.max / 1e6, cpuMs: (used.user + used.system) / 1000, heapMB };
        const prev = best.get(run);
        best.set(
          run,
          prev === undefined
            ? sample
            : {
                maxMs: Math.min(prev.maxMs, sample.maxMs),
                cpuMs: Math.min(prev.cpuMs, sample.cpuMs),
                heapMB: Math.max(prev.heapMB, sample.heapMB),
              },
        );
      }
    }
    for (const [run, s] of best)
      figures.push(
        `${run}: longest block ${s.maxMs.toFixed(1)} ms, CPU ${s.cpuMs.toFixed(0)} ms, heap ${s.heapMB.toFixed(0)} MB`,
      );
    expect(valid.get()).toBe(3 * 1_000_000);
    const stats = await w.pid.call({ type: 'stats' });
    expect(stats.rejectedUpdates).toBe(3 * 2 * 1_000_000);
    const v = best.get('valid, 10 x 100,000')!;
    for (const run of ['invalid, 10 x 100,000', 'invalid, 1 x 1,000,000'] as const) {
      // Generous: an invalid batch used to cost ~60x a valid one (6.1 s against 91 ms).
      expect(best.get(run)!.maxMs, run).toBeLessThanOrEqual(v.maxMs * 1.5 + 25);
      expect(best.get(run)!.cpuMs, run).toBeLessThanOrEqual(v.cpuMs * 1.5 + 25);
    }
    expect(w.exited()).toBe(false);
  });
});
