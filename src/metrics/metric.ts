/**
 * What counters, gauges and histograms share: name, help, unit and label names (validated once,
 * at registration), the label map from label objects to series, binding, reset, and the series
 * identity used by the store and the exposition.
 *
 * A metric is a family of series, one per label set, each at a slot of its label map. Updates go
 * straight into the series' state (the "metric table": columns indexed by slot for counters and
 * gauges, one object per series for histograms); nothing on the update path touches a mailbox,
 * LMDB or the clock.
 */
import { describeValue, ErrorCode, MonitorError } from '../errors.js';
import { escapeLabelValue, LabelMap, type Labels, NO_SLOT, WALK_DONE } from './label-map.js';

export type MetricType = 'counter' | 'gauge' | 'histogram';

export interface MetricOptions {
  /** One line saying what is measured (Prometheus HELP). Default: the name. */
  help?: string;
  /** Unit of the values, e.g. `'ms'`, `'bytes'`, `'percent'`. Default `''`. */
  unit?: string;
  /** Label names, in the order used for keys. Default none. */
  labels?: readonly string[];
}

const MAX_NAME_LENGTH = 200;
/**
 * A metric name: letters, digits, `_`, `.` and `:`, not starting with a digit, at most 200
 * characters. Source-design names such as `requests.total` are accepted; exposition maps dots to `_`.
 */
export const METRIC_NAME = /^[a-zA-Z_][a-zA-Z0-9_.:]{0,199}$/;
/** A label name, as Prometheus and Alertmanager allow them: letters, digits, `_`, not starting with a digit. */
export const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
/**
 * Longest help text accepted, in characters. Every stored series definition carries its metric's
 * help: unbounded, a 100 KB help on 2,000 series made a 196 MB data.mdb.
 */
export const MAX_HELP_LENGTH = 1024;
/** Longest unit accepted, in characters: the unit becomes a suffix of the exposed name. */
export const MAX_UNIT_LENGTH = 64;
/** A unit is a name fragment (`ms`, `bytes`, `req/s`); `/` reads "per" and is exposed as `_`. */
const UNIT = /^[a-zA-Z][a-zA-Z0-9_/]*$/;
/** Longest series key (`name{labels}`, UTF-8) accepted: the store keys series by it (<= 1024 B, with room for `#p95`-style suffixes). */
export const MAX_SERIES_KEY_BYTES = 1000;

/** What a metric needs from its registry. */
export interface MetricContext {
  /** Max distinct series per metric; more label sets go to the overflow series. */
  readonly seriesLimit: number;
  /** Called on each update routed to the overflow series. */
  onOverflow(metric: string): void;
}

/**
 * @throws {MonitorError} `EMON_INVALID_NAME` naming the metric and the allowed pattern
 */
export function checkMetricName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || !METRIC_NAME.test(name)) {
    throw new MonitorError(
      ErrorCode.InvalidName,
      `invalid metric name ${describeValue(name)}: allowed are letters, digits, "_", "." and ":", not starting with a digit, at most ${MAX_NAME_LENGTH} characters`,
    );
  }
}

/**
 * Checks the help and unit of a declaration (each optional).
 * @throws {MonitorError} `EMON_INVALID_OPTION` naming the metric, the limit and what is allowed
 */
export function checkHelpAndUnit(metric: string, help: unknown, unit: unknown): void {
  if (help !== undefined) {
    if (typeof help !== 'string')
      throw new MonitorError(
        ErrorCode.InvalidOption,
        `metric "${metric}": help must be a string, got ${describeValue(help)}`,
      );
    if (help.length > MAX_HELP_LENGTH) {
      throw new MonitorError(
        ErrorCode.InvalidOption,
        `metric "${metric}": help is ${help.length} characters long (at most ${MAX_HELP_LENGTH})`,
      );
    }
  }
  if (unit !== undefined && unit !== '') {
    if (typeof unit !== 'string')
      throw new MonitorError(
        ErrorCode.InvalidOption,
        `metric "${metric}": unit must be a string, got ${describeValue(unit)}`,
      );
    if (unit.length > MAX_UNIT_LENGTH || !UNIT.test(unit)) {
      const size = unit.length > MAX_UNIT_LENGTH ? ` (${unit.length} characters)` : '';
      throw new MonitorError(
        ErrorCode.InvalidOption,
        `metric "${metric}": invalid unit ${describeValue(unit)}${size}: the unit becomes part of the exposed name, so it is letters, digits, "_" and "/" (exposed as "_"), starting with a letter, at most ${MAX_UNIT_LENGTH} characters, e.g. "ms", "bytes", "requests_per_second" (spelled out: promtool rejects abbreviations such as "req/s")`,
      );
    }
  }
}

/**
 * @throws {MonitorError} `EMON_INVALID_NAME` for a bad, reserved or repeated label name
 */
export function checkLabelNames(metric: string, names: unknown, reserved: readonly string[] = []): readonly string[] {
  if (names === undefined) return [];
  if (!Array.isArray(names))
    throw new MonitorError(
      ErrorCode.InvalidName,
      `metric "${metric}": labels must be an array of label names, got ${describeValue(names)}`,
    );
  const seen = new Set<string>();
  for (const name of names) {
    if (typeof name !== 'string' || !LABEL_NAME.test(name) || name.startsWith('__')) {
      throw new MonitorError(
        ErrorCode.InvalidName,
        `metric "${metric}": invalid label name ${describeValue(name)}: allowed are letters, digits and "_", not starting with a digit or "__"`,
      );
    }
    if (reserved.includes(name))
      throw new MonitorError(ErrorCode.InvalidName, `metric "${metric}": label name "${name}" is reserved`);
    if (seen.has(name))
      throw new MonitorError(ErrorCode.InvalidName, `metric "${metric}": label name "${name}" appears twice`);
    seen.add(name);
  }
  return Object.freeze([...(names as string[])]);
}

/** The value error every update path throws, so messages read the same everywhere. */
export function invalidValue(metric: string, what: string, value: unknown): MonitorError {
  return new MonitorError(ErrorCode.InvalidValue, `metric "${metric}": ${what}, got ${describeValue(value)}`);
}

/**
 * An update whose result would leave the finite numbers. Refused rather than stored: a series
 * holding ±Infinity could not be restored from the store and would restart from zero.
 */
export function overflowValue(metric: string, current: number, change: number): MonitorError {
  return new MonitorError(
    ErrorCode.InvalidValue,
    `metric "${metric}": the value would overflow (current ${current}, change ${change}); a series holds finite numbers only`,
  );
}

/** Prometheus-style series key, `name{a="x",b="y"}` in declared label order, values escaped. */
export function seriesKey(name: string, labels: Readonly<Record<string, string>>): string {
  return `${name}${formatLabels(labels)}`;
}

/**
 * `{a="x",b="y"}` in declared order, values escaped as the Prometheus text format wants (`\\`,
 * `\"`, `\n`); `''` for no labels. `extra` is one more pre-formatted pair, such as `le="0.5"`.
 */
export function formatLabels(labels: Readonly<Record<string, string>>, extra?: string): string {
  const pairs = formatLabelPairs(labels);
  if (extra !== undefined) return pairs === '' ? `{${extra}}` : `{${pairs},${extra}}`;
  return pairs === '' ? '' : `{${pairs}}`;
}

/** `a="x",b="y"` (no braces) in declared order, values escaped; `''` for no labels. */
export function formatLabelPairs(labels: Readonly<Record<string, string>>): string {
  let out = '';
  for (const k in labels) out += `${out === '' ? '' : ','}${k}="${escapeLabelValue(labels[k]!)}"`;
  return out;
}

/**
 * One series: a label set of a metric and its values. Subclasses add the update methods. A
 * counter's or gauge's series is a handle onto its metric's columns, made when asked for (`bind`,
 * `find`, `series()`): two handles on one series are two objects that read and write the same state.
 */
export abstract class Series {
  /** The metric's name. */
  abstract readonly metric: string;
  abstract readonly labels: Readonly<Record<string, string>>;
  /** Store id, assigned at the first flush that includes this series. */
  abstract storeId: number | undefined;
  /** The version last written to the store. */
  abstract flushedVersion: number | undefined;

  /**
   * The series' stable identity, `name{a="x"}`. Computed on demand, not stored: it is read once
   * per series per run (when the store first sees it), and keeping it cost ~60 B per series.
   */
  get key(): string {
    return seriesKey(this.metric, this.labels);
  }

  /** A JSON-able copy of the state, for persistence. */
  abstract snapshot(): unknown;
  /** Restores a `snapshot()` from an earlier run (and counts it as flushed). Throws on a malformed snapshot. */
  abstract restore(state: unknown): void;
  /**
   * A number that changes whenever the series does (a counter's or gauge's value, a histogram's
   * count): the store writes a series only when its version moved since the last flush.
   */
  abstract version(): number;

  changedSinceFlush(): boolean {
    return this.version() !== this.flushedVersion;
  }
}

export abstract class Metric<S extends Series> {
  abstract readonly type: MetricType;
  readonly name: string;
  readonly help: string;
  readonly unit: string;
  readonly labelNames: readonly string[];
  /** Replaced (not emptied) by `reset`, so handles made before keep their labels. */
  protected map: LabelMap;
  readonly #context: MetricContext;
  #dropped = 0;
  #generation = 0;

  protected constructor(
    name: string,
    options: MetricOptions,
    context: MetricContext,
    reservedLabels: readonly string[] = [],
  ) {
    checkMetricName(name);
    checkHelpAndUnit(name, options.help, options.unit);
    this.name = name;
    this.help = options.help ?? name;
    this.unit = options.unit ?? '';
    this.labelNames = checkLabelNames(name, options.labels, reservedLabels);
    this.#context = context;
    this.map = this.#newMap();
  }

  #newMap(): LabelMap {
    const name = this.name;
    const createChecked = (slot: number, labels: Readonly<Record<string, string>>) => {
      const bytes = Buffer.byteLength(seriesKey(name, labels));
      if (bytes > MAX_SERIES_KEY_BYTES) {
        throw new MonitorError(
          ErrorCode.InvalidLabels,
          `metric "${name}": label values too long: the series key would be ${bytes} bytes (at most ${MAX_SERIES_KEY_BYTES})`,
        );
      }
      this.created(slot, labels);
    };
    return new LabelMap(name, this.labelNames, createChecked, this.#context.seriesLimit, () => {
      this.#dropped++;
      this.#context.onOverflow(name);
    });
  }

  /** Sets up the state of a new series at `slot` of the current map. */
  protected abstract created(slot: number, labels: Readonly<Record<string, string>>): void;
  /** The series at `slot` of the current map. */
  protected abstract at(slot: number): S;
  /** Drops every series' state (the map was replaced by a new, empty one). */
  protected abstract cleared(): void;

  /**
   * The series for `labels` as a handle whose update methods skip the label lookup: the hot path.
   * @throws {MonitorError} `EMON_INVALID_LABELS`
   */
  bind(labels?: Labels): S {
    return this.at(this.map.get(labels));
  }

  /**
   * The series for `labels` if it exists (never creates one).
   * @throws {MonitorError} `EMON_INVALID_LABELS`
   */
  find(labels?: Labels): S | undefined {
    const slot = this.map.find(labels);
    return slot === NO_SLOT ? undefined : this.at(slot);
  }

  /**
   * The slot of the series for `labels`, `NO_SLOT` if it does not exist (never creates one): `find`
   * without the handle, for readers that read slots.
   * @throws {MonitorError} `EMON_INVALID_LABELS`
   */
  findSlot(labels?: Labels): number {
    return this.map.find(labels);
  }

  /** Every series in creation order, the overflow series last if the limit was reached. */
  series(): S[] {
    const out: S[] = [];
    this.map.forEachSlot((slot) => out.push(this.at(slot)));
    return out;
  }

  /**
   * Visits at most `maxCount` series from walk position `from` (0 to start) in the order of
   * `series()`, calling `visit` with each one's slot, and returns the position to resume from or
   * `WALK_DONE`. No handle is made: read a slot with `labelsAt`, `labelPairsAt`, `keyAt`,
   * `seriesAt` (a counter's or gauge's `table` has its columns). A resumed walk also visits the
   * series created since, each series exactly once.
   *
   * A walk resumed across awaits passes the `generation` it read when it took the table: once
   * `reset` replaced the map and the table, that walk ends (`WALK_DONE`, nothing visited), because
   * its positions and its table belong to the old series, and the new map's slot 1000 is another
   * series than the old table's slot 1000. Without `generation` the walk follows the current map.
   */
  walk(from: number, maxCount: number, visit: (slot: number) => void, generation?: number): number {
    if (generation !== undefined && generation !== this.#generation) return WALK_DONE;
    return this.map.walk(from, maxCount, visit);
  }

  /** Changes at each `reset`: a walk bound to one generation reads one map and one table. */
  get generation(): number {
    return this.#generation;
  }

  /** The series at `slot` (a handle for a counter or gauge, its object for a histogram). */
  seriesAt(slot: number): S {
    return this.at(slot);
  }

  /** The label object of the series at `slot` (a new frozen object each call). */
  labelsAt(slot: number): Readonly<Record<string, string>> {
    return this.map.labelsOf(slot);
  }

  /** The value of the `i`th label name (`labelNames[i]`) of the series at `slot`, without a label object. */
  labelValueAt(slot: number, i: number): string {
    return this.map.valueOf(slot, i);
  }

  /** The escaped `a="x",b="y"` of the series at `slot` (as `formatLabelPairs(labelsAt(slot))`). */
  labelPairsAt(slot: number): string {
    return this.map.labelPairsOf(slot);
  }

  /** The series key `name{a="x"}` of the series at `slot`. */
  keyAt(slot: number): string {
    const pairs = this.map.labelPairsOf(slot);
    return pairs === '' ? this.name : `${this.name}{${pairs}}`;
  }

  /** Number of series, the overflow series included: 0 when `walk` would visit none. */
  get slots(): number {
    return this.map.slots;
  }

  /** Number of series, not counting the overflow series. */
  get size(): number {
    return this.map.size;
  }

  /** Updates routed to the overflow series because the series limit was reached. */
  get droppedUpdates(): number {
    return this.#dropped;
  }

  /** Forgets every series (bound handles keep working but are no longer reported). */
  reset(): void {
    this.#generation++;
    this.map = this.#newMap();
    this.cleared();
  }
}

/*
 * Update methods take `(labels, value)` or `(value, labels)`: the number is the value. These two
 * read the pair without building an array or object, so the label path allocates nothing more.
 */

/**
 * The labels of a `(labels, value)` / `(value, labels)` pair. Only read after `valueArg`'s value
 * passed its check, so `a` is then a number, an object, null or undefined.
 */
export function labelsArg(a: unknown, b: unknown): Labels | undefined {
  return (typeof a === 'number' ? b : a) as Labels | undefined;
}

/**
 * The value of a `(labels, value)` / `(value, labels)` pair, `fallback` when none was given. In
 * the first place an object, null or undefined is the labels and anything else the value, so
 * `inc('5')` or `inc(5n)` is refused as a bad value instead of being read as labels.
 */
export function valueArg(a: unknown, b: unknown, fallback?: number): unknown {
  if (typeof a === 'number') return a;
  if (a !== undefined && typeof a !== 'object') return a;
  return b === undefined ? fallback : b;
}
