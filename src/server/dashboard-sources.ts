/**
 * `DashboardSources`: what the dashboard shows but does not own (the performance report, SLAs,
 * alerts, scores, the `/metrics` exposition, process states), as injected functions. The server
 * works before and without the other processes: the tree wires in functions that call them, a
 * test passes its own. A source that throws, rejects or outruns `SOURCE_TIMEOUT_MS` makes its
 * endpoint answer 503 with the reason; it never takes the server down.
 */
import { toError } from '../errors.js';
import { type Exposition, type StreamedExposition, streamExposition } from '../exposition/negotiate.js';
import type { Registry } from '../metrics/registry.js';
import type { DeadLetter } from '../notify/types.js';
import { type AlertView, SCORE_KINDS, type Scores, type SlaView, type StoreHealth } from './protocol.js';
import type { WriteStatus } from '../store/types.js';

export interface DashboardSources {
  /** The performance monitor's report; `undefined` when there is none yet. */
  report(): Promise<unknown>;
  slas(): Promise<SlaView[]>;
  /** Notifications given up on (the outbox's dead letters), secrets already redacted. */
  deadLetters(): Promise<DeadLetter[]>;
  /** Active (pending and firing) alerts. */
  alerts(): Promise<AlertView[]>;
  /** The newest 0-100 scores, `null` before the first check. Synchronous: read every frame. */
  scores(): Scores | null;
  /** The `/metrics` body for a request's `Accept` header. */
  metrics(accept: string | undefined): Promise<Exposition | StreamedExposition>;
  /** Supervised processes by name, for `/health`. */
  processes(): Record<string, 'running' | 'down'>;
  /** Whether the metric store's writes commit, for `/health` and each frame; absent without a store. Synchronous. */
  storeHealth?(): StoreHealth;
}

/** How long an endpoint waits for a source before answering 503. */
export const SOURCE_TIMEOUT_MS = 2000;

/** A source failed or did not answer in time; the endpoint answers 503 with `message`. */
export class SourceUnavailable extends Error {
  constructor(
    readonly source: string,
    reason: string,
  ) {
    super(`${source} unavailable: ${reason}`);
    this.name = 'SourceUnavailable';
  }
}

/**
 * Runs one source with a deadline.
 * @param name the source's name, for the reason (e.g. `'slas'`)
 * @param run the source function
 * @param timeoutMs default {@link SOURCE_TIMEOUT_MS}
 * @throws {SourceUnavailable} (rejects) when `run` throws, rejects or takes longer than `timeoutMs`
 */
export async function callSource<T>(
  name: string,
  run: () => T | Promise<T>,
  timeoutMs = SOURCE_TIMEOUT_MS,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new SourceUnavailable(name, `no answer within ${timeoutMs} ms`)), timeoutMs);
    });
    return await Promise.race([Promise.resolve().then(run), deadline]);
  } catch (err) {
    if (err instanceof SourceUnavailable) throw err;
    throw new SourceUnavailable(name, toError(err).message);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The newest scores as the performance monitor writes them into the table: gauge
 * `perf.score{kind="latency"|"throughput"|"error_rate"|"resources"|"overall"}`.
 * @returns `null` while the gauge does not exist; a kind without a series is `null`
 */
export function scoresFromRegistry(registry: Registry): Scores | null {
  const gauge = registry.get('perf.score');
  if (gauge === undefined || gauge.type !== 'gauge' || gauge.labelNames.length !== 1 || gauge.labelNames[0] !== 'kind')
    return null;
  const scores = {} as Scores;
  for (const kind of SCORE_KINDS) scores[kind] = gauge.find({ kind })?.value ?? null;
  return scores;
}

/**
 * Sources for a server running alone: no report, SLAs or alerts yet, scores from the table's
 * `perf.score{kind}` gauge (see `scoresFromRegistry`), no supervised processes, and `/metrics`
 * from `registry` in the format the Accept header asks for (OpenMetrics or the Prometheus text format). Override what exists:
 * `{ ...standaloneSources(registry), alerts: () => ... }`.
 */
export function standaloneSources(registry: Registry): DashboardSources {
  return {
    report: async () => undefined,
    slas: async () => [],
    deadLetters: async () => [],
    alerts: async () => [],
    scores: () => scoresFromRegistry(registry),
    metrics: async (accept) => streamExposition(registry, accept),
    processes: () => ({}),
  };
}

/** `MetricStore.writeStatus()` as `/health` and the feed show it. */
export function storeHealthOf(status: WriteStatus): StoreHealth {
  return status.ok
    ? { status: 'ok' }
    : { status: 'failing', error: status.error, reason: status.reason, since: status.since, attempts: status.attempts };
}
