/**
 * Registry: the metric table. Registering is idempotent (the same name, type and label names give
 * back the same metric, so modules can declare what they use); a clash of type or label names is
 * an error naming both. There is no global default registry: each monitoring tree owns one, and
 * it outlives the collector, so a collector crash loses nothing (the table's "heir" is the tree).
 *
 * **Owned names.** An instrumentation (e.g. `instrument.http`) declares its metrics inside
 * `own(owner, ...)`: from then on those names are its own, and any other declaration of them (the
 * application's, the message API's) fails naming the owner, instead of sharing the series or
 * failing later on a label mismatch that does not say why.
 */
import { describeValue, ErrorCode, MonitorError } from '../errors.js';
import { NAMESPACE_PATTERN, type ReservedName, reservedNames } from './prometheus-names.js';
import { createLogger, type Logger } from '../logger.js';
import { Counter } from './counter.js';
import { Gauge } from './gauge.js';
import { DEFAULT_BUCKETS, checkBuckets, Histogram, type HistogramOptions, type HistogramStats } from './histogram.js';
import type { Labels } from './label-map.js';
import {
  checkHelpAndUnit,
  checkLabelNames,
  checkMetricName,
  type MetricContext,
  type MetricOptions,
  type MetricType,
  type Series,
} from './metric.js';
import { SliceClock } from './slice-clock.js';

export type AnyMetric = Counter | Gauge | Histogram;

export interface RegistryOptions {
  /** Max series per metric before updates go to the overflow series (default 10,000). */
  seriesLimit?: number;
  /** Buckets for histograms that do not give their own (default `[10, 50, ..., 10000]`). */
  defaultBuckets?: readonly number[];
  /** The coarse clock driving sliding windows (default: a new 10 s slice clock). */
  clock?: SliceClock;
  logger?: Logger;
  /**
   * Prefix of every exposed name, joined with `_` (default none; see prometheus-names.ts): letters,
   * digits, `_` and `:`, not starting with a digit nor ending with `_`.
   */
  namespace?: string;
}

/** One series in a `collect()` or `getMetric()` answer. */
export interface SeriesValue {
  labels: Readonly<Record<string, string>>;
  /** Counter or gauge value, or histogram statistics. */
  value: number | HistogramStats;
}

/** One metric in a `collect()` answer (the source design's collect_metrics). */
export interface MetricSnapshot {
  name: string;
  type: MetricType;
  help: string;
  unit: string;
  labelNames: readonly string[];
  series: SeriesValue[];
}

/** What `getMetric()` answers: one series of one metric. */
export interface MetricValue extends SeriesValue {
  name: string;
  type: MetricType;
  help: string;
  unit: string;
}

/** `register()` options: the source's register_metric, with everything `counter()` etc. take. */
export interface RegisterOptions extends HistogramOptions {}

const TYPES: readonly MetricType[] = ['counter', 'gauge', 'histogram'];

function valueOf(series: Series): number | HistogramStats {
  const s = series as Series & { value?: number; stats?: () => HistogramStats };
  return s.stats !== undefined ? s.stats() : s.value!;
}

/** The names a metric takes in either exposition format (see `reservedNames`). */
function namesOf(metric: AnyMetric, namespace: string): ReservedName[] {
  return reservedNames(metric.name, metric.type, metric.unit, namespace);
}

/** @throws {MonitorError} `EMON_INVALID_OPTION` naming the namespace and what is allowed */
function checkNamespace(namespace: unknown): string {
  if (namespace === undefined || namespace === '') return '';
  if (typeof namespace !== 'string' || !NAMESPACE_PATTERN.test(namespace)) {
    throw new MonitorError(
      ErrorCode.InvalidOption,
      `invalid namespace ${describeValue(namespace)}: it prefixes every exposed metric name (joined with "_"), so it is letters, digits, "_" and ":", not starting with a digit nor ending with "_", e.g. "shop"`,
    );
  }
  return namespace;
}

/** The conflict error for two metrics taking the same exposed name, naming both. */
function collision(metric: AnyMetric, mine: ReservedName, holder: AnyMetric, theirs: ReservedName): MonitorError {
  if (mine.role === 'sample' && theirs.role === 'sample') {
    return new MonitorError(
      ErrorCode.MetricConflict,
      `metric "${metric.name}" would be exposed to Prometheus as "${mine.name}", which metric "${holder.name}" already uses: rename one of them`,
    );
  }
  return new MonitorError(
    ErrorCode.MetricConflict,
    `metric "${metric.name}" (${metric.type}) would be exposed with "${mine.name}" as its ${mine.role}, which is the ${theirs.role} of metric "${holder.name}" (${holder.type}); ` +
      'OpenMetrics parsers reject such a pair ("Clashing name"): rename one of them',
  );
}

/**
 * Checks what every declaration gets before anything is looked up or created: the name, that the
 * options are an object, help and unit within their limits, and the label names (so a
 * re-declaration compares valid names).
 * @throws {MonitorError} `EMON_INVALID_NAME` or `EMON_INVALID_OPTION`
 */
function checkDeclaration(name: unknown, options: unknown): void {
  checkMetricName(name);
  const proto: unknown = options !== null && typeof options === 'object' ? Object.getPrototypeOf(options) : undefined;
  if (proto !== Object.prototype && proto !== null) {
    throw new MonitorError(
      ErrorCode.InvalidOption,
      `metric "${name}": options must be a plain object { help?, unit?, labels?, buckets? }, got ${describeValue(options)}`,
    );
  }
  const { help, unit, labels } = options as MetricOptions;
  checkHelpAndUnit(name, help, unit);
  checkLabelNames(name, labels);
}

/** Counts updates that went to an overflow series, by metric. */
export const DROPPED_SERIES_METRIC = 'monitor.series_dropped';

export class Registry {
  readonly clock: SliceClock;
  readonly seriesLimit: number;
  readonly defaultBuckets: readonly number[];
  /** Prefix of the exposed names ("" for none); see {@link RegistryOptions.namespace}. */
  readonly namespace: string;
  readonly #metrics = new Map<string, AnyMetric>();
  /** Exposed names in use (either format) → the metric using them (two metrics must never share one). */
  readonly #exposed = new Map<string, { metric: AnyMetric; reserved: ReservedName }>();
  readonly #log: Logger;
  readonly #warned = new Set<string>();
  /** Metrics recreated from the store that no caller has declared yet this run. */
  readonly #restoredOnly = new Set<string>();
  readonly #context: MetricContext;
  readonly #dropped: Counter;
  /** Owned metric name → its owner (see the module header). */
  readonly #owners = new Map<string, string>();
  /** The owner whose `own()` callback is running, if any. */
  #declaring: string | undefined;

  /** @throws {MonitorError} `EMON_INVALID_OPTION` for a bad series limit, buckets or namespace */
  constructor(options: RegistryOptions = {}) {
    const limit = options.seriesLimit ?? 10_000;
    if (!Number.isInteger(limit) || limit < 1) {
      throw new MonitorError(ErrorCode.InvalidOption, `seriesLimit must be a positive integer, got ${String(limit)}`);
    }
    this.seriesLimit = limit;
    this.namespace = checkNamespace(options.namespace);
    this.defaultBuckets = checkBuckets('(default buckets)', options.defaultBuckets ?? DEFAULT_BUCKETS);
    this.clock = options.clock ?? new SliceClock();
    this.#log = options.logger ?? createLogger();
    this.#context = { seriesLimit: limit, onOverflow: (metric) => this.#overflow(metric) };
    this.#dropped = this.counter(DROPPED_SERIES_METRIC, {
      help: 'Updates routed to the overflow series because the metric reached its series limit',
      labels: ['metric'],
    });
  }

  /**
   * Registers (or returns the registered) counter `name`.
   * @throws {MonitorError} `EMON_INVALID_NAME`, `EMON_INVALID_OPTION` for options that are not a
   *   plain object (or a bad help/unit), or `EMON_METRIC_CONFLICT` if `name` is another type or has
   *   other label names
   */
  counter(name: string, options: MetricOptions = {}): Counter {
    checkDeclaration(name, options);
    this.#checkOwner(name);
    this.#yieldRestored(name, 'counter', options);
    return this.#claim(this.#register(name, 'counter', options, () => new Counter(name, options, this.#context)));
  }

  /** Registers (or returns) gauge `name`. @throws {MonitorError} as `counter` */
  gauge(name: string, options: MetricOptions = {}): Gauge {
    checkDeclaration(name, options);
    this.#checkOwner(name);
    this.#yieldRestored(name, 'gauge', options);
    return this.#claim(this.#register(name, 'gauge', options, () => new Gauge(name, options, this.#context)));
  }

  /** Registers (or returns) histogram `name`. @throws {MonitorError} as `counter`, or for other buckets */
  histogram(name: string, options: HistogramOptions = {}): Histogram {
    checkDeclaration(name, options);
    this.#checkOwner(name);
    this.#yieldRestored(name, 'histogram', options);
    const metric = this.#register(
      name,
      'histogram',
      options,
      () => new Histogram(name, options, this.#context, this.clock, this.defaultBuckets),
    );
    if (options.buckets !== undefined) {
      const asked = checkBuckets(name, options.buckets);
      if (asked.length !== metric.buckets.length || asked.some((b, i) => b !== metric.buckets[i])) {
        throw new MonitorError(
          ErrorCode.MetricConflict,
          `metric "${name}" is registered with buckets [${metric.buckets.join(', ')}], asked with [${asked.join(', ')}]`,
        );
      }
    }
    return this.#claim(metric);
  }

  /**
   * The source design's register_metric(Name, Type, Description).
   * @throws {MonitorError} `EMON_INVALID_OPTION` for an unknown type, or as `counter()`
   */
  register(name: string, type: MetricType, options: RegisterOptions = {}): AnyMetric {
    switch (type) {
      case 'counter':
        return this.counter(name, options);
      case 'gauge':
        return this.gauge(name, options);
      case 'histogram':
        return this.histogram(name, options);
      default:
        throw new MonitorError(
          ErrorCode.InvalidOption,
          `metric ${typeof name === 'string' ? `"${name}"` : describeValue(name)}: invalid type ${describeValue(type)} (allowed: ${TYPES.join(', ')})`,
        );
    }
  }

  /*
   * The message API's updates name the value's position, so these call the metrics' fixed-order
   * methods, which hold the one check of the value: the flexible `inc(labels, value)` /
   * `inc(value, labels)` would read a string value as the labels and report the wrong thing.
   */

  /**
   * increment(Name, Labels, Value) on a registered counter (or gauge).
   * @throws {MonitorError} as `require`, or `EMON_METRIC_CONFLICT` for an owned name (see `#updatable`)
   */
  increment(name: string, labels?: Labels, value = 1): void {
    const metric = this.#updatable(name);
    if (metric.type === 'histogram')
      throw new MonitorError(ErrorCode.MetricConflict, `metric "${name}" is a histogram: use observe`);
    metric.incBy(labels, value);
  }

  /** set(Name, Labels, Value) on a registered gauge. @throws {MonitorError} as `increment` */
  set(name: string, labels: Labels | undefined, value: number): void {
    this.#updatable(name, 'gauge').setTo(labels, value);
  }

  /** observe(Name, Labels, Value) on a registered histogram. @throws {MonitorError} as `increment` */
  observe(name: string, labels: Labels | undefined, value: number): void {
    this.#updatable(name, 'histogram').observeAt(labels, value);
  }

  /**
   * The metric a by-name update (the message API) may change: an owned metric is written only
   * through its owner's handles, which never come here, so a cast cannot forge or undo what the
   * owner measures (e.g. `http.server.requests{server="evil"}` or a negative connection count).
   */
  #updatable<T extends MetricType>(name: string, type?: T): Extract<AnyMetric, { type: T }> {
    const metric = this.require(name, type);
    const owner = this.#owners.get(name);
    if (owner !== undefined) {
      throw new MonitorError(
        ErrorCode.MetricConflict,
        `metric "${name}" is owned by ${owner}: only ${owner} updates it; the message API (increment, set, observe, batch, apply) may not`,
      );
    }
    return metric;
  }

  /**
   * get_metric(Name, Labels): the series' current value, or undefined when that label set has no
   * series yet. @throws {MonitorError} `EMON_UNKNOWN_METRIC`, `EMON_INVALID_LABELS`
   */
  getMetric(name: string, labels?: Labels): MetricValue | undefined {
    const metric = this.require(name);
    const series: Series | undefined = metric.find(labels);
    if (series === undefined) return undefined;
    return {
      name,
      type: metric.type,
      help: metric.help,
      unit: metric.unit,
      labels: series.labels,
      value: valueOf(series),
    };
  }

  /** collect_metrics(): every metric with every series and its current value. */
  collect(): MetricSnapshot[] {
    return this.metrics().map((m) => ({
      name: m.name,
      type: m.type,
      help: m.help,
      unit: m.unit,
      labelNames: m.labelNames,
      series: (m.series() as Series[]).map((s) => ({ labels: s.labels, value: valueOf(s) })),
    }));
  }

  /**
   * Registers a metric found in the store at start. Unlike `register`, the first declaration of
   * it by a caller that differs (another type, unit, label names or buckets) replaces it, with a
   * warning, instead of failing the caller: a deploy that changes a metric must not break because
   * of data written by the previous one.
   */
  restoreMetric(name: string, type: MetricType, options: RegisterOptions): AnyMetric {
    const known = this.#metrics.has(name);
    const metric = this.register(name, type, options);
    if (!known) this.#restoredOnly.add(name);
    return metric;
  }

  /**
   * Runs `declare`, whose metric declarations become `owner`'s (see the module header). `names`
   * (what `declare` will declare) are checked first, so a refused owner registers nothing.
   * Declaring them again inside another `own(owner, ...)` of the same owner is fine (two servers
   * instrumented into one table share the metrics).
   * @param owner names the owner in errors, e.g. `'instrument.http'`
   * @throws {MonitorError} `EMON_METRIC_CONFLICT` if one of `names` (or another name `declare`
   *   declares) is registered already by someone else, or owned by another owner; whatever
   *   `declare` throws
   */
  own<T>(owner: string, names: readonly string[], declare: () => T): T {
    const outer = this.#declaring;
    this.#declaring = owner;
    try {
      for (const name of names) this.#checkOwner(name);
      return declare();
    } finally {
      this.#declaring = outer;
    }
  }

  /** The owner of metric `name` (see `own`), or undefined for a metric of the application's. */
  ownerOf(name: string): string | undefined {
    return this.#owners.get(name);
  }

  /**
   * Refuses a declaration of an owned name by anyone but its owner, and an owner's declaration of
   * a name the application registered already (a metric restored from the store and not declared
   * yet this run is nobody's: the owner takes it).
   */
  #checkOwner(name: string): void {
    const owner = this.#owners.get(name);
    const declaring = this.#declaring;
    if (owner === declaring) return;
    if (owner !== undefined) {
      throw new MonitorError(
        ErrorCode.MetricConflict,
        `metric "${name}" is owned by ${owner}; choose another name for your metric (${owner}'s names are documented with it)`,
      );
    }
    if (declaring !== undefined && this.#metrics.has(name) && !this.#restoredOnly.has(name)) {
      throw new MonitorError(
        ErrorCode.MetricConflict,
        `${declaring} needs metric name "${name}", which is registered already by the application: rename that metric (${declaring} owns "${name}")`,
      );
    }
  }

  /** Records a metric declared inside `own()` as its owner's. */
  #claim<M extends AnyMetric>(metric: M): M {
    if (this.#declaring !== undefined) this.#owners.set(metric.name, this.#declaring);
    return metric;
  }

  /** A caller declares `name`: a restored-only metric that differs gives way (see `restoreMetric`). */
  #yieldRestored(name: string, type: MetricType, options: HistogramOptions): void {
    if (!this.#restoredOnly.delete(name)) return;
    const existing = this.#metrics.get(name)!;
    const labels = options.labels ?? [];
    // The unit is part of the exposed name (and may scale the values): a changed unit is another metric.
    let same =
      existing.type === type &&
      existing.unit === (options.unit ?? '') &&
      labels.length === existing.labelNames.length &&
      labels.every((l, i) => l === existing.labelNames[i]);
    if (same && existing.type === 'histogram' && options.buckets !== undefined) {
      const asked = options.buckets;
      same = asked.length === existing.buckets.length && asked.every((b, i) => b === existing.buckets[i]);
    }
    if (same) return;
    this.#forget(name);
    this.#log.warn(
      { metric: name },
      `metric "${name}" is now declared differently from the stored one: its stored values are dropped`,
    );
  }

  /** The metric registered as `name`, if any. */
  get(name: string): AnyMetric | undefined {
    return this.#metrics.get(name);
  }

  /**
   * The metric `name`, checked to be of `type` when given.
   * @throws {MonitorError} `EMON_UNKNOWN_METRIC` or `EMON_METRIC_CONFLICT`
   */
  require<T extends MetricType>(name: string, type?: T): Extract<AnyMetric, { type: T }> {
    const metric = this.#metrics.get(name);
    if (metric === undefined) {
      throw new MonitorError(
        ErrorCode.UnknownMetric,
        `unknown metric ${typeof name === 'string' ? `"${name}"` : describeValue(name)}: register it first`,
      );
    }
    if (type !== undefined && metric.type !== type) {
      throw new MonitorError(ErrorCode.MetricConflict, `metric "${name}" is a ${metric.type}, not a ${type}`);
    }
    return metric as Extract<AnyMetric, { type: T }>;
  }

  /** Every registered metric, in registration order. */
  metrics(): AnyMetric[] {
    return [...this.#metrics.values()];
  }

  #register<M extends AnyMetric>(name: string, type: M['type'], options: MetricOptions, create: () => M): M {
    checkMetricName(name);
    const existing = this.#metrics.get(name);
    if (existing === undefined) {
      const metric = create();
      const names = namesOf(metric, this.namespace);
      for (const mine of names) {
        const holder = this.#exposed.get(mine.name);
        if (holder !== undefined) throw collision(metric, mine, holder.metric, holder.reserved);
      }
      for (const reserved of names) this.#exposed.set(reserved.name, { metric, reserved });
      this.#metrics.set(name, metric);
      return metric;
    }
    if (existing.type !== type) {
      throw new MonitorError(
        ErrorCode.MetricConflict,
        `metric "${name}" is already registered as a ${existing.type}; cannot register it as a ${type}`,
      );
    }
    const asked = options.labels ?? [];
    if (asked.length !== existing.labelNames.length || asked.some((l, i) => l !== existing.labelNames[i])) {
      throw new MonitorError(
        ErrorCode.MetricConflict,
        `metric "${name}" is registered with labels [${existing.labelNames.join(', ')}], asked with [${asked.join(', ')}]`,
      );
    }
    return existing as M;
  }

  #forget(name: string): void {
    const metric = this.#metrics.get(name);
    if (metric === undefined) return;
    for (const reserved of namesOf(metric, this.namespace)) this.#exposed.delete(reserved.name);
    this.#metrics.delete(name);
    this.#owners.delete(name);
  }

  #overflow(metric: string): void {
    // The dropped-series counter's own overflow is not counted in itself (that would recurse).
    if (metric === DROPPED_SERIES_METRIC) return;
    this.#dropped.inc({ metric });
    if (this.#warned.has(metric)) return;
    this.#warned.add(metric);
    this.#log.warn(
      { metric, seriesLimit: this.seriesLimit },
      `metric "${metric}" reached its series limit (${this.seriesLimit}): new label sets go to one overflow series (labels "__overflow__")`,
    );
  }
}
