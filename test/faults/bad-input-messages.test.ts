/**
 * Bad input to the message API, tried systematically (issue 9, item 4): the collector's calls and
 * casts, the performance monitor's and alerting's calls and casts, and the alerting client's
 * methods, with arbitrary values, wrong or missing `type`, missing and extra fields, fields of the
 * wrong type, and huge batches. A bad call rejects with a MonitorError naming the message type or
 * field (never a timeout); a bad cast is dropped with at most one log line; the process is never
 * restarted and its state does not change (a refused cast only counts itself in
 * `monitor.updates_rejected`).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ALERTING_NAME } from '../../actors/alerting.js';
import {
  COLLECTOR_NAME,
  type CollectorConfig,
  type CollectorProtocol,
  collector,
  REJECTED_METRIC,
} from '../../actors/collector.js';
import { PERFORMANCE_MONITOR_NAME } from '../../actors/performance-monitor.js';
import { describeValue, ErrorCode } from '../../src/errors.js';
import { Registry } from '../../src/metrics/registry.js';
import { OtpSystem, type Pid, startServer } from '../../src/otp/index.js';
import { HTTP_METRICS, instrumentHttp } from '../../src/sources/http-instrument.js';
import { MetricStore } from '../../src/store/lmdb-store.js';
import { memoryLogger, until } from '../helpers.js';
import {
  badIncrement,
  badMetricName,
  exoticValue,
  expectRejection,
  notFinite,
  PROTOTYPE_KEYS,
  SEED,
  TrialCounter,
} from './bad-input-fixture.js';
import { onCleanup, runCleanups, startTree, tempDir } from './tree-fixture.js';

afterEach(runCleanups);

const trials = new TrialCounter();
afterAll(() => {
  console.info(`bad-input-messages inputs tried: ${trials.summary()}`);
});

const RUNS = 300;
const CALL_TIMEOUT = 5000;

// The tests below send what the protocol types forbid: the messages are cast with `as any`.

/** Any value at all, including shapes JSON cannot carry. */
const anyValue = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.anything({ maxDepth: 2, withBigInt: true, withNullPrototype: true, withMap: true, withSet: true }),
  exoticValue,
);
/** Not an object: what a message can never be. */
const notAnObject = fc.oneof(
  fc.constant(null),
  fc.constant(undefined),
  fc.integer(),
  fc.string({ maxLength: 8 }),
  fc.boolean(),
  fc.bigInt(),
  fc.array(anyValue, { maxLength: 3 }),
  fc.constant(Symbol('msg')),
);
/** An own-key name that no message has, prototype names among them. */
const strayKey = (allowed: readonly string[]) =>
  fc
    .oneof(
      fc.constantFrom(...PROTOTYPE_KEYS, 'Type', 'TYPE', 'nmae', 'value ', ''),
      fc.string({ minLength: 1, maxLength: 8 }),
    )
    .filter((k) => k !== 'type' && !allowed.includes(k));
/** `{ type, [key]: value }` with `key` an own property even when it is `__proto__`. */
function withKey(base: Record<string, unknown>, key: string, value: unknown): Record<string, unknown> {
  const out = { ...base };
  Object.defineProperty(out, key, { value, enumerable: true, configurable: true, writable: true });
  return out;
}

/** One malformed message and what its refusal must say. */
interface Bad {
  label: string;
  msg: unknown;
  code: ErrorCode;
  mentions: string[];
}

/** Malformed messages any actor must refuse: not an object, unknown type, a stray field. */
function shapeErrors(kind: string, fields: Record<string, readonly string[]>): fc.Arbitrary<Bad>[] {
  const types = Object.keys(fields);
  return [
    notAnObject.map((msg) => ({
      label: 'not an object',
      msg,
      code: ErrorCode.BadMessage,
      mentions: [`${kind} must be an object`, ...types],
    })),
    fc
      .oneof(anyValue, fc.constantFrom(...PROTOTYPE_KEYS, 'Flush', 'batch ', ''))
      .filter((t) => typeof t !== 'string' || !types.includes(t))
      .map((type) => ({
        label: 'unknown type',
        msg: withKey({}, 'type', type),
        code: ErrorCode.BadMessage,
        mentions: [`unknown ${kind} type ${describeValue(type)}`, ...types],
      })),
    fc.record({ name: fc.string() }).map((msg) => ({
      label: 'no type',
      msg,
      code: ErrorCode.BadMessage,
      mentions: [`unknown ${kind} type undefined`],
    })),
    fc.constantFrom(...types).chain((type) =>
      fc.tuple(strayKey(fields[type]!), anyValue).map(([key, value]) => ({
        label: 'stray field',
        msg: withKey({ type }, key, value),
        code: ErrorCode.BadMessage,
        mentions: [`${kind} ${type}: unknown field ${describeValue(key)}`],
      })),
    ),
  ];
}

// ------------------------------------------------------------------------------ the collector

const LONG: CollectorConfig = {
  metrics_enabled: true,
  collection_interval: 600_000,
  aggregation_interval: 600_000,
  retention_period: 86_400_000,
};

interface CollectorWorld {
  pid: Pid<CollectorProtocol>;
  registry: Registry;
  logger: ReturnType<typeof memoryLogger>;
  /** Whether the process exited (a crash, since nothing stops it during a test). */
  exited: () => boolean;
}

async function collectorWorld(prepare?: (registry: Registry) => void): Promise<CollectorWorld> {
  const logger = memoryLogger();
  const system = new OtpSystem({ logger });
  onCleanup(() => system.close());
  const registry = new Registry({ logger });
  registry.counter('req.total').inc(2);
  registry.counter('http_requests', { labels: ['method'] }).inc({ method: 'GET' });
  registry.gauge('temp').set(21.5);
  registry.histogram('latency', { labels: ['route'], buckets: [1, 10, 100] }).observe({ route: '/' }, 5);
  registry.counter('applied.total');
  registry.counter('suffix.total');
  prepare?.(registry);
  const store = MetricStore.open({ dataDir: path.join(tempDir(), 'lmdb') });
  onCleanup(() => store.close());
  const pid = await startServer(
    system,
    collector,
    { registry, store, config: LONG, sources: () => [] },
    { name: COLLECTOR_NAME },
  );
  onCleanup(async () => {
    await pid.stop();
  });
  let exited = false;
  void pid.exited.then(() => {
    exited = true;
  });
  return { pid, registry, logger, exited: () => exited };
}

/** The table except the counters a test changes on purpose. */
function tableState(registry: Registry): string {
  const skip = new Set([REJECTED_METRIC, 'applied.total']);
  return JSON.stringify(registry.collect().filter((m) => !skip.has(m.name)));
}

const appliedTotal = (registry: Registry) => registry.counter('applied.total').get() ?? 0;

/** A valid update: one more on `applied.total`. */
const GOOD_UPDATE = { type: 'increment', name: 'applied.total', value: 1 };

const UPDATE_FIELDS = {
  increment: ['name', 'labels', 'value'],
  set: ['name', 'labels', 'value'],
  observe: ['name', 'labels', 'value'],
} as const;

/** A metric update that must be refused, and its error. */
const badUpdate: fc.Arbitrary<Bad> = fc.oneof(
  ...shapeErrors('metric update', UPDATE_FIELDS),
  fc
    .tuple(
      fc.constantFrom('increment', 'set', 'observe'),
      fc.oneof(badMetricName, fc.stringMatching(/^nope_[a-z]{1,6}$/)),
    )
    .map(([type, name]) => ({
      label: 'unknown metric',
      msg: { type, name, value: 1 },
      code: ErrorCode.UnknownMetric,
      mentions: ['unknown metric'],
    })),
  badIncrement
    .filter((v) => v !== undefined)
    .map((value) => ({
      label: 'bad increment',
      msg: { type: 'increment', name: 'req.total', value },
      code: ErrorCode.InvalidValue,
      mentions: ['"req.total"', describeValue(value)],
    })),
  notFinite.map((value) => ({
    label: 'bad gauge value',
    msg: { type: 'set', name: 'temp', value },
    code: ErrorCode.InvalidValue,
    mentions: ['"temp"', describeValue(value)],
  })),
  notFinite.map((value) => ({
    label: 'bad observation',
    msg: { type: 'observe', name: 'latency', labels: { route: '/' }, value },
    code: ErrorCode.InvalidValue,
    mentions: ['"latency"'],
  })),
  fc.constantFrom(['set', 'req.total'], ['observe', 'temp'], ['increment', 'latency']).map(([type, name]) => ({
    label: 'wrong metric type',
    msg: { type, name, value: 1 },
    code: ErrorCode.MetricConflict,
    mentions: [`"${name}"`],
  })),
  fc
    .oneof(
      fc.constant({}),
      fc.constant({ method: 'GET', extra: 'x' }),
      fc.constant({ route: 'GET' }),
      fc.constantFrom(...PROTOTYPE_KEYS).map((k) => withKey({ method: 'GET' }, k, 'x')),
      fc.record({
        method: fc.oneof(fc.constant(null), fc.object({ maxDepth: 1 }), fc.constant(Number.NaN), exoticValue),
      }),
      fc.oneof(
        fc.string({ maxLength: 4 }),
        fc.bigInt(),
        fc.boolean(),
        fc.array(fc.string(), { maxLength: 2 }),
        fc.constant(null),
      ),
    )
    .map((labels) => ({
      label: 'bad labels',
      msg: { type: 'increment', name: 'http_requests', labels, value: 1 },
      code: ErrorCode.InvalidLabels,
      mentions: ['"http_requests"'],
    })),
);

const collectorCallFields = {
  register_metric: ['name', 'metricType', 'help', 'unit', 'labels', 'buckets'],
  get_metric: ['name', 'labels'],
  collect_metrics: [],
  apply: ['updates'],
  flush: [],
  stats: [],
} as const;

/** A call the collector must refuse, and the number of updates it applies before refusing. */
const badCollectorCall: fc.Arbitrary<Bad & { appliedBefore: number }> = fc
  .oneof(
    ...shapeErrors('call', collectorCallFields),
    badMetricName.map((name) => ({
      label: 'register_metric: bad name',
      msg: { type: 'register_metric', name, metricType: 'counter' },
      code: ErrorCode.InvalidName,
      mentions: [describeValue(name)],
    })),
    fc
      .oneof(anyValue, fc.constantFrom('Counter', 'summary', ''))
      .filter((t) => t !== 'counter' && t !== 'gauge' && t !== 'histogram')
      .map((metricType) => ({
        label: 'register_metric: bad metricType',
        msg: { type: 'register_metric', name: 'fresh', metricType },
        code: ErrorCode.InvalidOption,
        mentions: ['"fresh"', 'counter, gauge, histogram'],
      })),
    fc
      .oneof(fc.constant('method'), fc.constant(['__x']), fc.constant(['a', 'a']), fc.constant([1]), fc.constant(null))
      .map((labels) => ({
        label: 'register_metric: bad labels',
        msg: { type: 'register_metric', name: 'fresh', metricType: 'counter', labels },
        code: ErrorCode.InvalidName,
        mentions: ['"fresh"'],
      })),
    fc
      .constantFrom(['req.total', 'gauge'], ['temp', 'histogram'], ['latency', 'counter'])
      .map(([name, metricType]) => ({
        label: 'register_metric: conflict',
        msg: { type: 'register_metric', name, metricType },
        code: ErrorCode.MetricConflict,
        mentions: [`"${name}"`],
      })),
    fc
      .oneof(fc.constant([]), fc.constant([3, 2]), fc.constant([Number.NaN]), fc.constant('1,2'), fc.constant(null))
      .map((buckets) => ({
        label: 'register_metric: bad buckets',
        msg: { type: 'register_metric', name: 'fresh_h', metricType: 'histogram', buckets },
        code: ErrorCode.InvalidOption,
        mentions: ['"fresh_h"', 'buckets'],
      })),
    fc.oneof(fc.stringMatching(/^nope_[a-z]{1,6}$/), badMetricName).map((name) => ({
      label: 'get_metric: unknown',
      msg: { type: 'get_metric', name },
      code: ErrorCode.UnknownMetric,
      mentions: ['unknown metric'],
    })),
    fc.oneof(fc.constant({ route: '/' }), fc.constant('GET'), fc.constant([1])).map((labels) => ({
      label: 'get_metric: bad labels',
      msg: { type: 'get_metric', name: 'http_requests', labels },
      code: ErrorCode.InvalidLabels,
      mentions: ['"http_requests"'],
    })),
    notAnObject
      .filter((u) => !Array.isArray(u))
      .map((updates) => ({
        label: 'apply: updates not an array',
        msg: { type: 'apply', updates },
        code: ErrorCode.BadMessage,
        mentions: ['apply', 'updates must be an array'],
      })),
  )
  .map((b) => ({ ...b, appliedBefore: 0 }));

/** `apply` with valid updates before and after one bad one: the ones before stay applied. */
const badApply = fc.tuple(fc.nat({ max: 5 }), badUpdate, fc.nat({ max: 3 })).map(([before, bad, after]) => ({
  label: `apply: ${bad.label}`,
  msg: {
    type: 'apply',
    updates: [
      ...Array.from({ length: before }, () => GOOD_UPDATE),
      bad.msg,
      ...Array.from({ length: after }, () => ({ type: 'increment', name: 'suffix.total' })),
    ],
  },
  code: bad.code,
  mentions: [`apply: updates[${before}] (${before} applied before it)`, ...bad.mentions],
  appliedBefore: before,
}));

describe('the collector refuses malformed calls and casts and keeps serving', () => {
  it('rejects every malformed call with a MonitorError naming the type or field; no restart, no state change', async () => {
    const w = await collectorWorld();
    await fc.assert(
      fc.asyncProperty(fc.oneof(badCollectorCall, badApply), async (bad) => {
        trials.add(`collector call: ${bad.label}`);
        const before = tableState(w.registry);
        const applied = appliedTotal(w.registry);
        await expectRejection(w.pid.call(bad.msg as any, CALL_TIMEOUT), bad.code, bad.mentions);
        expect(w.exited()).toBe(false);
        expect((await w.pid.call({ type: 'stats' }, CALL_TIMEOUT)).rejectedUpdates).toBe(0);
        expect(tableState(w.registry)).toBe(before);
        expect(appliedTotal(w.registry)).toBe(applied + bad.appliedBefore);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('drops every malformed cast with at most one log line, applies the valid updates around it, and answers the next call', async () => {
    const w = await collectorWorld();
    const castItem = fc.oneof(
      { weight: 1, arbitrary: fc.constant({ msg: GOOD_UPDATE, bad: 0, good: 1 }) },
      { weight: 3, arbitrary: badUpdate.map((b) => ({ msg: b.msg, bad: 1, good: 0 })) },
      {
        weight: 2,
        arbitrary: fc
          .oneof(...shapeErrors('cast', { ...UPDATE_FIELDS, batch: ['updates'] }))
          .map((b) => ({ msg: b.msg, bad: 1, good: 0 })),
      },
      {
        weight: 2,
        arbitrary: fc
          .array(
            fc.oneof(
              badUpdate.map((b) => ({ u: b.msg, bad: 1 })),
              fc.constant({ u: GOOD_UPDATE, bad: 0 }),
            ),
            { maxLength: 8 },
          )
          .map((items) => ({
            msg: { type: 'batch', updates: items.map((i) => i.u) },
            bad: items.reduce((n, i) => n + i.bad, 0),
            good: items.reduce((n, i) => n + 1 - i.bad, 0),
          })),
      },
      {
        weight: 1,
        arbitrary: notAnObject
          .filter((u) => !Array.isArray(u))
          .map((updates) => ({ msg: { type: 'batch', updates }, bad: 1, good: 0 })),
      },
    );
    await fc.assert(
      fc.asyncProperty(fc.array(castItem, { minLength: 1, maxLength: 6 }), async (casts) => {
        trials.add('collector casts', casts.length);
        const before = tableState(w.registry);
        const applied = appliedTotal(w.registry);
        const stats0 = await w.pid.call({ type: 'stats' }, CALL_TIMEOUT);
        const lines0 = w.logger.records.length;
        for (const c of casts) w.pid.cast(c.msg as any);
        const stats1 = await w.pid.call({ type: 'stats' }, CALL_TIMEOUT);
        const bad = casts.reduce((n, c) => n + c.bad, 0);
        expect(w.exited()).toBe(false);
        expect(stats1.rejectedUpdates - stats0.rejectedUpdates).toBe(bad);
        expect(appliedTotal(w.registry)).toBe(applied + casts.reduce((n, c) => n + c.good, 0));
        expect(tableState(w.registry)).toBe(before);
        expect(w.logger.records.length - lines0).toBeLessThanOrEqual(bad);
      }),
      { seed: SEED, numRuns: RUNS },
    );
    const rejected = (await w.pid.call({ type: 'stats' }, CALL_TIMEOUT)).rejectedUpdates;
    // Every refusal is counted by code; only the first 20 distinct messages are logged.
    const counted = w.registry
      .counter(REJECTED_METRIC, { labels: ['code'] })
      .series()
      .reduce((n, s) => n + s.value, 0);
    expect(counted).toBe(rejected);
    expect(w.logger.records.filter((r) => r.msg === 'metric update refused').length).toBeLessThanOrEqual(20);
  });

  it('takes a huge batch (20,000 updates, half of them bad) in one message: 100 bad ones refused one by one, the rest unapplied', async () => {
    const w = await collectorWorld();
    const updates = Array.from({ length: 20_000 }, (_, i) =>
      i % 2 === 0 ? GOOD_UPDATE : { type: 'increment', name: `nope_${i}` },
    );
    trials.add('huge batch updates', updates.length);
    w.pid.cast({ type: 'batch', updates } as any);
    const stats = await w.pid.call({ type: 'stats' }, CALL_TIMEOUT);
    // The 100th bad update is updates[199]: the 100 good ones before it are applied, the 19,800 after it are not.
    expect(stats.rejectedUpdates).toBe(100 + 19_800);
    expect(appliedTotal(w.registry)).toBe(100);
    const byCode = Object.fromEntries(
      w.registry
        .counter(REJECTED_METRIC, { labels: ['code'] })
        .series()
        .map((s) => [s.labels.code, s.value]),
    );
    expect(byCode).toEqual({ [ErrorCode.UnknownMetric]: 100, [ErrorCode.LimitExceeded]: 19_800 });
    expect(w.logger.records.filter((r) => r.msg === 'metric update refused').length).toBe(20);
    await expectRejection(w.pid.call({ type: 'apply', updates } as any, CALL_TIMEOUT), ErrorCode.UnknownMetric, [
      'updates[1] (1 applied before it)',
      '"nope_1"',
    ]);
    expect(appliedTotal(w.registry)).toBe(101);
    expect(w.exited()).toBe(false);
  });

  it("refuses updates to instrument.http's names from casts, batches and apply calls, naming the owner; its own handles keep counting", async () => {
    const w = await collectorWorld();
    const server = http.createServer((_req, res) => res.end('ok'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    onCleanup(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const remove = instrumentHttp(w.registry, server, { name: 'app' });
    onCleanup(remove);
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    await (await fetch(url)).text();
    await until(() =>
      expect(
        w.registry.getMetric(HTTP_METRICS.requests, { server: 'app', method: 'GET', route: '', code: '200' })?.value,
      ).toBe(1),
    );
    const before = tableState(w.registry);

    const forged = {
      type: 'increment',
      name: HTTP_METRICS.requests,
      labels: { server: 'evil', method: 'GET', route: '', code: '200' },
      value: 1000,
    } as const;
    w.pid.cast(forged);
    w.pid.cast({ type: 'set', name: HTTP_METRICS.connections, labels: { server: 'app' }, value: -5 });
    w.pid.cast({
      type: 'observe',
      name: HTTP_METRICS.duration,
      labels: { server: 'app', method: 'GET', route: '' },
      value: 1,
    });
    w.pid.cast({ type: 'batch', updates: [GOOD_UPDATE, forged, GOOD_UPDATE] } as any);
    await expectRejection(w.pid.call({ type: 'apply', updates: [forged] }, CALL_TIMEOUT), ErrorCode.MetricConflict, [
      'updates[0] (0 applied before it)',
      `"${HTTP_METRICS.requests}" is owned by instrument.http`,
    ]);
    const stats = await w.pid.call({ type: 'stats' }, CALL_TIMEOUT);
    expect(stats.rejectedUpdates).toBe(4);
    const byCode = Object.fromEntries(
      w.registry
        .counter(REJECTED_METRIC, { labels: ['code'] })
        .series()
        .map((s) => [s.labels.code, s.value]),
    );
    expect(byCode).toEqual({ [ErrorCode.MetricConflict]: 4 });
    expect(
      w.logger.records.some(
        (r) =>
          r.msg === 'metric update refused' &&
          String((r.fields.err as Error | undefined)?.message).includes('owned by instrument.http'),
      ),
    ).toBe(true);
    // Nothing of instrument.http's changed (the good updates of the batch were applied).
    expect(tableState(w.registry)).toBe(before);
    expect(appliedTotal(w.registry)).toBe(2);

    await (await fetch(url)).text();
    await until(() =>
      expect(
        w.registry.getMetric(HTTP_METRICS.requests, { server: 'app', method: 'GET', route: '', code: '200' })?.value,
      ).toBe(2),
    );
    expect(w.exited()).toBe(false);
  });

  it("survives bad casts when the host took the rejection counter's name for a metric of its own", async () => {
    const w = await collectorWorld((registry) => registry.gauge(REJECTED_METRIC).set(7));
    w.pid.cast({ type: 'increment', name: 'nope' });
    w.pid.cast(null as any);
    const stats = await w.pid.call({ type: 'stats' }, CALL_TIMEOUT);
    expect(stats.rejectedUpdates).toBe(2);
    expect(w.exited()).toBe(false);
    expect(w.registry.gauge(REJECTED_METRIC).get()).toBe(7);
  });
});

// ------------------------------------------------- the performance monitor and alerting, in the tree

/** The tree with loops slow enough that nothing changes by itself during a property. */
async function quietTree() {
  const tree = await startTree({
    config: {
      monitoring: { collection_interval: 600_000, aggregation_interval: 600_000 },
      performance_monitor: { check_interval: 600_000 },
      alerting: { check_interval: 600_000 },
      dashboard: { dashboard_enabled: false },
    },
  });
  const pids = () => [COLLECTOR_NAME, PERFORMANCE_MONITOR_NAME, ALERTING_NAME].map((n) => tree.mon.system.whereis(n));
  const first = pids();
  expect(first.every((p) => p !== undefined)).toBe(true);
  return { ...tree, sameProcesses: () => pids().every((p, i) => p === first[i]) };
}

const perfCallFields = { report: [], check_slas: [], history: ['kind', 'from', 'to', 'limit'], check: [] } as const;

const badPerfCall: fc.Arbitrary<Bad> = fc.oneof(
  ...shapeErrors('call', perfCallFields),
  fc
    .oneof(anyValue, fc.constantFrom('reports', 'SLA', ''))
    .filter((k) => k !== 'report' && k !== 'sla')
    .map((kind) => ({
      label: 'history: bad kind',
      msg: { type: 'history', kind, from: 0, to: 1 },
      code: ErrorCode.InvalidQuery,
      mentions: ['history', 'kind'],
    })),
  fc
    .tuple(fc.oneof(anyValue, notFinite), fc.oneof(fc.integer(), anyValue))
    .filter(
      ([f, t]) =>
        !(typeof f === 'number' && typeof t === 'number' && Number.isFinite(f) && Number.isFinite(t) && f <= t),
    )
    .map(([from, to]) => ({
      label: 'history: bad range',
      msg: { type: 'history', kind: 'report', from, to },
      code: ErrorCode.InvalidQuery,
      mentions: ['history', 'range'],
    })),
  fc
    .oneof(
      fc.integer({ max: 0 }),
      fc.integer({ min: 1_000_000 }),
      fc.double({ min: 0.1, max: 0.9 }),
      fc.constant('5'),
      fc.constant(Number.NaN),
    )
    .map((limit) => ({
      label: 'history: bad limit',
      msg: { type: 'history', kind: 'sla', from: 0, to: 1, limit },
      code: ErrorCode.InvalidQuery,
      mentions: ['history', 'limit'],
    })),
);

const alertingCallFields = {
  send_alert: ['severity', 'message', 'labels'],
  get_active_alerts: [],
  get_alerts: [],
  alert_views: [],
  clear_alert: ['id'],
  add_rule: ['rule'],
  list_rules: [],
  remove_rule: ['name'],
  list_silences: [],
  expire_silence: ['id'],
  dead_letters: [],
  evaluate: [],
} as const;

const badSeverity = fc
  .oneof(anyValue, fc.constantFrom('Critical', 'fatal', '', 'info '))
  .filter((s) => !['critical', 'warning', 'info'].includes(s as string));
const badText = fc.oneof(
  fc.constant(''),
  fc.constant('x'.repeat(10_001)),
  fc.integer(),
  fc.constant(null),
  fc.object({ maxDepth: 1 }),
  exoticValue,
);
const badAlertLabels = fc.oneof(
  fc.constant('x'),
  fc.constant([1]),
  fc.record({ a: fc.oneof(fc.integer(), fc.constant(null), fc.object({ maxDepth: 1 })) }),
  fc.constant({ '': 'x' }),
  fc.constant({ 'a b': 'x' }),
);

const badAlertingCall: fc.Arbitrary<Bad> = fc.oneof(
  ...shapeErrors('call', alertingCallFields),
  badSeverity.map((severity) => ({
    label: 'send_alert: bad severity',
    msg: { type: 'send_alert', severity, message: 'm' },
    code: ErrorCode.InvalidAlert,
    mentions: ['severity', describeValue(severity)],
  })),
  badText.map((message) => ({
    label: 'send_alert: bad message',
    msg: { type: 'send_alert', severity: 'info', message },
    code: ErrorCode.InvalidAlert,
    mentions: ['message'],
  })),
  badAlertLabels.map((labels) => ({
    label: 'send_alert: bad labels',
    msg: { type: 'send_alert', severity: 'info', message: 'm', labels },
    code: ErrorCode.InvalidAlert,
    mentions: ['send_alert'],
  })),
  fc.tuple(fc.constantFrom('clear_alert', 'expire_silence'), anyValue).map(([type, id]) => ({
    label: `${type}: unknown id`,
    msg: { type, id },
    code: ErrorCode.NotFound,
    mentions: [describeValue(id)],
  })),
  anyValue.map((name) => ({
    label: 'remove_rule: unknown name',
    msg: { type: 'remove_rule', name },
    code: ErrorCode.NotFound,
    mentions: [describeValue(name)],
  })),
  fc
    .oneof(
      notAnObject,
      fc.constant({}),
      fc.record({ name: fc.string({ maxLength: 5 }) }),
      fc.record({ name: fc.constant('r'), metric: fc.constant('latency'), condition: anyValue }),
      fc.constant({ name: 'r', bogus: 1 }),
    )
    .map((rule) => ({
      label: 'add_rule: bad rule',
      msg: { type: 'add_rule', rule },
      code: ErrorCode.InvalidRule,
      mentions: ['rule'],
    })),
  fc
    .oneof(
      fc.constant({}),
      fc.record({
        matchers: fc.oneof(fc.constant([]), fc.constant('a=b'), fc.array(anyValue, { minLength: 1, maxLength: 2 })),
        endsAt: fc.constant(Date.now() + 60_000),
        createdBy: fc.constant('me'),
        comment: fc.constant('c'),
      }),
      fc.record({
        matchers: fc.constant([{ name: 'a', op: '=', value: 'b' }]),
        endsAt: fc.oneof(fc.constant(0), fc.constant(-1), notFinite, fc.constant('tomorrow')),
        createdBy: fc.constant('me'),
        comment: fc.constant('c'),
      }),
      fc.record({
        matchers: fc.constant([{ name: 'a', op: '=', value: 'b' }]),
        endsAt: fc.constant(Date.now() + 60_000),
        createdBy: badText,
        comment: fc.constant('c'),
      }),
      fc.constant({
        matchers: [{ name: 'a', op: '=', value: 'b' }],
        endsAt: Date.now() + 60_000,
        createdBy: 'me',
        comment: 'c',
        id: 'x',
      }),
    )
    .map((silence) => ({
      label: 'add_silence: bad silence',
      msg: { ...silence, type: 'add_silence' },
      code: ErrorCode.InvalidSilence,
      mentions: ['silence'],
    })),
);

describe('the performance monitor and alerting refuse malformed calls and casts and keep serving', () => {
  it('performance monitor: every malformed call rejects with a MonitorError naming the type or field, without a restart', async () => {
    const t = await quietTree();
    const stored = async () =>
      (await t.mon.performance.call({ type: 'history', kind: 'report', from: 0, to: Number.MAX_SAFE_INTEGER })).entries
        .length;
    const before = await stored();
    await fc.assert(
      fc.asyncProperty(badPerfCall, async (bad) => {
        trials.add(`performance call: ${bad.label}`);
        await expectRejection(t.mon.performance.call(bad.msg as any, CALL_TIMEOUT), bad.code, bad.mentions);
        expect(t.sameProcesses()).toBe(true);
      }),
      { seed: SEED, numRuns: RUNS },
    );
    expect(await stored()).toBe(before);
    expect((await t.mon.performance.call({ type: 'report' })).at).toBeGreaterThan(0);
  });

  it('alerting: every malformed call rejects naming the type or field; alerts, rules and silences stay as they were', async () => {
    const t = await quietTree();
    await t.mon.alerting.sendAlert('warning', 'one real alert', { team: 'a' });
    const state = async () =>
      JSON.stringify([
        await t.mon.alerting.getActiveAlerts(),
        await t.mon.alerting.listRules(),
        await t.mon.alerting.listSilences(),
        await t.mon.alerting.deadLetters(),
      ]);
    const before = await state();
    await fc.assert(
      fc.asyncProperty(badAlertingCall, async (bad) => {
        trials.add(`alerting call: ${bad.label}`);
        await expectRejection(
          t.mon.system.ref(ALERTING_NAME).call(bad.msg as any, CALL_TIMEOUT),
          bad.code,
          bad.mentions,
        );
        expect(t.sameProcesses()).toBe(true);
        expect(await state()).toBe(before);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('alerting client: sendAlert, addRule, addSilence, clearAlert, removeRule, expireSilence refuse wrong shapes', async () => {
    const t = await quietTree();
    const client = t.mon.alerting as any;
    const state = async () =>
      JSON.stringify([
        await t.mon.alerting.getActiveAlerts(),
        await t.mon.alerting.listRules(),
        await t.mon.alerting.listSilences(),
      ]);
    const before = await state();
    const cases: fc.Arbitrary<{ label: string; run: () => Promise<unknown>; code: ErrorCode }>[] = [
      fc.tuple(badSeverity, fc.string({ minLength: 1, maxLength: 5 })).map(([s, m]) => ({
        label: 'sendAlert severity',
        run: () => client.sendAlert(s, m),
        code: ErrorCode.InvalidAlert,
      })),
      badText.map((m) => ({
        label: 'sendAlert message',
        run: () => client.sendAlert('info', m),
        code: ErrorCode.InvalidAlert,
      })),
      badAlertLabels.map((l) => ({
        label: 'sendAlert labels',
        run: () => client.sendAlert('info', 'm', l),
        code: ErrorCode.InvalidAlert,
      })),
      fc
        .oneof(anyValue, fc.constant({ name: 'r' }))
        .map((r) => ({ label: 'addRule', run: () => client.addRule(r), code: ErrorCode.InvalidRule })),
      // A `type` inside the silence must not turn the call into another one.
      fc
        .oneof(
          notAnObject,
          fc.constantFrom('clear_alert', 'evaluate', 'remove_rule').map((type) => ({ type, id: 'x', name: 'x' })),
          fc.record({ matchers: anyValue, endsAt: anyValue }),
        )
        .map((s) => ({ label: 'addSilence', run: () => client.addSilence(s), code: ErrorCode.InvalidSilence })),
      fc
        .tuple(fc.constantFrom('clearAlert', 'removeRule', 'expireSilence'), anyValue)
        .map(([m, id]) => ({ label: m, run: () => client[m](id), code: ErrorCode.NotFound })),
    ];
    await fc.assert(
      fc.asyncProperty(fc.oneof(...cases), async (c) => {
        trials.add(`alerting client: ${c.label}`);
        await expectRejection(c.run(), c.code, []);
        expect(t.sameProcesses()).toBe(true);
        expect(await state()).toBe(before);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('alerting and the collector in the tree: malformed casts are dropped, nothing restarts, the next call answers', async () => {
    const t = await quietTree();
    const alerting = t.mon.system.ref(ALERTING_NAME);
    const state = async () =>
      JSON.stringify([await t.mon.alerting.getActiveAlerts(), await t.mon.alerting.listRules()]);
    const before = await state();
    const badAlertCast = fc.oneof(
      ...shapeErrors('cast', { signal: ['signal'], send_alert: ['severity', 'message', 'labels'] }),
      fc.oneof(anyValue, fc.record({ source: anyValue, key: anyValue, state: anyValue })).map((signal) => ({
        label: 'bad signal',
        msg: { type: 'signal', signal },
        code: ErrorCode.InvalidAlert,
        mentions: [],
      })),
      badSeverity.map((severity) => ({
        label: 'bad send_alert',
        msg: { type: 'send_alert', severity, message: 'm' },
        code: ErrorCode.InvalidAlert,
        mentions: [],
      })),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(badAlertCast, { minLength: 1, maxLength: 5 }),
        fc.array(badUpdate, { maxLength: 3 }),
        async (alertCasts, updates) => {
          trials.add('tree casts', alertCasts.length + updates.length);
          for (const c of alertCasts) (alerting as any).cast(c.msg);
          for (const u of updates) (t.mon.collector as any).cast(u.msg);
          expect(await state()).toBe(before);
          await t.mon.collector.call({ type: 'stats' }, CALL_TIMEOUT);
          expect(t.sameProcesses()).toBe(true);
        },
      ),
      { seed: SEED, numRuns: RUNS / 3 },
    );
    expect(t.logger.records.filter((r) => r.msg === 'alerting message refused').length).toBeLessThanOrEqual(20);
    expect(t.logger.records.some((r) => r.msg === 'server terminating abnormally')).toBe(false);
  });
});
