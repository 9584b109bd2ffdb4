/**
 * Checks of what callers give the store: `MetricStore.open`'s options and `defineSeries`' key and
 * definition, plus the check of a definition read back from the `series` database. Each failure is
 * a `MonitorError` naming the option or key, what was wrong and what is allowed.
 */
import path from 'node:path';
import { describeValue, ErrorCode, MonitorError } from '../errors.js';
import { ON_CORRUPT_CHOICES, type OnCorrupt } from './env-check.js';
import type { SeriesDef, SeriesType } from './types.js';

export const DEFAULT_DATA_DIR = './.erlmcp-monitor';
export const HOUR_MS = 3_600_000;
export const DEFAULT_RETENTION_MS = 24 * HOUR_MS;
export const DEFAULT_ROLLUP_RETENTION_MS = 7 * 24 * HOUR_MS;
/** Series keys are LMDB keys in `series_key` (LMDB's limit is 1,978 bytes). */
export const MAX_SERIES_KEY_BYTES = 1024;
/** Highest series id: ids are uint32 keys. */
export const MAX_SERIES_ID = 0xffff_ffff;
export const SERIES_TYPES: readonly SeriesType[] = ['counter', 'gauge', 'histogram'];
export const OPTION_KEYS: readonly string[] = ['dataDir', 'readOnly', 'retentionMs', 'rollupRetentionMs', 'onCorrupt'];

/** `StoreOptions` with every default applied. */
export interface ResolvedOptions {
  dataDir: string;
  readOnly: boolean;
  retentionMs: number;
  rollupRetentionMs: number;
  onCorrupt: OnCorrupt;
}

/** What is wrong with a stored series definition, or `undefined` if it is one `defineSeries` wrote. */
export function storedDefProblem(id: unknown, def: unknown): string | undefined {
  const at = `id ${describeValue(id)}`;
  if (typeof id !== 'number' || !Number.isInteger(id) || id < 1 || id > MAX_SERIES_ID)
    return `a record with an invalid key (${at})`;
  if (def === null || typeof def !== 'object' || Array.isArray(def))
    return `${describeValue(def)} at ${at}, not a series definition`;
  const d = def as Record<string, unknown>;
  if (d.id !== id) return `a definition at ${at} that names id ${describeValue(d.id)}`;
  if (typeof d.key !== 'string' || d.key.length === 0) return `a definition at ${at} with key ${describeValue(d.key)}`;
  if (typeof d.name !== 'string' || d.name.length === 0)
    return `a definition at ${at} with name ${describeValue(d.name)}`;
  if (!SERIES_TYPES.includes(d.type as SeriesType)) return `a definition at ${at} with type ${describeValue(d.type)}`;
  if (typeof d.help !== 'string' || typeof d.unit !== 'string')
    return `a definition at ${at} whose help or unit is not a string`;
  const labels = d.labels;
  if (
    labels === null ||
    typeof labels !== 'object' ||
    Array.isArray(labels) ||
    Object.values(labels).some((v) => typeof v !== 'string')
  ) {
    return `a definition at ${at} whose labels are not an object of strings`;
  }
  return undefined;
}

export function sameLabels(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && a[k] === b[k]);
}

export function checkSeriesKey(key: unknown): asserts key is string {
  if (typeof key !== 'string' || key.length === 0) {
    throw new MonitorError(
      ErrorCode.InvalidRecord,
      `defineSeries: invalid series key ${describeValue(key)} (expected a non-empty string)`,
    );
  }
  const bytes = Buffer.byteLength(key, 'utf8');
  if (bytes > MAX_SERIES_KEY_BYTES) {
    throw new MonitorError(
      ErrorCode.InvalidRecord,
      `defineSeries: series key ${describeValue(key)} is ${bytes} bytes (at most ${MAX_SERIES_KEY_BYTES} UTF-8 bytes allowed)`,
    );
  }
}

export function checkSeriesInput(key: string, input: unknown): Omit<SeriesDef, 'id' | 'key'> {
  const where = `defineSeries(${describeValue(key)})`;
  if (input === null || typeof input !== 'object') {
    throw new MonitorError(
      ErrorCode.InvalidRecord,
      `${where}: the definition must be an object { name, type, help?, unit?, labels? }, got ${describeValue(input)}`,
    );
  }
  const spec = { help: '', unit: '', labels: {}, ...stripUndefined(input as Record<string, unknown>) } as Record<
    string,
    unknown
  >;
  if (typeof spec.name !== 'string' || spec.name.length === 0) {
    throw new MonitorError(
      ErrorCode.InvalidRecord,
      `${where}: invalid name ${describeValue(spec.name)} (expected a non-empty string)`,
    );
  }
  if (!SERIES_TYPES.includes(spec.type as SeriesType)) {
    throw new MonitorError(
      ErrorCode.InvalidRecord,
      `${where}: invalid type ${describeValue(spec.type)} (expected one of ${SERIES_TYPES.join(', ')})`,
    );
  }
  if (typeof spec.help !== 'string') {
    throw new MonitorError(
      ErrorCode.InvalidRecord,
      `${where}: invalid help ${describeValue(spec.help)} (expected a string)`,
    );
  }
  if (typeof spec.unit !== 'string') {
    throw new MonitorError(
      ErrorCode.InvalidRecord,
      `${where}: invalid unit ${describeValue(spec.unit)} (expected a string)`,
    );
  }
  const labels = spec.labels;
  if (labels === null || typeof labels !== 'object' || Array.isArray(labels)) {
    throw new MonitorError(
      ErrorCode.InvalidRecord,
      `${where}: invalid labels ${describeValue(labels)} (expected an object of string values)`,
    );
  }
  const copy: Record<string, string> = {};
  for (const [name, value] of Object.entries(labels)) {
    if (typeof value !== 'string') {
      throw new MonitorError(
        ErrorCode.InvalidRecord,
        `${where}: label "${name}" has value ${describeValue(value)} (expected a string)`,
      );
    }
    copy[name] = value;
  }
  return { name: spec.name, type: spec.type as SeriesType, help: spec.help, unit: spec.unit, labels: copy };
}

export function stripUndefined(input: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined));
}

export function resolveOptions(input: unknown): ResolvedOptions {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new MonitorError(
      ErrorCode.InvalidOption,
      `MetricStore.open: options must be an object, got ${describeValue(input)}`,
    );
  }
  for (const key of Object.keys(input)) {
    if (!OPTION_KEYS.includes(key)) {
      throw new MonitorError(
        ErrorCode.InvalidOption,
        `MetricStore.open: unknown option "${key}" (allowed: ${OPTION_KEYS.join(', ')})`,
      );
    }
  }
  const spec = {
    dataDir: DEFAULT_DATA_DIR,
    readOnly: false,
    retentionMs: DEFAULT_RETENTION_MS,
    rollupRetentionMs: DEFAULT_ROLLUP_RETENTION_MS,
    onCorrupt: 'fail' as OnCorrupt,
    ...stripUndefined(input as Record<string, unknown>),
  };
  validDataDir(spec.dataDir);
  validReadOnly(spec.readOnly);
  validDuration('retentionMs', spec.retentionMs);
  validDuration('rollupRetentionMs', spec.rollupRetentionMs);
  validOnCorrupt(spec.onCorrupt);
  if (spec.rollupRetentionMs < spec.retentionMs) {
    throw new MonitorError(
      ErrorCode.InvalidOption,
      `MetricStore.open: rollupRetentionMs (${spec.rollupRetentionMs}) must be >= retentionMs (${spec.retentionMs})`,
    );
  }
  return { ...spec, dataDir: path.resolve(spec.dataDir) };
}

export function validDataDir(value: unknown): asserts value is string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new MonitorError(
      ErrorCode.InvalidOption,
      `MetricStore.open: invalid dataDir ${describeValue(value)} (expected a non-empty path string)`,
    );
  }
}

export function validReadOnly(value: unknown): asserts value is boolean {
  if (typeof value !== 'boolean') {
    throw new MonitorError(
      ErrorCode.InvalidOption,
      `MetricStore.open: invalid readOnly ${describeValue(value)} (expected true or false)`,
    );
  }
}

export function validOnCorrupt(value: unknown): asserts value is OnCorrupt {
  if (!ON_CORRUPT_CHOICES.includes(value as OnCorrupt)) {
    throw new MonitorError(
      ErrorCode.InvalidOption,
      `MetricStore.open: invalid onCorrupt ${describeValue(value)} (expected "fail" or "move_aside")`,
    );
  }
}

export function validDuration(name: string, value: unknown): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new MonitorError(
      ErrorCode.InvalidOption,
      `MetricStore.open: invalid ${name} ${describeValue(value)} (expected a positive integer number of ms)`,
    );
  }
}
