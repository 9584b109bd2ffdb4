/**
 * Times on the command line: ms since the epoch (`1733500000000`), ISO 8601
 * (`2026-12-06T10:00:00Z`; without a zone it is local time, as `Date` reads it), `now`, or a time
 * relative to now: `-15m`, `-1h`, `-7d`, `now-90s` (units ms, s, m, h, d, w).
 */
import { UsageError } from './usage-error.js';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const RELATIVE = /^(?:now)?-(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$/;
const ISO_START = /^\d{4}-\d{2}-\d{2}/;

/** What every time flag accepts, for messages and help. */
export const TIME_FORMS =
  'ms since the epoch (1733500000000), ISO 8601 (2026-12-06T10:00:00Z), now, or relative to now (-15m, -1h, -7d; units ms s m h d w)';

/**
 * @param text the flag's value
 * @param flag the flag's name, for the message (e.g. `--from`)
 * @param nowMs what `now` is
 * @param command the subcommand, whose usage a refusal prints
 * @returns ms since the epoch, an integer >= 0
 * @throws {UsageError} for text that is none of the forms, or a time before the epoch
 */
export function parseTime(text: string, flag: string, nowMs: number, command: string): number {
  const t = text.trim();
  let ms: number;
  const relative = RELATIVE.exec(t);
  if (t === 'now') ms = nowMs;
  else if (relative !== null) ms = nowMs - Math.round(Number(relative[1]) * UNIT_MS[relative[2]!]!);
  else if (/^\d{1,16}$/.test(t)) ms = Number(t);
  else if (ISO_START.test(t)) ms = Date.parse(t);
  else ms = NaN;
  if (!Number.isSafeInteger(ms))
    throw new UsageError(`${flag}: cannot read ${JSON.stringify(text)} as a time; give ${TIME_FORMS}`, command);
  if (ms < 0) throw new UsageError(`${flag}: ${JSON.stringify(text)} is before the epoch (1970-01-01)`, command);
  return ms;
}
