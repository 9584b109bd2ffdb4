/**
 * The message API: cast throughput (single messages, and batches of 1,000 updates per message) and
 * call round-trip latency (p50/p99), first through a minimal gen_server (the OTP layer's own cost),
 * then through the real collector (`erlmcp_metrics_collector`, whose casts apply metric updates
 * to the table), next to a bare nact mailbox (the layer's `Runtime`, nothing else) as baseline.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { collector, type CollectorProtocol, type MetricUpdate } from '../actors/collector.js';
import { type Behaviour, OtpSystem, type Pid, type Protocol, startServer } from '../src/otp/index.js';
import { Runtime } from '../src/otp/runtime.js';
import { createLogger } from '../src/logger.js';
import { Registry } from '../src/metrics/registry.js';
import { MetricStore } from '../src/store/lmdb-store.js';
import { type BenchRow, type Check, type SuiteOptions, type SuiteResult, runTasks } from './harness.js';

const MESSAGES = 10_000;
const BATCH = 1_000;

interface CounterProtocol extends Protocol {
  call: { type: 'get' };
  replies: { get: number };
  cast: { type: 'inc' } | { type: 'batch'; updates: number[] };
  info: never;
}

const counter: Behaviour<{ n: number }, CounterProtocol> = {
  name: 'bench-counter',
  messages: { call: { get: {} }, cast: { inc: {}, batch: { updates: 'required' } }, info: {} },
  init: () => ({ n: 0 }),
  handleCall: (_m, state) => ({ reply: state.n, state }),
  handleCast(msg, state) {
    if (msg.type === 'inc') state.n++;
    else for (let i = 0; i < msg.updates.length; i++) state.n += msg.updates[i]!;
    return { state };
  },
};

type RawMsg = { type: 'inc' } | { type: 'drain'; done: () => void };

/** SPEC §10: batched updates through the message API, per second (erlmcp publishes 553k msg/s). */
export const BATCHED_TARGET = 1_000_000;
const BATCHED_ROW = 'collector: cast, 1,000 updates per message (updates/s)';

/** The real collector, with its timed loops slowed to once a minute so they stay out of the figures. */
async function collectorRows(system: OtpSystem, time: number): Promise<BenchRow[]> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'erlmcp-bench-'));
  const store = MetricStore.open({ dataDir: dir });
  const registry = new Registry({ logger: createLogger({ level: 'silent' }) });
  registry.counter('bench.requests', { labels: ['route'] });
  const pid: Pid<CollectorProtocol> = await startServer(system, collector, {
    registry,
    store,
    sources: () => [],
    config: {
      metrics_enabled: true,
      collection_interval: 60_000,
      aggregation_interval: 60_000,
      retention_period: 3_600_000,
    },
  });
  const one: MetricUpdate = { type: 'increment', name: 'bench.requests', labels: { route: '/a' } };
  const updates: MetricUpdate[] = Array.from({ length: BATCH }, (_, i) => ({
    type: 'increment',
    name: 'bench.requests',
    labels: { route: `/r${i % 10}` },
  }));
  try {
    return await runTasks(
      [
        {
          name: 'collector: cast, one update per message',
          perIteration: MESSAGES,
          fn: async () => {
            for (let i = 0; i < MESSAGES; i++) pid.cast(one);
            await pid.call({ type: 'stats' });
          },
        },
        {
          name: BATCHED_ROW,
          perIteration: MESSAGES * 10,
          fn: async () => {
            for (let i = 0; i < MESSAGES / 100; i++) pid.cast({ type: 'batch', updates });
            await pid.call({ type: 'stats' });
          },
        },
        {
          name: 'collector: call apply, 1,000 updates (updates/s)',
          perIteration: BATCH,
          fn: () => pid.call({ type: 'apply', updates }),
        },
        {
          name: 'collector: call round trip (get_metric)',
          fn: () => pid.call({ type: 'get_metric', name: 'bench.requests', labels: { route: '/a' } }),
        },
      ],
      { time },
    );
  } finally {
    await pid.stop();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The message-API suite: the OTP layer alone, then the collector, next to a bare nact mailbox. */
export async function messageApiSuite(options: SuiteOptions): Promise<SuiteResult> {
  const time = options.quick ? 300 : 1000;
  const system = new OtpSystem({ logger: createLogger({ level: 'silent' }) });
  const runtime = new Runtime();
  let raw = 0;
  const rawBox = runtime.spawn<RawMsg>('raw', (m) => {
    if (m.type === 'inc') raw++;
    else m.done();
  });
  const pid: Pid<CounterProtocol> = await startServer(system, counter, undefined);
  const batch = new Array<number>(BATCH).fill(1);

  const rows = await runTasks(
    [
      {
        name: 'bare nact dispatch (baseline)',
        perIteration: MESSAGES,
        fn: () => {
          for (let i = 0; i < MESSAGES; i++) rawBox.post({ type: 'inc' });
          return new Promise<void>((done) => rawBox.post({ type: 'drain', done }));
        },
      },
      {
        name: 'cast, one update per message',
        perIteration: MESSAGES,
        fn: async () => {
          for (let i = 0; i < MESSAGES; i++) pid.cast({ type: 'inc' });
          await pid.call({ type: 'get' });
        },
      },
      {
        name: 'cast, 1,000 updates per message (updates/s)',
        perIteration: MESSAGES * 10,
        fn: async () => {
          for (let i = 0; i < MESSAGES / 100; i++) pid.cast({ type: 'batch', updates: batch });
          await pid.call({ type: 'get' });
        },
      },
      {
        name: 'call round trip',
        fn: () => pid.call({ type: 'get' }),
      },
    ],
    { time },
  );
  await pid.stop();
  rows.push(...(await collectorRows(system, time)));
  runtime.stop();
  system.close();
  void raw;
  const batched = rows.find((r) => r.name === BATCHED_ROW)?.opsMedian ?? Number.NaN;
  const checks: Check[] = [
    {
      name: 'batched message API, updates/s (collector)',
      measured: batched / 1e6,
      target: BATCHED_TARGET / 1e6,
      better: 'higher',
      margin: 0.1,
      unit: ' M/s',
    },
  ];
  return {
    suite: 'Message API (bench/otp.bench.ts)',
    rows,
    notes: [
      "Rates are messages/s (updates/s where the row says so); call rows are round trips/s, with the round trip's p50/p99. " +
        'Cast rows end with one call, so every cast counted has been handled. "collector" rows go through erlmcp_metrics_collector and update the metric table.',
    ],
    checks,
  };
}
