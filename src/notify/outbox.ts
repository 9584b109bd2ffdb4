/**
 * The persistent notification outbox: every delivery of a notification to a channel goes through it,
 * so an SMTP or webhook outage, or a restart, loses nothing. `enqueue` resolves once the record is
 * durable; delivery loops retry with backoff and move final failures to `dead_letters`; deliveries
 * of one alert to one channel keep their order. Deduplicated by (notification id, channel) within
 * `dedupeWindowMs`. At least once, not exactly once: every channel carries the notification id so a
 * receiver can tell a repeat. A full disk does not stop notifications (queued in memory, saved later).
 * Details: docs/design-notes.md.
 */
import { CHANNEL_NAMES } from '../config/schema.js';
import { describeValue, ErrorCode, MonitorError, toError } from '../errors.js';
import { createLogger, type Logger } from '../logger.js';
import type { Counter } from '../metrics/counter.js';
import type { Registry } from '../metrics/registry.js';
import type { MetricStore } from '../store/lmdb-store.js';
import { type RecordDb, type RecordKey, RecordWriteFailed } from '../store/record-db.js';
import { WriteOutage } from '../store/write-outage.js';
import { type BackoffOptions, type BackoffPolicy, backoffDelay, resolveBackoff } from './backoff.js';
import { checkNotification } from './check-notification.js';
import { MinHeap } from './min-heap.js';
import {
  type ChannelName,
  type DeadLetter,
  DeliveryError,
  type Notification,
  type NotificationChannel,
  type OutboxPort,
} from './types.js';

/** Options of {@link Outbox.open}. */
export interface OutboxOptions {
  /** The store whose `outbox`, `outbox_done` and `dead_letters` collections hold the state. */
  store: MetricStore;
  /** The channels, by name. The outbox owns them: `close()` closes them. */
  channels: ReadonlyMap<ChannelName, NotificationChannel> | readonly NotificationChannel[];
  /** Default: JSON lines on stderr. */
  logger?: Logger;
  /** Clock. Default `Date.now`. */
  now?: () => number;
  /** Jitter source in [0, 1). Default `Math.random`. */
  random?: () => number;
  /** Retry backoff; see `resolveBackoff` (defaults 1 s doubling to 5 min, 20 % jitter). */
  backoff?: BackoffOptions;
  /** Attempts before a delivery is dead-lettered. Default 10. */
  maxAttempts?: number;
  /** Sends in flight per channel. Default 2. */
  concurrency?: number;
  /** How long `close()` lets in-flight sends finish before aborting them. Default 5000 ms. */
  closeTimeoutMs?: number;
  /** Dead letters kept (oldest dropped first). Default 1000. */
  maxDeadLetters?: number;
  /** How long delivered ids are remembered for deduplication. Default 24 h. */
  dedupeWindowMs?: number;
  /** Counts deliveries in `alerts.notifications{channel,result}` (result: delivered, retried, dead, superseded). */
  registry?: Registry;
  /** Last cleaning of error text before it is logged or stored. Default: none. */
  redact?: (text: string) => string;
}

/** A queued delivery as persisted in the `outbox` collection, keyed `[notification id, channel]`. */
export interface OutboxRecord {
  notification: Notification;
  channel: ChannelName;
  /** Enqueue order, across restarts. */
  seq: number;
  enqueuedAt: number;
  attempts: number;
  firstAttemptAt?: number;
  nextAttemptAt: number;
  lastError?: string;
  /** Receivers (e.g. SMS numbers) an earlier attempt reached. */
  delivered: string[];
}

/** The `outbox_done` ledger: what became of a (notification, channel), for deduplication. */
interface DoneRecord {
  outcome: 'delivered' | 'dead' | 'superseded';
  at: number;
}

/** Collection names in the store. */
const OUTBOX_COLLECTIONS = { outbox: 'outbox', done: 'outbox_done', deadLetters: 'dead_letters' } as const;

interface Entry {
  readonly mapKey: string;
  readonly key: [string, ChannelName];
  readonly record: OutboxRecord;
  /** Settles once the record is durable (rejects if the write failed). */
  persisted: Promise<void>;
}

interface ChannelQueue {
  readonly channel: NotificationChannel;
  inFlight: number;
  /** Deliveries that head their alert's line, by due time. */
  readonly due: MinHeap<Entry>;
}

/** Stores an open outbox works on: one outbox per store. */
const storesWithOutbox = new WeakSet<MetricStore>();

/** Longest delay Node's timers honour. */
const MAX_TIMER_MS = 2_147_483_647;
/** Longest error text kept in a record or dead letter. */
const MAX_ERROR_CHARS = 500;
/** After `closeTimeoutMs`, how long aborted sends get to wind down. */
const ABORT_GRACE_MS = 1000;

export class Outbox implements OutboxPort {
  readonly #outbox: RecordDb<OutboxRecord>;
  readonly #done: RecordDb<DoneRecord>;
  readonly #dead: RecordDb<DeadLetter>;
  readonly #queues = new Map<ChannelName, ChannelQueue>();
  readonly #entries = new Map<string, Entry>();
  /** Per (channel, alert id): queued deliveries in enqueue order; only the first may be sent. */
  readonly #lines = new Map<string, Entry[]>();
  /** Records for channels not configured now: kept for a later run that has the channel. */
  #parked = 0;
  readonly #warnedUnknown = new Set<string>();
  readonly #inFlight = new Set<Promise<void>>();
  readonly #writes = new Set<Promise<unknown>>();
  readonly #abort = new AbortController();
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #backoff: BackoffPolicy;
  readonly #maxAttempts: number;
  readonly #concurrency: number;
  readonly #closeTimeoutMs: number;
  readonly #maxDeadLetters: number;
  readonly #dedupeWindowMs: number;
  readonly #redact: (text: string) => string;
  readonly #counter: Counter | undefined;
  readonly #outage: WriteOutage;
  /** Queued entries whose record is not durable (its write failed): saved again once writes commit. */
  readonly #unsaved = new Set<Entry>();
  #seq = 0;
  #timer: NodeJS.Timeout | undefined;
  #timerAt = Infinity;
  #sweepTimer: NodeJS.Timeout | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;
  #store: MetricStore | undefined;

  private constructor(options: OutboxOptions, channels: NotificationChannel[]) {
    const spec = {
      logger: createLogger(),
      now: () => Date.now(),
      random: () => Math.random(),
      maxAttempts: 10,
      concurrency: 2,
      closeTimeoutMs: 5000,
      maxDeadLetters: 1000,
      dedupeWindowMs: 86_400_000,
      redact: (text: string) => text,
      ...options,
    };
    this.#backoff = resolveBackoff(spec.backoff);
    this.#maxAttempts = positiveInt('maxAttempts', spec.maxAttempts, 1000);
    this.#concurrency = positiveInt('concurrency', spec.concurrency, 100);
    this.#closeTimeoutMs = positiveInt('closeTimeoutMs', spec.closeTimeoutMs, MAX_TIMER_MS);
    this.#maxDeadLetters = positiveInt('maxDeadLetters', spec.maxDeadLetters, 1_000_000);
    this.#dedupeWindowMs = positiveInt('dedupeWindowMs', spec.dedupeWindowMs, Number.MAX_SAFE_INTEGER);
    for (const name of ['now', 'random', 'redact'] as const) {
      if (typeof spec[name] !== 'function')
        throw new MonitorError(
          ErrorCode.InvalidOption,
          `outbox option ${name} must be a function, got ${describeValue(spec[name])}`,
        );
    }
    this.#log = spec.logger;
    this.#now = spec.now;
    this.#random = spec.random;
    this.#redact = spec.redact;
    this.#outbox = spec.store.records<OutboxRecord>(OUTBOX_COLLECTIONS.outbox);
    this.#done = spec.store.records<DoneRecord>(OUTBOX_COLLECTIONS.done);
    this.#dead = spec.store.records<DeadLetter>(OUTBOX_COLLECTIONS.deadLetters);
    for (const channel of channels) {
      this.#queues.set(channel.name, {
        channel,
        inFlight: 0,
        due: new MinHeap((a, b) => dueBefore(a.record, b.record)),
      });
    }
    this.#outage = new WriteOutage({
      registry: spec.registry,
      log: this.#log,
      what: 'notification outbox',
      now: () => performance.now(),
      retryMs: 0,
      maxRetryMs: 0,
    });
    this.#counter = spec.registry?.counter('alerts.notifications', {
      help: 'Notification deliveries by channel and result (delivered, retried, dead, superseded)',
      labels: ['channel', 'result'],
    });
  }

  /**
   * Opens the outbox on `options.store` and resumes every delivery persisted by an earlier run.
   *
   * @param options see {@link OutboxOptions} for each option and its default
   * @throws {MonitorError} `EMON_INVALID_OPTION` for a bad option or two channels with one name;
   *   `EMON_STORE_FAILED` if the store is closed or read-only
   */
  static open(options: OutboxOptions): Outbox {
    if (options === null || typeof options !== 'object') {
      throw new MonitorError(
        ErrorCode.InvalidOption,
        `outbox options must be an object, got ${describeValue(options)}`,
      );
    }
    const { store } = options;
    if (store === null || typeof store !== 'object' || typeof (store as Partial<MetricStore>).records !== 'function') {
      throw new MonitorError(
        ErrorCode.InvalidOption,
        `outbox option store must be a MetricStore, got ${describeValue(store)}`,
      );
    }
    if (storesWithOutbox.has(store)) {
      // Two loops over one outbox collection would each send every record.
      throw new MonitorError(
        ErrorCode.InvalidOption,
        `an outbox is already open on the store at ${store.dataDir}; close it first`,
      );
    }
    const outbox = new Outbox(options, checkChannels(options.channels));
    storesWithOutbox.add(store);
    outbox.#store = store;
    outbox.#resume();
    return outbox;
  }

  /**
   * Queues `notification` for each of `channels`; resolves once every delivery is durable.
   * Channels that are not configured are skipped (with one warning per name), and so are channels
   * that do not send resolved notifications when `reason` is `resolved`. A delivery already queued,
   * delivered or dead-lettered is not queued again.
   *
   * @throws {MonitorError} (rejects) `EMON_INVALID_NOTIFICATION` for a malformed notification or
   *   channel list, `EMON_OUTBOX_CLOSED` after `close()`, `EMON_STORE_FAILED` if the write fails
   */
  async enqueue(notification: Notification, channels: readonly ChannelName[]): Promise<void> {
    if (this.#closed) throw new MonitorError(ErrorCode.OutboxClosed, 'enqueue: the outbox is closed');
    checkNotification(notification);
    if (!Array.isArray(channels)) {
      throw new MonitorError(
        ErrorCode.InvalidNotification,
        `enqueue: channels must be an array of channel names, got ${describeValue(channels)}`,
      );
    }
    for (const name of channels as unknown[]) {
      if (!(CHANNEL_NAMES as readonly unknown[]).includes(name)) {
        throw new MonitorError(
          ErrorCode.InvalidNotification,
          `enqueue: unknown channel ${describeValue(name)} (allowed: ${CHANNEL_NAMES.map((c) => `"${c}"`).join(', ')})`,
        );
      }
    }
    const waits: Promise<void>[] = [];
    for (const name of new Set(channels as readonly ChannelName[])) {
      const queue = this.#queues.get(name);
      if (queue === undefined) {
        if (!this.#warnedUnknown.has(name)) {
          this.#warnedUnknown.add(name);
          this.#log.warn({ channel: name }, 'notification channel is not configured; its notifications are skipped');
        }
        continue;
      }
      if (notification.reason === 'resolved' && !queue.channel.sendsResolved) continue;
      const key: [string, ChannelName] = [notification.id, name];
      const mapKey = entryKey(key);
      const queued = this.#entries.get(mapKey);
      if (queued !== undefined) {
        waits.push(queued.persisted);
        continue;
      }
      if (this.#done.get(key) !== undefined) continue;
      const now = this.#now();
      const record: OutboxRecord = {
        notification: structuredClone(notification),
        channel: name,
        seq: ++this.#seq,
        enqueuedAt: now,
        attempts: 0,
        nextAttemptAt: now,
        delivered: [],
      };
      const entry: Entry = { mapKey, key, record, persisted: Promise.resolve() };
      this.#entries.set(mapKey, entry);
      entry.persisted = this.#track(this.#outbox.put(key, record)).then(
        () => this.#admit(entry),
        (err: unknown) => {
          if (err instanceof RecordWriteFailed && !this.#closed) {
            this.#unsaved.add(entry);
            this.#outage.failed(err);
            this.#admit(entry);
            return;
          }
          this.#entries.delete(mapKey);
          throw err;
        },
      );
      waits.push(entry.persisted);
    }
    await Promise.all(waits);
  }

  /** Deliveries queued and not yet delivered or dead-lettered (including those for channels not configured now). */
  pending(): number {
    return this.#entries.size + this.#parked;
  }

  /** Dead letters, newest first (at most `maxDeadLetters`). */
  deadLetters(): DeadLetter[] {
    return this.#dead.range({ reverse: true }).map(([, letter]) => letter);
  }

  /**
   * Stops the delivery loop, lets in-flight sends finish (at most `closeTimeoutMs`, then aborts
   * them), waits for the outbox's writes, and closes the channels. Queued deliveries stay in the
   * store for the next `open`. Idempotent. Close the outbox before its store.
   */
  close(): Promise<void> {
    this.#closing ??= this.#closeNow();
    return this.#closing;
  }

  async #closeNow(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    clearTimeout(this.#sweepTimer);
    this.#timer = undefined;
    if (!(await settledWithin(this.#inFlight, this.#closeTimeoutMs))) {
      this.#log.warn(
        { inFlight: this.#inFlight.size, closeTimeoutMs: this.#closeTimeoutMs },
        'outbox close: aborting sends still in flight',
      );
      this.#abort.abort();
      await settledWithin(this.#inFlight, ABORT_GRACE_MS);
    }
    await Promise.allSettled([...this.#writes]);
    if (this.#store !== undefined) storesWithOutbox.delete(this.#store);
    for (const queue of this.#queues.values()) {
      try {
        await queue.channel.close?.();
      } catch (err) {
        this.#log.warn({ channel: queue.channel.name, err: this.#clean(err) }, 'closing a notification channel failed');
      }
    }
  }

  #resume(): void {
    let resumed = 0;
    for (const [key, record] of this.#outbox.range()) {
      const typed = key as [string, ChannelName];
      this.#seq = Math.max(this.#seq, record.seq);
      if (this.#done.get(typed) !== undefined) {
        // Delivered (or dead) before a crash cut the removal short.
        void this.#track(this.#outbox.remove(typed)).catch((err: unknown) => this.#writeFailed('remove', typed, err));
        continue;
      }
      if (!this.#queues.has(record.channel)) {
        this.#parked++;
        continue;
      }
      const entry: Entry = { mapKey: entryKey(typed), key: typed, record, persisted: Promise.resolve() };
      this.#entries.set(entry.mapKey, entry);
      resumed++;
    }
    // Admit in enqueue order so each alert's line is rebuilt in order.
    for (const entry of [...this.#entries.values()].sort((a, b) => a.record.seq - b.record.seq)) this.#admit(entry);
    if (resumed > 0 || this.#parked > 0)
      this.#log.info({ resumed, parked: this.#parked }, 'outbox resumed queued notifications');
    this.#sweep();
  }

  /** Puts a durable entry in its alert's line, and in its channel's due heap if it is first. */
  #admit(entry: Entry): void {
    const lineKey = this.#lineKey(entry.record);
    const line = this.#lines.get(lineKey);
    if (line === undefined) {
      this.#lines.set(lineKey, [entry]);
      this.#queues.get(entry.record.channel)!.due.push(entry);
    } else {
      line.push(entry);
    }
    this.#pump();
  }

  #lineKey(record: OutboxRecord): string {
    return `${record.channel}\u0000${record.notification.alert.id}`;
  }

  /** Starts every due delivery a channel has room for, then sleeps until the next one is due. */
  #pump(): void {
    if (this.#closed) return;
    const now = this.#now();
    let wake = Infinity;
    for (const queue of this.#queues.values()) {
      while (queue.inFlight < this.#concurrency) {
        const next = queue.due.peek();
        if (next === undefined) break;
        if (next.record.nextAttemptAt > now) {
          wake = Math.min(wake, next.record.nextAttemptAt);
          break;
        }
        queue.due.pop();
        this.#start(queue, next);
      }
    }
    this.#arm(wake, now);
  }

  #arm(at: number, now: number): void {
    if (at === this.#timerAt && this.#timer !== undefined) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = at;
    if (at === Infinity) return;
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined;
        this.#timerAt = Infinity;
        this.#pump();
      },
      Math.min(MAX_TIMER_MS, Math.max(0, at - now)),
    );
  }

  #start(queue: ChannelQueue, entry: Entry): void {
    queue.inFlight++;
    const run = this.#attempt(queue.channel, entry)
      .catch((err: unknown) =>
        this.#log.error({ channel: queue.channel.name, err: this.#clean(err) }, 'outbox delivery bookkeeping failed'),
      )
      .finally(() => {
        queue.inFlight--;
        this.#inFlight.delete(run);
        this.#pump();
      });
    this.#inFlight.add(run);
  }

  async #attempt(channel: NotificationChannel, entry: Entry): Promise<void> {
    const { record, key } = entry;
    if (
      record.notification.reason === 'renotify' &&
      record.delivered.length === 0 &&
      (this.#lines.get(this.#lineKey(record))?.length ?? 0) > 1
    ) {
      await this.#supersede(entry);
      return;
    }
    const startedAt = this.#now();
    record.attempts++;
    record.firstAttemptAt ??= startedAt;
    const delivered = new Set(record.delivered);
    const context = {
      delivered,
      signal: this.#abort.signal,
      markDelivered: async (part: string): Promise<void> => {
        if (delivered.has(part)) return;
        delivered.add(part);
        record.delivered.push(part);
        await this.#track(this.#outbox.put(key, record));
      },
    };
    let failure: unknown;
    let ok = false;
    try {
      await channel.send(record.notification, context);
      ok = true;
    } catch (err) {
      failure = err;
    }
    if (ok) await this.#delivered(entry);
    else await this.#failed(entry, failure);
  }

  async #delivered(entry: Entry): Promise<void> {
    const { record, key } = entry;
    this.#counter?.inc({ channel: record.channel, result: 'delivered' });
    this.#log.debug(
      { channel: record.channel, notificationId: record.notification.id, attempts: record.attempts },
      'notification delivered',
    );
    // Ledger first: a crash between the two writes leaves a record the next open recognises as done.
    await Promise.all([
      this.#track(this.#done.put(key, { outcome: 'delivered', at: this.#now() })),
      this.#track(this.#outbox.remove(key)),
    ]).catch((err: unknown) => this.#writeFailed('record delivery of', key, err));
    // Only now: until the ledger has it, the entry itself is what makes a repeated enqueue a no-op.
    this.#finish(entry);
  }

  /**
   * Drops a re-notification that a later notification of the same alert has overtaken while it
   * waited (typically during an outage): "still firing" reminders must not pile up and arrive as a
   * burst once the channel is back. Firing and resolved notifications are never dropped.
   */
  async #supersede(entry: Entry): Promise<void> {
    const { record, key } = entry;
    this.#counter?.inc({ channel: record.channel, result: 'superseded' });
    this.#log.debug(
      { channel: record.channel, notificationId: record.notification.id },
      're-notification superseded by a later one; not sent',
    );
    await Promise.all([
      this.#track(this.#done.put(key, { outcome: 'superseded', at: this.#now() })),
      this.#track(this.#outbox.remove(key)),
    ]).catch((err: unknown) => this.#writeFailed('drop', key, err));
    this.#finish(entry);
  }

  async #failed(entry: Entry, failure: unknown): Promise<void> {
    const { record, key } = entry;
    const now = this.#now();
    const message = this.#clean(failure);
    record.lastError = message;
    if (this.#abort.signal.aborted) {
      // Cut short by close(): not the receiver's fault, so it does not count; the next run retries at once.
      record.attempts--;
      record.nextAttemptAt = now;
      await this.#track(this.#outbox.put(key, record)).catch((err: unknown) => this.#writeFailed('save', key, err));
      return;
    }
    const retryable = !(failure instanceof DeliveryError) || failure.retryable;
    const fields = {
      channel: record.channel,
      notificationId: record.notification.id,
      attempts: record.attempts,
      error: message,
    };
    if (!retryable || record.attempts >= this.#maxAttempts) {
      const letter: DeadLetter = {
        notificationId: record.notification.id,
        channel: record.channel,
        alertId: record.notification.alert.id,
        reason: record.notification.reason,
        attempts: record.attempts,
        lastError: message,
        firstAttemptAt: record.firstAttemptAt ?? now,
        deadAt: now,
      };
      this.#counter?.inc({ channel: record.channel, result: 'dead' });
      this.#log.error({ ...fields, retryable }, 'notification dead-lettered');
      await Promise.all([
        this.#track(this.#dead.put([now, record.notification.id, record.channel], letter)),
        this.#track(this.#done.put(key, { outcome: 'dead', at: now })),
        this.#track(this.#outbox.remove(key)),
      ]).catch((err: unknown) => this.#writeFailed('dead-letter', key, err));
      this.#finish(entry);
      if (this.#dead.count() > this.#maxDeadLetters) {
        await this.#track(this.#dead.trim(this.#maxDeadLetters)).catch((err: unknown) =>
          this.#writeFailed('trim dead letters after', key, err),
        );
      }
      return;
    }
    const retryAfterMs = failure instanceof DeliveryError ? failure.retryAfterMs : undefined;
    const delayMs = backoffDelay(this.#backoff, record.attempts, this.#random(), retryAfterMs);
    record.nextAttemptAt = now + delayMs;
    this.#counter?.inc({ channel: record.channel, result: 'retried' });
    this.#log.warn({ ...fields, delayMs }, 'notification delivery failed; retrying');
    await this.#track(this.#outbox.put(key, record)).catch((err: unknown) => this.#writeFailed('save', key, err));
    if (!this.#closed) this.#queues.get(record.channel)!.due.push(entry);
  }

  /** Removes a finished delivery and lets the next one of its alert's line become due. */
  #finish(entry: Entry): void {
    this.#entries.delete(entry.mapKey);
    this.#unsaved.delete(entry);
    const lineKey = this.#lineKey(entry.record);
    const line = this.#lines.get(lineKey);
    if (line === undefined) return;
    line.shift();
    if (line.length === 0) this.#lines.delete(lineKey);
    else this.#queues.get(entry.record.channel)!.due.push(line[0]!);
  }

  /** Forgets delivered ids older than the dedupe window; runs at open and then every hour or window. */
  #sweep(): void {
    const cutoff = this.#now() - this.#dedupeWindowMs;
    const stale: RecordKey[] = [];
    for (const [key, done] of this.#done.range()) if (done.at < cutoff) stale.push(key);
    for (const key of stale)
      void this.#track(this.#done.remove(key)).catch((err: unknown) => this.#writeFailed('forget', key, err));
    this.#sweepTimer = setTimeout(() => this.#sweep(), Math.min(this.#dedupeWindowMs, 3_600_000, MAX_TIMER_MS));
    this.#sweepTimer.unref();
  }

  #track<T>(write: Promise<T>): Promise<T> {
    this.#writes.add(write);
    const forget = () => void this.#writes.delete(write);
    write.then(() => {
      forget();
      this.#wrote();
    }, forget);
    return write;
  }

  /** A write committed: an outage is over, and the records it left unsaved are written now. */
  #wrote(): void {
    if (!this.#outage.failing) return;
    this.#outage.succeeded({ unsaved: this.#unsaved.size });
    for (const entry of [...this.#unsaved]) {
      this.#unsaved.delete(entry);
      if (this.#closed || !this.#entries.has(entry.mapKey)) continue;
      void this.#track(this.#outbox.put(entry.key, entry.record)).catch((err: unknown) =>
        this.#writeFailed('save', entry.key, err),
      );
    }
  }

  #writeFailed(what: string, key: RecordKey, err: unknown): void {
    if (err instanceof RecordWriteFailed) {
      const entry = this.#entries.get(entryKey(key as [string, ChannelName]));
      if (entry !== undefined) this.#unsaved.add(entry);
      this.#outage.failed(err, { key });
      return;
    }
    this.#log.error(
      { key, err: this.#clean(err) },
      `outbox could not ${what} a notification; it may be sent again after a restart`,
    );
  }

  /** The error's message as it may be logged and stored. Never throws: it runs in the catch handlers. */
  #clean(err: unknown): string {
    const message = toError(err).message;
    try {
      return String(this.#redact(message)).slice(0, MAX_ERROR_CHARS);
    } catch (redactErr) {
      // The raw text may hold a secret the redactor was meant to remove: keep only what went wrong.
      return `[error text withheld: the redact option threw ${toError(redactErr).name}]`;
    }
  }
}

function dueBefore(a: OutboxRecord, b: OutboxRecord): boolean {
  return a.nextAttemptAt < b.nextAttemptAt || (a.nextAttemptAt === b.nextAttemptAt && a.seq < b.seq);
}

function entryKey(key: readonly [string, ChannelName]): string {
  return `${key[1]}\u0000${key[0]}`;
}

function positiveInt(name: string, value: unknown, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
    throw new MonitorError(
      ErrorCode.InvalidOption,
      `invalid outbox option ${name} ${describeValue(value)} (expected an integer from 1 to ${max})`,
    );
  }
  return value;
}

function checkChannels(channels: unknown): NotificationChannel[] {
  const list: unknown[] = channels instanceof Map ? [...channels.values()] : Array.isArray(channels) ? channels : [];
  if (!(channels instanceof Map) && !Array.isArray(channels)) {
    throw new MonitorError(
      ErrorCode.InvalidOption,
      `outbox option channels must be a Map or an array of channels, got ${describeValue(channels)}`,
    );
  }
  const seen = new Set<string>();
  for (const channel of list as NotificationChannel[]) {
    if (
      channel === null ||
      typeof channel !== 'object' ||
      typeof channel.name !== 'string' ||
      typeof channel.send !== 'function'
    ) {
      throw new MonitorError(
        ErrorCode.InvalidOption,
        `outbox option channels holds ${describeValue(channel)} (expected a channel with a name and send())`,
      );
    }
    if (seen.has(channel.name))
      throw new MonitorError(
        ErrorCode.InvalidOption,
        `outbox option channels has two channels named "${channel.name}"`,
      );
    seen.add(channel.name);
  }
  return list as NotificationChannel[];
}

/** Whether every promise in `pending` settled within `ms` (the set may change while waiting). */
async function settledWithin(pending: ReadonlySet<Promise<unknown>>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    while (pending.size > 0) {
      const result = await Promise.race([Promise.allSettled([...pending]).then(() => true as const), timeout]);
      if (!result) return false;
    }
    return true;
  } finally {
    clearTimeout(timer);
  }
}
