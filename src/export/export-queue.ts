/**
 * A bounded FIFO of encoded remote-write batches with one sender: in order, one at a time (a receiver
 * refuses samples older than what it has), retried with backoff and jitter on network errors,
 * timeouts, 5xx and 429; any other 4xx rejects the batch for good. When full, the oldest waiting batch
 * is dropped. Nothing throws into the caller: every outcome is counted (`monitor.export.*`). With
 * `persist`, queued batches are also kept in LMDB and resent after a restart (best effort: a failed
 * write never blocks exporting).
 */
import type http from 'node:http';
import { ErrorCode, MonitorError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Counter } from '../metrics/counter.js';
import type { Registry } from '../metrics/registry.js';
import { agentFor, post, PostNetworkError, redactUrl } from '../net/post.js';
import type { RecordDb } from '../store/record-db.js';

/** One encoded request body and how many samples it carries. */
export interface Batch {
  body: Uint8Array;
  samples: number;
}

/** A batch as stored in the `persist` collection. */
export interface PersistedBatch {
  body: Uint8Array;
  samples: number;
}

/** Why one attempt failed (the `reason` label of `monitor.export.failures`). */
export type FailureReason = 'network' | 'timeout' | 'http_5xx' | 'http_429' | 'http_4xx';

/** Options of {@link ExportQueue}; defaults in each field's doc. */
export interface ExportQueueOptions {
  /** Where batches go (credentials in the URL become Basic auth and are never logged). */
  endpoint: string;
  /** Request headers (the format's content type and encoding). */
  headers: Readonly<Record<string, string>>;
  registry: Registry;
  logger: Logger;
  /** Batches waiting, at most (default 100); more drop the oldest. */
  maxBatches?: number;
  /** Tries per batch before it is dropped (default 10). */
  maxAttempts?: number;
  /** First retry delay in ms, doubled per attempt (default 500). */
  initialBackoffMs?: number;
  /** Longest retry delay in ms (default 30,000). */
  maxBackoffMs?: number;
  /** Per-request deadline in ms (default 10,000). */
  requestTimeoutMs?: number;
  /** Random in [0, 1) for the backoff jitter (default Math.random). */
  random?: () => number;
  /** Where queued batches are kept across restarts (e.g. `store.records('remote_write_queue')`); default: memory only. */
  persist?: RecordDb<PersistedBatch>;
}

interface Queued extends Batch {
  attempts: number;
  /** Its key in `persist`. */
  seq?: number;
}

/** Distinct failure messages logged before going quiet (they are still counted). */
const MAX_LOGGED = 10;

/** Counter of exported samples by `result`: sent, rejected, dropped. */
export const EXPORT_SAMPLES_METRIC = 'monitor.export.samples';
/** Counter of failed attempts by `reason`. */
export const EXPORT_FAILURES_METRIC = 'monitor.export.failures';
/** Counter of samples dropped before they were accepted. */
export const EXPORT_DROPPED_METRIC = 'monitor.export.dropped';

function positiveInt(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < 1)
    throw new MonitorError(
      ErrorCode.InvalidOption,
      `export queue: ${name} must be a positive integer, got ${String(v)}`,
    );
  return v;
}

/** The bounded, ordered, retrying sender described in the module header. */
export class ExportQueue {
  readonly #url: URL;
  readonly #where: string;
  readonly #headers: Readonly<Record<string, string>>;
  readonly #agent: http.Agent;
  readonly #log: Logger;
  readonly #maxBatches: number;
  readonly #maxAttempts: number;
  readonly #initialBackoff: number;
  readonly #maxBackoff: number;
  readonly #timeout: number;
  readonly #random: () => number;
  readonly #samples: Counter;
  readonly #failures: Counter;
  readonly #dropped: Counter;
  readonly #queue: Queued[] = [];
  readonly #logged = new Set<string>();
  #sending: Queued | undefined;
  #backoff: { timer: NodeJS.Timeout; wake: () => void } | undefined;
  #abort = new AbortController();
  #closed = false;
  #loop: Promise<void> | undefined;
  readonly #persist: RecordDb<PersistedBatch> | undefined;
  /** Writes to `persist` not yet committed: `close` waits for them, so a queue opened next reads what this one left. */
  readonly #writes = new Set<Promise<void>>();
  #seq = 0;

  /** @throws {MonitorError} `EMON_INVALID_OPTION` for a bad endpoint URL or option */
  constructor(options: ExportQueueOptions) {
    let url: URL;
    try {
      url = new URL(options.endpoint);
    } catch {
      throw new MonitorError(ErrorCode.InvalidOption, 'export queue: endpoint must be an absolute http(s) URL');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new MonitorError(ErrorCode.InvalidOption, `export queue: endpoint must be http(s), got ${url.protocol}`);
    }
    this.#url = url;
    this.#where = redactUrl(url);
    this.#headers = options.headers;
    this.#log = options.logger;
    this.#maxBatches = positiveInt('maxBatches', options.maxBatches, 100);
    this.#maxAttempts = positiveInt('maxAttempts', options.maxAttempts, 10);
    this.#initialBackoff = positiveInt('initialBackoffMs', options.initialBackoffMs, 500);
    this.#maxBackoff = positiveInt('maxBackoffMs', options.maxBackoffMs, 30_000);
    this.#timeout = positiveInt('requestTimeoutMs', options.requestTimeoutMs, 10_000);
    this.#random = options.random ?? Math.random;
    this.#agent = agentFor(url);
    const r = options.registry;
    this.#samples = r.counter(EXPORT_SAMPLES_METRIC, {
      help: 'Samples exported, by outcome (sent, rejected, dropped)',
      labels: ['result'],
    });
    this.#failures = r.counter(EXPORT_FAILURES_METRIC, {
      help: 'Failed export attempts, by reason',
      labels: ['reason'],
    });
    this.#dropped = r.counter(EXPORT_DROPPED_METRIC, {
      help: 'Samples dropped before export: queue full, out of attempts, or still queued at stop',
    });
    this.#persist = options.persist;
    this.#restore();
  }

  /** Batches a previous process left in `persist`, queued oldest first (beyond the bound: dropped). */
  #restore(): void {
    const db = this.#persist;
    if (db === undefined) return;
    let stored: [unknown, PersistedBatch][];
    try {
      stored = db.range();
    } catch (err) {
      this.#log.error({ err }, 'export queue: reading the persisted batches failed; starting empty');
      return;
    }
    for (const [key, value] of stored) {
      if (typeof key !== 'number' || !(value?.body instanceof Uint8Array) || !Number.isSafeInteger(value.samples)) {
        this.#log.warn({ key }, 'export queue: a persisted batch is not readable; removed');
        this.#forget(key as number);
        continue;
      }
      this.#seq = Math.max(this.#seq, key + 1);
      this.#queue.push({ body: value.body, samples: value.samples, attempts: 0, seq: key });
    }
    while (this.#queue.length > this.#maxBatches) this.#discard(this.#queue.shift()!);
    if (this.#queue.length > 0) {
      this.#log.info({ batches: this.#queue.length }, 'export queue: sending the batches a previous run left');
      this.#loop = this.#run().finally(() => (this.#loop = undefined));
    }
  }

  /** Batches waiting or being sent. */
  get pending(): number {
    return this.#queue.length + (this.#sending === undefined ? 0 : 1);
  }

  /** Queues `batch` (dropping the oldest waiting one when full); ignored after `close`. */
  push(batch: Batch): void {
    if (this.#closed) {
      this.#drop(batch.samples);
      return;
    }
    if (this.#queue.length >= this.#maxBatches) this.#discard(this.#queue.shift()!);
    const queued: Queued = { ...batch, attempts: 0 };
    if (this.#persist !== undefined) {
      queued.seq = this.#seq++;
      this.#write(() => this.#persist!.put(queued.seq!, { body: batch.body, samples: batch.samples }));
    }
    this.#queue.push(queued);
    this.#loop ??= this.#run().finally(() => (this.#loop = undefined));
  }

  /**
   * Stops: waiting backoffs are cut short and what is queued gets one last attempt each until
   * `timeoutMs` has passed; what is left then (and an in-flight request, aborted) is counted as
   * dropped, or with `persist` kept there for the next start. Closes the sockets. Idempotent;
   * never rejects.
   */
  async close(timeoutMs = 2000): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      const deadline = setTimeout(() => this.#abort.abort(), timeoutMs);
      this.#backoff?.wake();
      await this.#loop;
      clearTimeout(deadline);
    }
    await Promise.all(this.#writes);
    this.#agent.destroy();
  }

  /** Stops at once (for a kill): nothing more is sent, timers and sockets are released. */
  abort(): void {
    this.#closed = true;
    this.#abort.abort();
    this.#backoff?.wake();
    this.#agent.destroy();
  }

  async #run(): Promise<void> {
    while (this.#queue.length > 0) {
      if (this.#abort.signal.aborted) {
        // Persisted batches stay on disk for the next start; the others are lost.
        for (const b of this.#queue.splice(0)) if (b.seq === undefined) this.#drop(b.samples);
        return;
      }
      const batch = this.#queue.shift()!;
      this.#sending = batch;
      const outcome = await this.#attempt(batch);
      this.#sending = undefined;
      if (outcome.done) {
        this.#forget(batch.seq);
        continue;
      }
      if (this.#closed && batch.seq !== undefined) continue;
      if (this.#closed || batch.attempts >= this.#maxAttempts) {
        this.#discard(batch);
        continue;
      }
      // Retry the same batch first: order must be kept.
      this.#queue.unshift(batch);
      await this.#sleep(outcome.retryAfterMs ?? this.#backoffMs(batch.attempts));
    }
  }

  async #attempt(batch: Queued): Promise<{ done: boolean; retryAfterMs?: number }> {
    batch.attempts++;
    let reason: FailureReason;
    let message: string;
    let retryAfterMs: number | undefined;
    try {
      const res = await post(this.#url, batch.body, {
        headers: { ...this.#headers },
        agent: this.#agent,
        timeoutMs: this.#timeout,
        signal: this.#abort.signal,
      });
      if (res.status >= 200 && res.status < 300) {
        this.#samples.inc({ result: 'sent' }, batch.samples);
        return { done: true };
      }
      message = `POST ${this.#where}: HTTP ${res.status}: ${res.body.trim().slice(0, 200)}`;
      if (res.status === 429) {
        reason = 'http_429';
        retryAfterMs = retryAfter(res.headers['retry-after']);
      } else if (res.status >= 500) reason = 'http_5xx';
      else {
        this.#failures.inc({ reason: 'http_4xx' });
        this.#samples.inc({ result: 'rejected' }, batch.samples);
        this.#report(message);
        return { done: true };
      }
    } catch (err) {
      reason = err instanceof PostNetworkError ? (err.reason === 'aborted' ? 'timeout' : err.reason) : 'network';
      message = err instanceof Error ? err.message : String(err);
    }
    this.#failures.inc({ reason });
    this.#report(message);
    return retryAfterMs === undefined
      ? { done: false }
      : { done: false, retryAfterMs: Math.min(retryAfterMs, this.#maxBackoff) };
  }

  #backoffMs(attempts: number): number {
    const base = Math.min(this.#maxBackoff, this.#initialBackoff * 2 ** (attempts - 1));
    // Full jitter between half and all of the delay: senders restarted together spread out.
    return Math.round(base / 2 + (this.#random() * base) / 2);
  }

  #sleep(ms: number): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.#backoff = undefined;
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.#backoff = { timer, wake };
    });
  }

  /** Drops a batch for good: counted, and removed from `persist`. */
  #discard(batch: Queued): void {
    this.#drop(batch.samples);
    this.#forget(batch.seq);
  }

  #forget(seq: number | undefined): void {
    if (seq !== undefined && this.#persist !== undefined) this.#write(() => this.#persist!.remove(seq));
  }

  #write(op: () => Promise<void>): void {
    try {
      const write = op().catch((err: unknown) =>
        this.#report(`persisting the queue failed: ${err instanceof Error ? err.message : String(err)}`),
      );
      this.#writes.add(write);
      void write.finally(() => this.#writes.delete(write));
    } catch (err) {
      this.#report(`persisting the queue failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  #drop(samples: number): void {
    this.#dropped.inc(samples);
    this.#samples.inc({ result: 'dropped' }, samples);
  }

  #report(message: string): void {
    if (this.#logged.size >= MAX_LOGGED || this.#logged.has(message)) return;
    this.#logged.add(message);
    this.#log.warn({ endpoint: this.#where }, `export failed: ${message}`);
  }
}

/** Retry-After in ms (seconds or an HTTP date); undefined when absent or unreadable. */
function retryAfter(header: string | string[] | undefined): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}
