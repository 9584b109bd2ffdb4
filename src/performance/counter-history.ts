/**
 * CounterHistory: the request and error totals over time, so throughput, error rate, SLA values and
 * burn rates are `delta / elapsed` over any window (Prometheus's `increase()`). Two bounded tiers:
 * every sample for {@link FINE_SPAN_MS}, and about {@link COARSE_CAPACITY} spread over the longest SLA
 * window (~50 KB for 30 days). Downtime marked with `markGap` is not observed time, so a rate after a
 * restart is the rate since the restart. A counter that goes down is taken as a reset, as Prometheus
 * does.
 */

/** Request and error totals at one time (adjusted for counter resets). */
export interface CounterSample {
  /** Time of the reading, ms since the epoch. */
  at: number;
  requests: number;
  errors: number;
}

/** What happened over a window ending at the current reading. */
export interface WindowCounts {
  /** The window asked for, ms. */
  windowMs: number;
  /** The time the counts actually cover, ms (less than `windowMs` when history is shorter). */
  coveredMs: number;
  requests: number;
  errors: number;
}

/** The fine tier covers at least this much: the 6 h slow-burn window plus 30 min of room. */
export const FINE_SPAN_MS = 6.5 * 3_600_000;
/** Samples kept by the coarse tier. */
export const COARSE_CAPACITY = 2000;
/** Downtime spans remembered (the oldest are forgotten first). */
const MAX_GAPS = 64;
/** No two stored samples are closer than this (bounds the fine tier for tiny check intervals). */
const MIN_GAP_FLOOR_MS = 250;

/** A ring of samples in time order, at least `minGap` ms apart. */
class SampleRing {
  readonly #at: Float64Array;
  readonly #requests: Float64Array;
  readonly #errors: Float64Array;
  readonly minGap: number;
  #start = 0;
  #size = 0;

  constructor(capacity: number, minGap: number) {
    this.#at = new Float64Array(capacity);
    this.#requests = new Float64Array(capacity);
    this.#errors = new Float64Array(capacity);
    this.minGap = minGap;
  }

  get size(): number {
    return this.#size;
  }

  /** Stores `s` unless it is less than `minGap` after the newest sample (or not after it). */
  push(s: CounterSample): void {
    const capacity = this.#at.length;
    if (this.#size > 0 && s.at - this.#at[this.#index(this.#size - 1)]! < this.minGap) return;
    let i: number;
    if (this.#size < capacity) {
      i = this.#index(this.#size);
      this.#size++;
    } else {
      i = this.#start;
      this.#start = (this.#start + 1) % capacity;
    }
    this.#at[i] = s.at;
    this.#requests[i] = s.requests;
    this.#errors[i] = s.errors;
  }

  /** The `k`-th oldest sample. */
  get(k: number): CounterSample {
    const i = this.#index(k);
    return { at: this.#at[i]!, requests: this.#requests[i]!, errors: this.#errors[i]! };
  }

  /** Index (oldest = 0) of the newest sample at or before `t`, or -1 if every sample is after `t`. */
  atOrBefore(t: number): number {
    let lo = 0;
    let hi = this.#size - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.#at[this.#index(mid)]! <= t) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found;
  }

  #index(k: number): number {
    return (this.#start + k) % this.#at.length;
  }
}

export interface CounterHistoryOptions {
  /** ms between checks (`check_interval`). */
  checkIntervalMs: number;
  /** The longest window that will be asked for (the longest SLA window), ms. */
  longestWindowMs: number;
}

export class CounterHistory {
  readonly #fine: SampleRing;
  readonly #coarse: SampleRing;
  #lastRaw: { requests: number; errors: number } | undefined;
  #offset = { requests: 0, errors: 0 };
  /** Spans when nothing was counting, oldest first. */
  readonly #gaps: { from: number; to: number }[] = [];

  /**
   * @param options.checkIntervalMs ms between checks; samples are stored at most once per half of it
   * @param options.longestWindowMs the longest window a query will ask for
   */
  constructor(options: CounterHistoryOptions) {
    const fineGap = Math.max(MIN_GAP_FLOOR_MS, Math.floor(options.checkIntervalMs / 2));
    this.#fine = new SampleRing(Math.ceil(FINE_SPAN_MS / fineGap) + 2, fineGap);
    const coarseGap = Math.max(fineGap, Math.ceil((options.longestWindowMs * 1.05) / COARSE_CAPACITY));
    this.#coarse = new SampleRing(COARSE_CAPACITY + 2, coarseGap);
  }

  /** Samples held (both tiers). */
  get size(): number {
    return this.#fine.size + this.#coarse.size;
  }

  /**
   * Turns raw totals read from the table into a sample, adjusted for counter resets. Call it once
   * per reading, in time order (it remembers the last raw totals).
   */
  reading(at: number, raw: { requests: number; errors: number }): CounterSample {
    const last = this.#lastRaw;
    if (last !== undefined) {
      if (raw.requests < last.requests) this.#offset.requests += last.requests;
      if (raw.errors < last.errors) this.#offset.errors += last.errors;
    }
    this.#lastRaw = { requests: raw.requests, errors: raw.errors };
    return { at, requests: raw.requests + this.#offset.requests, errors: raw.errors + this.#offset.errors };
  }

  /**
   * Records that nothing was counting from `from` to `to` (the process was down): windows that
   * span it cover that much less time.
   */
  markGap(from: number, to: number): void {
    if (!(to > from)) return;
    this.#gaps.push({ from, to });
    if (this.#gaps.length > MAX_GAPS) this.#gaps.shift();
  }

  /** Keeps `sample` (from `reading`) for later window queries. */
  record(sample: CounterSample): void {
    this.#fine.push(sample);
    this.#coarse.push(sample);
  }

  /**
   * Requests and errors over the `windowMs` ending at `current` (a `reading` not necessarily
   * recorded yet).
   * @returns undefined when no earlier sample exists (nothing to take a difference from)
   */
  over(windowMs: number, current: CounterSample): WindowCounts | undefined {
    const from = this.#startOf(current.at - windowMs, current.at);
    if (from === undefined) return undefined;
    return {
      windowMs,
      coveredMs: current.at - from.at - this.#unobserved(from.at, current.at),
      requests: Math.max(0, current.requests - from.requests),
      errors: Math.max(0, current.errors - from.errors),
    };
  }

  /** ms of recorded gaps inside `[from, to]`. */
  #unobserved(from: number, to: number): number {
    let ms = 0;
    for (const gap of this.#gaps) ms += Math.max(0, Math.min(to, gap.to) - Math.max(from, gap.from));
    return ms;
  }

  /** The sample a window starting at `t` begins with: newest at or before `t`, else the oldest before `now`. */
  #startOf(t: number, now: number): CounterSample | undefined {
    for (const ring of [this.#fine, this.#coarse]) {
      const k = ring.atOrBefore(t);
      if (k >= 0) return ring.get(k);
    }
    // History shorter than the window: start from the oldest sample there is.
    let oldest: CounterSample | undefined;
    for (const ring of [this.#fine, this.#coarse]) {
      if (ring.size === 0) continue;
      const s = ring.get(0);
      if (s.at < now && (oldest === undefined || s.at < oldest.at)) oldest = s;
    }
    return oldest;
  }
}
