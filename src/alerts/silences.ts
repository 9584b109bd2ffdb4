/**
 * Silences, as in Alertmanager: hold back notifications for alerts matching some matchers from
 * `startsAt` to `endsAt`, with who asked and why. A silenced alert stays active; if still firing
 * when the silence ends, it is notified then. Resolved notifications are never held back, so no
 * receiver keeps an alert open forever.
 *
 * `startsAt`/`endsAt` are kept as given but compared as steady copies (`Timeline`, src/clock.ts), so
 * a silence lasts the time it was set for whatever the wall clock does. States and expiry:
 * docs/design-notes.md.
 */
import { describeValue, ErrorCode, MonitorError } from '../errors.js';
import { stableId } from './fingerprint.js';
import { checkMatchers, compileMatchers, type LabelMatcher, type LabelPredicate } from './label-matcher.js';

/** A silence as given (`add_silence`). */
export interface SilenceInput {
  matchers: LabelMatcher[];
  /** ms since the epoch (default: now). */
  startsAt?: number;
  /** ms since the epoch, after `startsAt` and in the future. */
  endsAt: number;
  createdBy: string;
  comment: string;
}

/** A stored silence (plain data). */
export interface Silence {
  id: string;
  matchers: LabelMatcher[];
  startsAt: number;
  endsAt: number;
  createdBy: string;
  comment: string;
  createdAt: number;
}

export type SilenceState = 'pending' | 'active' | 'expired';

/** A silence as `list_silences` shows it. */
export interface SilenceView extends Silence {
  state: SilenceState;
}

const SILENCE_KEYS = ['matchers', 'startsAt', 'endsAt', 'createdBy', 'comment'];
const MAX_TEXT = 1000;

/**
 * Applies the defaults and checks every field.
 * @param input the untrusted silence
 * @param now the current time (ms); `startsAt` defaults to it
 * @param seq a number making the id unique among silences created in the same ms
 * @throws {MonitorError} `EMON_INVALID_SILENCE` naming the field and what is allowed
 */
export function checkSilence(input: unknown, now: number, seq: number): Silence {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new MonitorError(ErrorCode.InvalidSilence, `a silence must be an object, got ${describeValue(input)}`);
  }
  const raw = input as Record<string, unknown>;
  const unknown = Object.keys(raw).find((key) => !SILENCE_KEYS.includes(key) && key !== 'type');
  if (unknown !== undefined) throw invalid(`unknown key "${unknown}" (allowed: ${SILENCE_KEYS.join(', ')})`);
  const spec: Record<string, unknown> = { startsAt: now, ...raw };
  const matchers = checkMatchers('silence', spec.matchers, ErrorCode.InvalidSilence, { nonEmpty: true });
  const startsAt = validTime('startsAt', spec.startsAt);
  const endsAt = validTime('endsAt', spec.endsAt);
  if (endsAt <= now) throw invalid(`endsAt (${endsAt}) is not in the future (now is ${now})`);
  if (endsAt <= startsAt) throw invalid(`endsAt (${endsAt}) must be after startsAt (${startsAt})`);
  const createdBy = validText('createdBy', spec.createdBy);
  const comment = validText('comment', spec.comment);
  return {
    id: stableId('silence', now, seq, createdBy),
    matchers,
    startsAt,
    endsAt,
    createdBy,
    comment,
    createdAt: now,
  };
}

/** The state of a silence spanning `silence` at `now` (same timeline). */
export function silenceState(silence: SteadySpan, now: number): SilenceState {
  if (now < silence.startsAt) return 'pending';
  return now < silence.endsAt ? 'active' : 'expired';
}

/** A silence's start and end on the steady timeline. */
export interface SteadySpan {
  startsAt: number;
  endsAt: number;
}

/** The silences in force, compiled once each. */
export class SilenceSet {
  readonly #silences = new Map<string, { silence: Silence; steady: SteadySpan; match: LabelPredicate }>();

  get size(): number {
    return this.#silences.size;
  }

  /**
   * Adds or replaces a checked silence.
   * @param steady its span on the steady timeline (default: its own wall times)
   */
  put(silence: Silence, steady: SteadySpan = silence): void {
    this.#silences.set(silence.id, {
      silence,
      steady: { startsAt: steady.startsAt, endsAt: steady.endsAt },
      match: compileMatchers(silence.matchers),
    });
  }

  /** The steady span of the silence `id`, if held. */
  steadySpan(id: string): SteadySpan | undefined {
    return this.#silences.get(id)?.steady;
  }

  /** The state of the silence `id` at the steady time `now` (undefined if not held). */
  state(id: string, now: number): SilenceState | undefined {
    const entry = this.#silences.get(id);
    return entry === undefined ? undefined : silenceState(entry.steady, now);
  }

  get(id: string): Silence | undefined {
    return this.#silences.get(id)?.silence;
  }

  delete(id: string): void {
    this.#silences.delete(id);
  }

  all(): Silence[] {
    return [...this.#silences.values()].map((e) => e.silence);
  }

  /** The first silence active at the steady time `now` whose matchers match `labels`, if any. */
  silencing(labels: Readonly<Record<string, string>>, now: number): Silence | undefined {
    for (const { silence, steady, match } of this.#silences.values()) {
      if (silenceState(steady, now) === 'active' && match(labels)) return silence;
    }
    return undefined;
  }

  /** Silences that ended more than `retainMs` before the steady time `now`. */
  expiredBefore(now: number, retainMs: number): Silence[] {
    return [...this.#silences.values()].filter((e) => now - e.steady.endsAt > retainMs).map((e) => e.silence);
  }
}

function invalid(what: string): MonitorError {
  return new MonitorError(ErrorCode.InvalidSilence, `silence: ${what}`);
}

function validTime(field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw invalid(
      `${field} must be a time in ms since the epoch (a non-negative integer), got ${describeValue(value)}`,
    );
  }
  return value;
}

function validText(field: string, value: unknown): string {
  if (typeof value !== 'string' || value.trim() === '' || value.length > MAX_TEXT) {
    throw invalid(`${field} must be a non-empty string of at most ${MAX_TEXT} characters, got ${describeValue(value)}`);
  }
  return value;
}
