/**
 * Naming a stored series on the command line, in any of the ways a person has at hand:
 * - its key as stored: `requests.total{method="GET"}`, `http.latency{route="/"}#p95`;
 * - name and labels in any order, quoted or not: `requests.total{method=GET}`;
 * - a bare name, when the metric has exactly one series (or one without labels);
 * - its id: `42` or `#42` (a metric name never starts with a digit).
 * An unknown one is an error listing the closest stored keys.
 */
import { ErrorCode, MonitorError } from '../errors.js';
import type { SeriesDef } from '../store/types.js';

/** Suggestions shown for an unknown series. */
const MAX_SUGGESTIONS = 5;

/** `name{labels}#suffix` parsed, or undefined when `ref` is not of that shape. */
export function parseSeriesRef(ref: string): { name: string; labels: Record<string, string> } | undefined {
  const open = ref.indexOf('{');
  if (open < 0) return { name: ref, labels: {} };
  const close = ref.lastIndexOf('}');
  if (close < open) return undefined;
  const suffix = ref.slice(close + 1);
  if (suffix !== '' && !/^#[A-Za-z0-9_]+$/.test(suffix)) return undefined;
  const labels: Record<string, string> = {};
  const body = ref.slice(open + 1, close);
  let i = 0;
  while (i < body.length) {
    const eq = body.indexOf('=', i);
    if (eq < 0) return undefined;
    const label = body.slice(i, eq).trim();
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(label)) return undefined;
    i = eq + 1;
    while (body[i] === ' ') i++;
    let value = '';
    if (body[i] === '"') {
      i++;
      while (i < body.length && body[i] !== '"') {
        if (body[i] === '\\' && i + 1 < body.length) {
          const next = body[i + 1]!;
          value += next === 'n' ? '\n' : next;
          i += 2;
        } else value += body.charAt(i++);
      }
      if (body[i] !== '"') return undefined;
      i++;
    } else {
      const end = body.indexOf(',', i);
      value = body.slice(i, end < 0 ? body.length : end).trim();
      i = end < 0 ? body.length : end;
    }
    labels[label] = value;
    while (body[i] === ' ') i++;
    if (i < body.length) {
      if (body[i] !== ',') return undefined;
      i++;
    }
  }
  return { name: ref.slice(0, open).trim() + suffix, labels };
}

/**
 * The stored series `ref` names.
 * @param defs every stored series definition
 * @throws {MonitorError} `EMON_INVALID_QUERY` for an unknown or ambiguous series, naming the closest
 *   stored keys (or the candidates) and how to write a series
 */
export function resolveSeries(defs: readonly SeriesDef[], ref: string, dataDir: string): SeriesDef {
  const byKey = defs.find((d) => d.key === ref);
  if (byKey !== undefined) return byKey;
  const id = /^#?(\d{1,10})$/.exec(ref);
  if (id !== null) {
    const def = defs.find((d) => d.id === Number(id[1]));
    if (def !== undefined) return def;
    const ids =
      defs.length === 0
        ? 'the store has no series'
        : `ids run from ${Math.min(...defs.map((d) => d.id))} to ${Math.max(...defs.map((d) => d.id))}`;
    throw new MonitorError(
      ErrorCode.InvalidQuery,
      `no series with id ${id[1]} in ${dataDir} (${ids}); list them with: erlmcp-monitor inspect ${dataDir} --series`,
    );
  }
  const parsed = parseSeriesRef(ref);
  if (parsed !== undefined) {
    const named = defs.filter((d) => d.name === parsed.name);
    const labelled = ref.includes('{');
    const exact = named.filter((d) => sameLabels(d.labels, parsed.labels));
    if (exact.length === 1) return exact[0]!;
    if (!labelled && named.length === 1) return named[0]!;
    if (!labelled && named.length > 1) {
      const shown = named.slice(0, MAX_SUGGESTIONS).map((d) => `  ${d.key}`);
      throw new MonitorError(
        ErrorCode.InvalidQuery,
        `${JSON.stringify(ref)} has ${named.length} series in ${dataDir}; name one with its labels, e.g.:\n${shown.join('\n')}${named.length > MAX_SUGGESTIONS ? `\n  … and ${named.length - MAX_SUGGESTIONS} more` : ''}`,
      );
    }
  }
  const close = closestKeys(defs, ref);
  const hint =
    close.length === 0
      ? defs.length === 0
        ? ' (the store has no series yet)'
        : ''
      : `; closest:\n${close.map((k) => `  ${k}`).join('\n')}`;
  throw new MonitorError(
    ErrorCode.InvalidQuery,
    `no series ${JSON.stringify(ref)} in ${dataDir}${hint}\nName a series by its key (name{label="value"}), its name when it has one series, or its id; list them with: erlmcp-monitor inspect ${dataDir} --series`,
  );
}

function sameLabels(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && a[k] === b[k]);
}

/**
 * Stored keys nearest `ref`: those containing it (or its name) first, then by edit distance, at
 * most a third of the longer string's length away.
 */
export function closestKeys(defs: readonly SeriesDef[], ref: string): string[] {
  const wanted = ref.toLowerCase();
  const name = (parseSeriesRef(ref)?.name ?? ref).toLowerCase();
  const scored: { key: string; score: number }[] = [];
  for (const def of defs) {
    const key = def.key.toLowerCase();
    if (key.includes(wanted) || (name.length >= 3 && def.name.toLowerCase().includes(name))) {
      scored.push({ key: def.key, score: -1 + key.length / 1e6 });
      continue;
    }
    const limit = Math.max(2, Math.floor(Math.max(key.length, wanted.length) / 3));
    const distance = boundedDistance(wanted, key, limit);
    if (distance <= limit) scored.push({ key: def.key, score: distance });
  }
  return scored
    .sort((a, b) => a.score - b.score || a.key.localeCompare(b.key))
    .slice(0, MAX_SUGGESTIONS)
    .map((s) => s.key);
}

/** Levenshtein distance, or `limit + 1` as soon as it must exceed `limit` (keys can be long; stores can hold many). */
function boundedDistance(a: string, b: string, limit: number): number {
  if (Math.abs(a.length - b.length) > limit) return limit + 1;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    let best = i;
    for (let j = 1; j <= b.length; j++) {
      const v = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      row.push(v);
      if (v < best) best = v;
    }
    if (best > limit) return limit + 1;
    prev = row;
  }
  return prev[b.length]!;
}
