/**
 * Bad input to the metric API, tried systematically (issue 9, item 4): every kind of wrong value,
 * name, label and type, through every form of the API (label-object, value-first, pre-bound
 * series, the registry's message-style calls). Each must throw a MonitorError with the right code
 * whose message names the metric and the offender, and change nothing: the table (collect() and
 * the Prometheus text) and what the next flush writes to LMDB stay as they were. A model-based
 * property mixes valid and invalid operations and checks the table, and the table restored from
 * LMDB, against a reference model.
 */
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { describeValue, ErrorCode, MonitorError } from '../../src/errors.js';
import { renderPrometheusText } from '../../src/exposition/prometheus-text.js';
import type { Labels } from '../../src/metrics/label-map.js';
import { type AnyMetric, Registry } from '../../src/metrics/registry.js';
import { flushTable, restoreTable } from '../../src/store/table-store.js';
import { MetricStore } from '../../src/store/lmdb-store.js';
import { memoryLogger } from '../helpers.js';
import {
  badIncrement,
  badLabelName,
  badMetricName,
  expectRefusal,
  exoticValue,
  notFinite,
  PROTOTYPE_KEYS,
  SEED,
  TrialCounter,
} from './bad-input-fixture.js';
import { onCleanup, runCleanups, tempDir } from './tree-fixture.js';

afterEach(runCleanups);

const trials = new TrialCounter();
afterAll(() => {
  console.info(`bad-input-metrics inputs tried: ${trials.summary()}`);
});

const RUNS = 300;
const MODEL_RUNS = 25;

type Kind = 'counter' | 'gauge' | 'histogram';
interface Target {
  name: string;
  kind: Kind;
  labelNames: readonly string[];
}

/** The metrics every property works on; `proto_keys` uses prototype names as its label names. */
const TARGETS: readonly Target[] = [
  { name: 'req.total', kind: 'counter', labelNames: [] },
  { name: 'http_requests', kind: 'counter', labelNames: ['method', 'route'] },
  { name: 'proto_keys', kind: 'counter', labelNames: ['constructor', 'toString'] },
  { name: 'temp', kind: 'gauge', labelNames: [] },
  { name: 'pool.size', kind: 'gauge', labelNames: ['pool'] },
  { name: 'latency', kind: 'histogram', labelNames: ['route'] },
];
const BUCKETS = [1, 10, 100];

/** Label values valid input uses, prototype names among them (they are ordinary values). */
const VALUE_POOL = [
  'GET',
  'POST',
  '/',
  '/api',
  '__proto__',
  'constructor',
  'toString',
  '',
  'ä "x"\n\\',
  '0',
  'x\uD800',
] as const;

interface World {
  registry: Registry;
  store: MetricStore;
  dir: string;
  metric(name: string): AnyMetric;
}

/** A registry with the targets registered and one series each, flushed to a fresh LMDB store. */
async function world(): Promise<World> {
  const dir = path.join(tempDir(), 'lmdb');
  const registry = new Registry({ logger: memoryLogger() });
  const store = MetricStore.open({ dataDir: dir });
  onCleanup(() => store.close());
  for (const t of TARGETS) {
    const labels = { labels: t.labelNames };
    if (t.kind === 'counter') registry.counter(t.name, labels).inc(validLabels(t, 0), 3);
    else if (t.kind === 'gauge') registry.gauge(t.name, labels).set(validLabels(t, 0), -7.5);
    else registry.histogram(t.name, { ...labels, buckets: BUCKETS }).observe(validLabels(t, 0), 42);
  }
  await flushTable(registry, store, 1000);
  return { registry, store, dir, metric: (name) => registry.get(name)! };
}

function validLabels(t: Target, seed: number): Record<string, string> {
  return Object.fromEntries(t.labelNames.map((n, i) => [n, VALUE_POOL[(seed + i) % VALUE_POOL.length]!]));
}

/** Everything observable about the table: collect() and the Prometheus text. */
async function tableState(registry: Registry): Promise<string> {
  const collected = JSON.stringify(registry.collect(), (_k, v: unknown) =>
    typeof v === 'number' && !Number.isFinite(v) ? String(v) : v,
  );
  return `${collected}\n${await renderPrometheusText(registry)}`;
}

/** Refused input must not reach the store: the next flush finds nothing changed. */
async function expectNothingToFlush(w: World): Promise<void> {
  const summary = await flushTable(w.registry, w.store, 2000);
  expect({ series: summary.series, points: summary.points }).toEqual({ series: 0, points: 0 });
}

/** `m.inc(x)` reads an object (or null) in the first place as labels, anything else as the value. */
const readAsLabels = (v: unknown): boolean => v === null || typeof v === 'object';

type Update = (w: World, t: Target, labels: Labels | undefined, value: unknown) => void;
const UPDATE_FORMS: Record<Kind, Record<string, { run: Update; ambiguous?: boolean; what: string }>> = {
  counter: {
    'inc(labels, v)': { run: (w, t, l, v) => (w.metric(t.name) as any).inc(l, v), what: 'finite number >= 0' },
    'inc(v, labels)': {
      run: (w, t, l, v) => (w.metric(t.name) as any).inc(v, l),
      ambiguous: true,
      what: 'finite number >= 0',
    },
    'bind(labels).inc(v)': {
      run: (w, t, l, v) => (w.metric(t.name).bind(l) as any).inc(v),
      what: 'finite number >= 0',
    },
    'registry.increment': { run: (w, t, l, v) => w.registry.increment(t.name, l, v as any), what: 'finite number' },
  },
  gauge: {
    'set(v, labels)': {
      run: (w, t, l, v) => (w.metric(t.name) as any).set(v, l),
      ambiguous: true,
      what: 'finite number',
    },
    'set(labels, v)': { run: (w, t, l, v) => (w.metric(t.name) as any).set(l, v), what: 'finite number' },
    'inc(labels, v)': { run: (w, t, l, v) => (w.metric(t.name) as any).inc(l, v), what: 'finite number' },
    'dec(v, labels)': {
      run: (w, t, l, v) => (w.metric(t.name) as any).dec(v, l),
      ambiguous: true,
      what: 'finite number',
    },
    'bind(labels).set(v)': { run: (w, t, l, v) => (w.metric(t.name).bind(l) as any).set(v), what: 'finite number' },
    'bind(labels).dec(v)': { run: (w, t, l, v) => (w.metric(t.name).bind(l) as any).dec(v), what: 'finite number' },
    'registry.set': { run: (w, t, l, v) => w.registry.set(t.name, l, v as any), what: 'finite number' },
    'registry.increment': { run: (w, t, l, v) => w.registry.increment(t.name, l, v as any), what: 'finite number' },
  },
  histogram: {
    'observe(v, labels)': {
      run: (w, t, l, v) => (w.metric(t.name) as any).observe(v, l),
      ambiguous: true,
      what: 'finite number',
    },
    'observe(labels, v)': { run: (w, t, l, v) => (w.metric(t.name) as any).observe(l, v), what: 'finite number' },
    'bind(labels).observe(v)': {
      run: (w, t, l, v) => (w.metric(t.name).bind(l) as any).observe(v),
      what: 'finite number',
    },
    'registry.observe': { run: (w, t, l, v) => w.registry.observe(t.name, l, v as any), what: 'finite number' },
  },
};

const target = fc.constantFrom(...TARGETS);
/** An existing or a new label set of `t` (both must stay untouched by a refused update). */
const labelsFor = (t: Target): fc.Arbitrary<Labels | undefined> =>
  t.labelNames.length === 0
    ? fc.constant(undefined)
    : fc
        .nat({ max: VALUE_POOL.length - 1 })
        .map((seed) => validLabels(t, seed))
        .filter((l) => !Object.values(l).some((v) => v.includes('\uD800')));

describe('the metric API refuses bad input without changing anything', () => {
  it('refuses every wrong value in every update form with EMON_INVALID_VALUE naming the metric', async () => {
    const w = await world();
    const cases = target.chain((t) =>
      fc.record({
        t: fc.constant(t),
        form: fc.constantFrom(...Object.keys(UPDATE_FORMS[t.kind])),
        labels: labelsFor(t),
        value: t.kind === 'counter' ? badIncrement : notFinite,
      }),
    );
    await fc.assert(
      fc.asyncProperty(cases, async ({ t, form, labels, value }) => {
        const f = UPDATE_FORMS[t.kind][form]!;
        // There an object is the labels: the labels property covers that.
        fc.pre(!(f.ambiguous === true && readAsLabels(value)));
        trials.add('wrong values');
        // bind() creates the series it names (that is its job): bind first, then refuse the value.
        if (form.startsWith('bind(')) {
          w.metric(t.name).bind(labels);
          await flushTable(w.registry, w.store, 1500);
        }
        const before = await tableState(w.registry);
        expectRefusal(() => f.run(w, t, labels, value), ErrorCode.InvalidValue, [
          `metric "${t.name}"`,
          f.what,
          describeValue(value),
        ]);
        expect(await tableState(w.registry)).toBe(before);
        await expectNothingToFlush(w);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('refuses wrong label sets (unknown, missing, extra, prototype keys, bad values, too long, not an object) with EMON_INVALID_LABELS naming the label', async () => {
    const w = await world();
    const before = await tableState(w.registry);
    /** A bad label set for `t` and the words its error must contain. */
    const badLabels = (t: Target): fc.Arbitrary<{ labels: unknown; mentions: string[] }> => {
      const base = validLabels(t, 1);
      const extraKey = fc
        .oneof(fc.constantFrom(...PROTOTYPE_KEYS, 'method ', 'Method', 'le', 'x'), fc.stringMatching(/^[a-z_]{1,8}$/))
        .filter((k) => !t.labelNames.includes(k));
      const options: fc.Arbitrary<{ labels: unknown; mentions: string[] }>[] = [
        // An extra key, built with JSON.parse so `__proto__` is an own key, not the prototype.
        extraKey.map((k) => ({
          labels: JSON.parse(
            JSON.stringify({ ...base }).replace(
              /^\{/,
              `{${JSON.stringify(k)}:"v"${t.labelNames.length > 0 ? ',' : ''}`,
            ),
          ) as unknown,
          mentions: [`"${k}"`],
        })),
        fc.constantFrom('a', 'abc', '', 'method').map((s) => ({ labels: s, mentions: ['labels must be an object'] })),
        fc
          .oneof(fc.bigInt(), fc.boolean(), fc.constant(Symbol('labels')))
          .map((v) => ({ labels: v, mentions: ['labels must be an object'] })),
        fc
          .array(fc.string({ maxLength: 3 }), { minLength: 0, maxLength: 3 })
          .map((a) => ({ labels: a, mentions: ['labels must be an object'] })),
      ];
      if (t.labelNames.length > 0) {
        const name = fc.constantFrom(...t.labelNames);
        options.push(
          name.map((n) => {
            const l: Record<string, unknown> = { ...base };
            delete l[n];
            return { labels: l, mentions: [`missing label "${n}"`] };
          }),
          name.map((n) => ({ labels: { ...base, [n]: undefined }, mentions: [`missing label "${n}"`] })),
          fc
            .tuple(
              name,
              fc.oneof(
                fc.constantFrom(Number.NaN, Infinity, -Infinity),
                fc.constant(null),
                fc.boolean(),
                fc.array(fc.string(), { maxLength: 2 }),
                fc.object({ maxDepth: 1 }),
                exoticValue,
              ),
            )
            .map(([n, v]) => ({
              labels: { ...base, [n]: v },
              mentions: [`label "${n}"`, 'string or a finite number'],
            })),
          fc
            .tuple(name, fc.constantFrom('\uD800', 'a\uDC00b', '\uDBFF\uDBFF', 'ok\uD83D'))
            .map(([n, v]) => ({ labels: { ...base, [n]: v }, mentions: [`label "${n}"`, 'valid Unicode'] })),
          fc
            .tuple(name, fc.integer({ min: 1001, max: 5000 }))
            .map(([n, len]) => ({ labels: { ...base, [n]: 'x'.repeat(len) }, mentions: ['too long'] })),
          fc.tuple(name, extraKey).map(([n, k]) => {
            const l: Record<string, unknown> = { ...base, [k]: 'v' };
            delete l[n];
            return { labels: l, mentions: [`"${k}"`] };
          }),
          fc.constantFrom(null, undefined).map((v) => ({ labels: v, mentions: ['labels must be an object'] })),
        );
      }
      return fc.oneof(...options);
    };
    const LABEL_FORMS: Record<string, (w: World, t: Target, labels: any) => unknown> = {
      bind: (w, t, l) => w.metric(t.name).bind(l),
      find: (w, t, l) => w.metric(t.name).find(l),
      'update(labels, 1)': (w, t, l) => {
        const m = w.metric(t.name) as any;
        return t.kind === 'counter' ? m.inc(l, 1) : t.kind === 'gauge' ? m.set(l, 1) : m.observe(l, 1);
      },
      'update(1, labels)': (w, t, l) => {
        const m = w.metric(t.name) as any;
        return t.kind === 'counter' ? m.inc(1, l) : t.kind === 'gauge' ? m.set(1, l) : m.observe(1, l);
      },
      'registry update': (w, t, l) =>
        t.kind === 'histogram'
          ? w.registry.observe(t.name, l, 1)
          : t.kind === 'gauge'
            ? w.registry.set(t.name, l, 1)
            : w.registry.increment(t.name, l, 1),
      'registry.getMetric': (w, t, l) => w.registry.getMetric(t.name, l),
    };
    const cases = target.chain((t) =>
      fc.record({ t: fc.constant(t), form: fc.constantFrom(...Object.keys(LABEL_FORMS)), bad: badLabels(t) }),
    );
    await fc.assert(
      fc.asyncProperty(cases, async ({ t, form, bad }) => {
        // No labels is right for a metric without label names.
        fc.pre(!(t.labelNames.length === 0 && bad.labels === undefined));
        // In the first place, anything but an object (or null) is the value: the values property covers that.
        fc.pre(!(form === 'update(labels, 1)' && !readAsLabels(bad.labels) && bad.labels !== undefined));
        trials.add('wrong labels');
        // The length limit guards creating a series; a read of one that cannot exist finds nothing.
        if (bad.mentions.includes('too long') && (form === 'find' || form === 'registry.getMetric')) {
          expect(LABEL_FORMS[form]!(w, t, bad.labels)).toBeUndefined();
          return;
        }
        expectRefusal(() => LABEL_FORMS[form]!(w, t, bad.labels), ErrorCode.InvalidLabels, [
          `metric "${t.name}"`,
          ...bad.mentions,
        ]);
        expect(await tableState(w.registry)).toBe(before);
        await expectNothingToFlush(w);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('refuses wrong metric names, label names, options, types and buckets at registration, and registers nothing', async () => {
    const w = await world();
    const before = await tableState(w.registry);
    const names = () => w.registry.metrics().map((m) => `${m.name}:${m.type}:${m.labelNames.join(',')}:${m.unit}`);
    const namesBefore = names();
    const KINDS: Kind[] = ['counter', 'gauge', 'histogram'];
    const register = (kind: unknown, name: unknown, options?: unknown) => () =>
      kind === 'counter' || kind === 'gauge' || kind === 'histogram'
        ? (w.registry as any)[kind](name, options)
        : w.registry.register(name as string, kind as Kind, options as object);
    const kind = fc.constantFrom(...KINDS);
    const how = fc.constantFrom('method', 'register');
    const call = (k: Kind, h: string, name: unknown, options?: unknown) =>
      h === 'method' ? register(k, name, options) : () => w.registry.register(name as string, k, options as object);
    const freshName = fc.stringMatching(/^[a-z][a-z0-9_]{0,12}$/).map((s) => `fresh_${s}`);
    interface Case {
      label: string;
      fn: () => unknown;
      code: ErrorCode;
      mentions: string[];
    }
    const cases: fc.Arbitrary<Case>[] = [
      fc.tuple(kind, how, badMetricName).map(([k, h, n]) => ({
        label: 'bad metric name',
        fn: call(k, h, n),
        code: ErrorCode.InvalidName,
        mentions: [describeValue(n), 'allowed'],
      })),
      fc
        .tuple(freshName, fc.oneof(fc.string({ maxLength: 12 }), fc.constant(null), fc.integer(), exoticValue))
        .map(([n, ty]) => ({
          label: 'bad type',
          fn: () => w.registry.register(n, ty as Kind),
          code: ErrorCode.InvalidOption,
          mentions: [`"${n}"`, 'counter, gauge, histogram'],
        })),
      fc.tuple(kind, how, freshName, badLabelName, fc.nat({ max: 2 })).map(([k, h, n, l, at]) => {
        const labels = ['a', 'b'];
        labels.splice(at, 0, l as string);
        return {
          label: 'bad label name',
          fn: call(k, h, n, { labels }),
          code: ErrorCode.InvalidName,
          mentions: [`metric "${n}"`, describeValue(l)],
        };
      }),
      fc.tuple(kind, how, freshName, fc.constantFrom('a', 'constructor')).map(([k, h, n, l]) => ({
        label: 'repeated label name',
        fn: call(k, h, n, { labels: [l, 'x', l] }),
        code: ErrorCode.InvalidName,
        mentions: [`metric "${n}"`, `"${l}"`, 'twice'],
      })),
      fc.tuple(freshName, fc.constantFrom('le', 'quantile')).map(([n, l]) => ({
        label: 'reserved histogram label',
        fn: register('histogram', n, { labels: [l] }),
        code: ErrorCode.InvalidName,
        mentions: [`metric "${n}"`, `"${l}"`, 'reserved'],
      })),
      fc
        .tuple(
          kind,
          how,
          freshName,
          fc.oneof(
            fc.constant(null),
            fc.string({ maxLength: 4 }),
            fc.integer(),
            fc.boolean(),
            fc.array(fc.string(), { maxLength: 2 }),
            exoticValue.filter((v) => !(v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === null)),
          ),
        )
        .map(([k, h, n, o]) => ({
          label: 'options not an object',
          fn: call(k, h, n, o),
          code: ErrorCode.InvalidOption,
          mentions: [`metric "${n}"`, 'options'],
        })),
      fc
        .tuple(
          kind,
          freshName,
          fc.constantFrom('labels', 'help', 'unit'),
          fc.oneof(fc.integer(), fc.constant(null), fc.object({ maxDepth: 1 }), exoticValue),
        )
        .map(([k, n, field, v]) => ({
          label: 'option of the wrong type',
          fn: register(k, n, { [field]: v }),
          code: field === 'labels' ? ErrorCode.InvalidName : ErrorCode.InvalidOption,
          mentions: [`metric "${n}"`, field],
        })),
      // Re-registration as another kind, with other labels, with label names that are not an array.
      fc
        .tuple(fc.constantFrom(...TARGETS), kind, how)
        .filter(([t, k]) => t.kind !== k)
        .map(([t, k, h]) => ({
          label: 'registered as another type',
          fn: call(k, h, t.name, { labels: t.labelNames }),
          code: ErrorCode.MetricConflict,
          mentions: [`"${t.name}"`, `registered as a ${t.kind}`],
        })),
      fc
        .tuple(
          fc.constantFrom(...TARGETS),
          how,
          fc.uniqueArray(fc.constantFrom('method', 'route', 'pool', 'x', 'constructor'), { maxLength: 3 }),
        )
        .filter(([t, _h, l]) => l.join() !== t.labelNames.join())
        .map(([t, h, l]) => ({
          label: 'registered with other labels',
          fn: call(t.kind, h, t.name, { labels: l }),
          code: ErrorCode.MetricConflict,
          mentions: [`"${t.name}"`, 'labels'],
        })),
      fc
        .tuple(
          fc.constantFrom(...TARGETS),
          fc.oneof(fc.string({ minLength: 1, maxLength: 6 }), fc.array(exoticValue, { minLength: 1, maxLength: 2 })),
        )
        .map(([t, l]) => ({
          label: 'registered again with labels that are not label names',
          fn: register(t.kind, t.name, { labels: l }),
          code: ErrorCode.InvalidName,
          mentions: [`metric "${t.name}"`],
        })),
      // Another metric whose Prometheus name would collide with an existing one's.
      fc
        .constantFrom(
          ['pool_size', 'gauge'],
          ['req_total', 'counter'],
          ['req_total', 'gauge'],
          ['latency_bucket', 'gauge'],
          ['latency_count', 'gauge'],
        )
        .map(([n, k]) => ({
          label: 'exposed name collision',
          fn: register(k, n),
          code: ErrorCode.MetricConflict,
          mentions: [`"${n}"`, 'exposed'],
        })),
      // Buckets: other ones for an existing histogram, and bad ones for a new one.
      fc
        .array(fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }), { minLength: 1, maxLength: 5 })
        .map((b) => [...new Set(b)].sort((x, y) => x - y))
        .filter((b) => b.join() !== BUCKETS.join())
        .map((b) => ({
          label: 'other buckets',
          fn: register('histogram', 'latency', { labels: ['route'], buckets: b }),
          code: ErrorCode.MetricConflict,
          mentions: ['"latency"', 'buckets'],
        })),
      fc
        .tuple(
          freshName,
          fc.oneof(
            fc.constant([]),
            fc.constant([1, 1]),
            fc.constant([5, 2]),
            fc
              .array(fc.double({ noNaN: true, noDefaultInfinity: true }), { minLength: 2, maxLength: 5 })
              .filter((b) => b.some((x, i) => i > 0 && !(x > b[i - 1]!))),
            fc
              .tuple(
                fc.array(fc.integer(), { maxLength: 3 }),
                fc.constantFrom(Number.NaN, Infinity, -Infinity, '5', null),
              )
              .map(([b, bad]) => [...b, bad]),
            fc.oneof(fc.constant(null), fc.constant('1,2,3'), fc.constant(5), fc.constant({ 0: 1, length: 1 })),
          ),
        )
        .map(([n, b]) => ({
          label: 'bad buckets',
          fn: register('histogram', n, { buckets: b }),
          code: ErrorCode.InvalidOption,
          mentions: [`"${n}"`, 'buckets'],
        })),
      // The message-style calls on a name nobody registered, or on the wrong type.
      fc
        .tuple(fc.oneof(freshName, badMetricName), fc.constantFrom('increment', 'set', 'observe', 'getMetric'))
        .map(([n, op]) => ({
          label: 'unknown metric',
          fn: () => (w.registry as any)[op](n, undefined, 1),
          code: ErrorCode.UnknownMetric,
          mentions: ['unknown metric', typeof n === 'string' ? `"${n}"` : ''],
        })),
      fc
        .constantFrom(
          ['set', 'req.total'],
          ['set', 'latency'],
          ['observe', 'temp'],
          ['observe', 'http_requests'],
          ['increment', 'latency'],
        )
        .map(([op, n]) => ({
          label: 'wrong type for the call',
          fn: () => (w.registry as any)[op](n, undefined, 1),
          code: ErrorCode.MetricConflict,
          mentions: [`"${n}"`],
        })),
    ];
    await fc.assert(
      fc.asyncProperty(fc.oneof(...cases), async (c) => {
        trials.add(`registration: ${c.label}`);
        expectRefusal(c.fn, c.code, c.mentions);
        expect(names()).toEqual(namesBefore);
        expect(await tableState(w.registry)).toBe(before);
        await expectNothingToFlush(w);
      }),
      { seed: SEED, numRuns: RUNS * 2 },
    );
  });
});

describe('the metric table under a random mix of valid and invalid operations', () => {
  type Op =
    | { op: 'inc'; t: Target; seed: number; value: unknown; form: 'labels' | 'bound' | 'registry' }
    | { op: 'set'; t: Target; seed: number; value: unknown; form: 'labels' | 'bound' | 'registry' }
    | { op: 'dec'; t: Target; seed: number; value: unknown }
    | { op: 'observe'; t: Target; seed: number; value: unknown; form: 'labels' | 'bound' | 'registry' }
    | { op: 'badLabels'; t: Target; key: string }
    | { op: 'register'; t: Target; as: Kind };

  const value = fc.oneof(
    { weight: 6, arbitrary: fc.integer({ min: -1000, max: 1000 }) },
    { weight: 2, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }) },
    { weight: 1, arbitrary: fc.constantFrom(Number.MAX_VALUE, -Number.MAX_VALUE, 1e308, -0) },
    { weight: 2, arbitrary: notFinite },
  );
  const form = fc.constantFrom('labels' as const, 'bound' as const, 'registry' as const);
  const seed = fc.nat({ max: VALUE_POOL.length - 1 });
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({
      op: fc.constant('inc' as const),
      t: fc.constantFrom(...TARGETS.filter((t) => t.kind !== 'histogram')),
      seed,
      value,
      form,
    }),
    fc.record({
      op: fc.constant('set' as const),
      t: fc.constantFrom(...TARGETS.filter((t) => t.kind === 'gauge')),
      seed,
      value,
      form,
    }),
    fc.record({
      op: fc.constant('dec' as const),
      t: fc.constantFrom(...TARGETS.filter((t) => t.kind === 'gauge')),
      seed,
      value,
    }),
    fc.record({
      op: fc.constant('observe' as const),
      t: fc.constantFrom(...TARGETS.filter((t) => t.kind === 'histogram')),
      seed,
      value,
      form,
    }),
    fc.constantFrom(...TARGETS).chain((t) =>
      fc.record({
        op: fc.constant('badLabels' as const),
        t: fc.constant(t),
        key: fc.constantFrom(...PROTOTYPE_KEYS, 'zzz').filter((k) => !t.labelNames.includes(k)),
      }),
    ),
    fc.record({
      op: fc.constant('register' as const),
      t: fc.constantFrom(...TARGETS),
      as: fc.constantFrom<Kind>('counter', 'gauge', 'histogram'),
    }),
  );

  /** What the model says about one series: a counter's or gauge's value, a histogram's count and sum. */
  type Expected = { value: number } | { count: number; sum: number };
  const keyOf = (t: Target, labels: Record<string, string>) =>
    `${t.name}|${t.labelNames.map((n) => labels[n]).join('|')}`;

  /**
   * Applies `o` to the model: returns whether the operation must be refused (and with which code),
   * updating the model only when it is accepted.
   */
  function modelApply(model: Map<string, Expected>, o: Op): ErrorCode | undefined {
    if (o.op === 'badLabels') return ErrorCode.InvalidLabels;
    if (o.op === 'register') return o.as === o.t.kind ? undefined : ErrorCode.MetricConflict;
    const labels = validLabels(o.t, o.seed);
    const key = keyOf(o.t, labels);
    // A new series whose label values are not valid Unicode is refused (the store is UTF-8).
    const badText = !model.has(key) && Object.values(labels).some((l) => l.includes('\uD800'));
    const bound = 'form' in o && o.form === 'bound';
    if (badText && bound) return ErrorCode.InvalidLabels;
    // bind() creates the series before its update method sees the value.
    if (bound && !model.has(key)) model.set(key, o.t.kind === 'histogram' ? { count: 0, sum: 0 } : { value: 0 });
    const v = o.value;
    if (typeof v !== 'number' || !Number.isFinite(v)) return ErrorCode.InvalidValue;
    if (o.t.kind === 'counter' && v < 0) return ErrorCode.InvalidValue;
    if (badText) return ErrorCode.InvalidLabels;
    if (o.op === 'observe') {
      const cur = (model.get(key) as { count: number; sum: number } | undefined) ?? { count: 0, sum: 0 };
      model.set(key, { count: cur.count + 1, sum: cur.sum + v });
      return undefined;
    }
    if (o.t.kind === 'counter' && v < 0) return ErrorCode.InvalidValue;
    const cur = (model.get(key) as { value: number } | undefined)?.value ?? 0;
    const next = o.op === 'set' ? v : o.op === 'inc' ? cur + v : cur - v;
    // A value that would overflow to ±Infinity is refused: it could not be persisted or restored.
    if (!Number.isFinite(next)) return ErrorCode.InvalidValue;
    model.set(key, { value: next });
    return undefined;
  }

  function realApply(registry: Registry, o: Op): void {
    if (o.op === 'register') {
      (registry as any)[o.as](o.t.name, {
        labels: o.t.labelNames,
        ...(o.as === 'histogram' ? { buckets: BUCKETS } : {}),
      });
      return;
    }
    const m = registry.get(o.t.name) as any;
    if (o.op === 'badLabels') {
      m.bind({ ...validLabels(o.t, 0), [o.key]: 'x' });
      return;
    }
    const labels = validLabels(o.t, o.seed);
    const l = o.t.labelNames.length === 0 ? undefined : labels;
    if (o.op === 'dec') return m.dec(l, o.value);
    if (o.form === 'bound') return m.bind(l)[o.op](o.value);
    if (o.form === 'registry') {
      if (o.op === 'inc') {
        registry.increment(o.t.name, l, o.value as number);
        return;
      }
      return (registry as any)[o.op](o.t.name, l, o.value);
    }
    return o.op === 'inc' ? m.inc(l, o.value) : m[o.op](l, o.value);
  }

  /** -0 and 0 are one value (the store does not keep the sign of a zero). */
  const unsigned = (e: Expected): Expected =>
    'value' in e ? { value: e.value + 0 } : { count: e.count, sum: e.sum + 0 };

  function expectMatches(registry: Registry, model: Map<string, Expected>): void {
    const actual = new Map<string, Expected>();
    for (const t of TARGETS) {
      for (const s of registry.get(t.name)!.series()) {
        const v = (s as unknown as { value?: number }).value;
        actual.set(
          keyOf(t, s.labels),
          v !== undefined
            ? { value: v }
            : { count: (s as unknown as { count: number }).count, sum: (s as unknown as { sum: number }).sum },
        );
      }
    }
    expect(new Map([...actual].map(([k, e]) => [k, unsigned(e)]))).toEqual(
      new Map([...model].map(([k, e]) => [k, unsigned(e)])),
    );
  }

  it('matches a reference model after every operation, and after a flush to LMDB and a restore', async () => {
    const started = performance.now();
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 20, maxLength: 80 }), async (ops) => {
        const w = await world();
        const model = new Map<string, Expected>();
        for (const t of TARGETS)
          modelApply(model, {
            op: t.kind === 'histogram' ? 'observe' : t.kind === 'gauge' ? 'set' : 'inc',
            t,
            seed: 0,
            value: t.kind === 'histogram' ? 42 : t.kind === 'gauge' ? -7.5 : 3,
            form: 'labels',
          });
        for (const o of ops) {
          trials.add('model operations');
          const refused = modelApply(model, o);
          if (refused === undefined) realApply(w.registry, o);
          else expectRefusal(() => realApply(w.registry, o), refused, ['metric', `"${o.t.name}"`]);
          expectMatches(w.registry, model);
        }
        // What the flush wrote is what a restart restores.
        await flushTable(w.registry, w.store, 3000);
        await w.store.close();
        const reopened = MetricStore.open({ dataDir: w.dir });
        onCleanup(() => reopened.close());
        const restored = new Registry({ logger: memoryLogger() });
        expect(restoreTable(restored, reopened, memoryLogger()).skipped).toBe(0);
        expectMatches(restored, model);
      }),
      { seed: SEED, numRuns: MODEL_RUNS },
    );
    console.info(`model runs took ${Math.round(performance.now() - started)} ms`);
  }, 120_000);
});

describe('label values that name the overflow series', () => {
  it('a label set whose values are all "__overflow__" is the overflow series, never a second series with the same labels', async () => {
    const registry = new Registry({ seriesLimit: 2, logger: memoryLogger() });
    const c = registry.counter('c', { labels: ['a'] });
    c.inc({ a: '__overflow__' }, 5);
    c.inc({ a: 'x' });
    c.inc({ a: 'y' });
    c.inc({ a: 'z' }, 2);
    const text = await renderPrometheusText(registry);
    const lines = text.split('\n').filter((l) => l.startsWith('c_total{'));
    expect(lines).toEqual(['c_total{a="x"} 1', 'c_total{a="y"} 1', 'c_total{a="__overflow__"} 7']);
    expect(c.get({ a: '__overflow__' })).toBe(7);
  });
});

describe('a unit named like an Object.prototype member', () => {
  it.each(['constructor', 'toString', 'valueOf', 'hasOwnProperty'])(
    'exposes unit %s as its own suffix',
    async (unit) => {
      const registry = new Registry({ logger: memoryLogger() });
      registry.gauge('g', { unit }).set(1);
      const text = await renderPrometheusText(registry);
      expect(text).toContain(`# TYPE g_${unit} gauge`);
      expect(text).not.toContain('undefined');
    },
  );
});

describe('errors are MonitorErrors', () => {
  it('never lets a TypeError out for a name that cannot be turned into a string', () => {
    const registry = new Registry({ logger: memoryLogger() });
    const nasty = [
      Object.create(null),
      {
        toString: () => {
          throw new Error('boom');
        },
      },
      Symbol('s'),
      5n,
    ];
    for (const n of nasty) {
      for (const fn of [
        () => registry.increment(n, undefined, 1),
        () => registry.getMetric(n),
        () => registry.register('ok_name', n),
        () => registry.register(n, 'counter'),
      ]) {
        let thrown: unknown;
        try {
          fn();
        } catch (err) {
          thrown = err;
        }
        expect(thrown).toBeInstanceOf(MonitorError);
      }
    }
  });
});
