/**
 * `RecordDb`: a named collection of plain records (SLA results, alerts, silences, the outbox) in the
 * metric store's LMDB env; open one with `MetricStore.records(name)`, never as a plain lmdb-js db
 * (values are `record-codec.ts` bytes). Keys are strings, numbers or arrays of them, so
 * `[timestampMs, seq]` reads back in time order. Each write resolves once durable (an awaited `put`
 * survives SIGKILL); reads are synchronous.
 */
import { describeValue, ErrorCode, MonitorError, toError } from '../errors.js';
import { committed } from './commit-guard.js';
import { decodeRecordValue, dictionaryFor, encodeRecordValue, type RecordDictionary } from './record-codec.js';

/** A record key: a string, a finite number, or an array of them (compared element by element). */
export type RecordKey = string | number | (string | number)[];

/** Options of {@link RecordDb.range}. */
export interface RecordRange {
  /** First key (inclusive). Default: the first record. */
  start?: RecordKey;
  /** Key to stop before (exclusive). Default: past the last record. */
  end?: RecordKey;
  /** At most this many records. */
  limit?: number;
  /** Newest (highest key) first; then `start` is the high end. */
  reverse?: boolean;
}

/**
 * The part of an lmdb-js `Database` (opened with `encoding: 'binary'`: values are the codec's
 * bytes) a `RecordDb` uses. Declared here so the package's public
 * declarations carry no lmdb types: lmdb's index.d.ts fails a consumer's `skipLibCheck: false`
 * under module nodenext (TS1203).
 */
export interface RecordBackend<V> {
  get(key: RecordKey): V | undefined;
  put(key: RecordKey, value: V): Promise<boolean>;
  remove(key: RecordKey): Promise<boolean>;
  getRange(options: RecordRange): Iterable<{ key: RecordKey; value: V }>;
  getKeys(options: { limit: number }): Iterable<RecordKey>;
  getCount(): number;
  transaction<T>(action: () => T): Promise<T>;
  batch(action: () => unknown): Promise<boolean>;
  clearAsync(): Promise<unknown>;
}

/** What a `RecordDb` needs from the store that owns it. */
export interface RecordDbHost {
  readonly dataDir: string;
  readonly readOnly: boolean;
  /** Throws `EMON_STORE_FAILED` if the store is closed. */
  assertOpen(op: string): void;
  /** Moves a reader to the newest snapshot (no-op for the writer). */
  refresh(): void;
  /** Throws `EMON_STORE_FAILED` if data.mdb has no room for a write of `puts` records (see headroom.ts). */
  ensureRoom(op: string, puts: number): void;
  /** Tracks a write so `close` waits for it. */
  track<T>(write: Promise<T>): Promise<T>;
  /** Told how each write ended (its error, or undefined once it committed), for `writeStatus`. */
  noteWrite?(error: Error | undefined): void;
}

/**
 * A record write whose commit failed (a full disk, an I/O error), as opposed to a write refused
 * because the store is closed or read-only. Nothing of it was written.
 */
export class RecordWriteFailed extends MonitorError {
  constructor(message: string, cause: unknown) {
    super(ErrorCode.StoreFailed, message, { cause });
    this.name = 'RecordWriteFailed';
  }
}

/** Record collection names: letters, digits, `_`, `-`, `.`; the LMDB database is `rec:<name>`. */
const NAME_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;

/** Throws `EMON_INVALID_OPTION` unless `name` can name a record collection. */
export function checkRecordDbName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || !NAME_PATTERN.test(name)) {
    throw new MonitorError(
      ErrorCode.InvalidOption,
      `invalid record collection name ${describeValue(name)} (expected 1-64 of A-Z a-z 0-9 _ . -)`,
    );
  }
}

export class RecordDb<V> {
  /** The collection's name (the LMDB database is `rec:<name>`). */
  readonly name: string;
  readonly #db: RecordBackend<Uint8Array>;
  readonly #host: RecordDbHost;
  /** The preset dictionary this collection's values are compressed with (`record-codec.ts`). */
  readonly #dictionary: RecordDictionary;

  /** @internal use `MetricStore.records(name)` */
  constructor(name: string, db: RecordBackend<Uint8Array>, host: RecordDbHost) {
    this.name = name;
    this.#db = db;
    this.#host = host;
    this.#dictionary = dictionaryFor(name);
  }

  /** The record under `key`, or `undefined`. */
  get(key: RecordKey): V | undefined {
    checkKey(this.name, 'get', key);
    return this.#read('get', () => {
      const bytes = this.#db.get(key);
      return bytes === undefined ? undefined : (decodeRecordValue(bytes) as V);
    });
  }

  /**
   * Writes `value` under `key` (replacing any record there). Resolves once durable.
   * @throws {MonitorError} `EMON_INVALID_RECORD` for a bad key or an `undefined` value;
   *   (rejects) `EMON_STORE_FAILED` if the store is closed, read-only, or the write fails
   */
  put(key: RecordKey, value: V): Promise<void> {
    checkKey(this.name, 'put', key);
    if (value === undefined)
      throw new MonitorError(ErrorCode.InvalidRecord, `${this.name}.put: value is undefined (expected a record)`);
    return this.#write('put', () => this.#db.put(key, encodeRecordValue(value, this.#dictionary)));
  }

  /** Deletes the record under `key` (no-op if there is none). Resolves once durable. */
  remove(key: RecordKey): Promise<void> {
    checkKey(this.name, 'remove', key);
    return this.#write('remove', () => this.#db.remove(key));
  }

  /** Records in key order (or reverse), as `[key, value]` pairs. */
  range(options: RecordRange = {}): [RecordKey, V][] {
    if (options.start !== undefined) checkKey(this.name, 'range', options.start);
    if (options.end !== undefined) checkKey(this.name, 'range', options.end);
    if (options.limit !== undefined && (!Number.isSafeInteger(options.limit) || options.limit < 0)) {
      throw new MonitorError(
        ErrorCode.InvalidQuery,
        `${this.name}.range: invalid limit ${describeValue(options.limit)} (expected an integer >= 0)`,
      );
    }
    return this.#read('range', () => {
      const out: [RecordKey, V][] = [];
      for (const { key, value } of this.#db.getRange(options)) out.push([key, decodeRecordValue(value) as V]);
      return out;
    });
  }

  /** How many records the collection holds. */
  count(): number {
    return this.#read('count', () => this.#db.getCount());
  }

  /**
   * Deletes the records with the lowest keys until at most `keep` remain, in one transaction.
   * @returns how many were deleted
   */
  async trim(keep: number): Promise<number> {
    if (!Number.isSafeInteger(keep) || keep < 0) {
      throw new MonitorError(
        ErrorCode.InvalidOption,
        `${this.name}.trim: invalid keep ${describeValue(keep)} (expected an integer >= 0)`,
      );
    }
    const excess = this.count() - keep;
    if (excess <= 0) return 0;
    const keys = this.#read('trim', () => Array.from(this.#db.getKeys({ limit: excess })));
    // `batch`, not `transaction`: its promise is the commit's own, which the commit guard can fail.
    await this.#write(
      'trim',
      () =>
        this.#db.batch(() => {
          for (const key of keys) void this.#db.remove(key);
        }),
      keys.length,
    );
    return keys.length;
  }

  /** Deletes every record in one transaction. Resolves once durable. */
  clear(): Promise<void> {
    return this.#write('clear', () => this.#db.clearAsync());
  }

  #read<T>(op: string, read: () => T): T {
    this.#host.assertOpen(`${this.name}.${op}`);
    try {
      this.#host.refresh();
      return read();
    } catch (err) {
      if (err instanceof MonitorError) throw err;
      throw new MonitorError(
        ErrorCode.StoreFailed,
        `${this.name}.${op}: reading ${this.#host.dataDir} failed: ${toError(err).message}`,
        { cause: err },
      );
    }
  }

  async #write(op: string, write: () => Promise<unknown>, puts = 1): Promise<void> {
    this.#host.assertOpen(`${this.name}.${op}`);
    if (this.#host.readOnly) {
      throw new MonitorError(
        ErrorCode.StoreFailed,
        `${this.name}.${op}: the metric store at ${this.#host.dataDir} is open read-only`,
      );
    }
    try {
      this.#host.ensureRoom(`${this.name}.${op}`, puts);
      await committed(this.#host.track(write()), `${this.name}.${op}`);
    } catch (err) {
      const error = new RecordWriteFailed(
        `${this.name}.${op}: writing ${this.#host.dataDir} failed: ${toError(err).message}`,
        err,
      );
      this.#host.noteWrite?.(error);
      throw error;
    }
    this.#host.noteWrite?.(undefined);
  }
}

function checkKey(name: string, op: string, key: unknown): asserts key is RecordKey {
  const ok = (part: unknown): boolean =>
    (typeof part === 'string' && part.length <= 500) || (typeof part === 'number' && Number.isFinite(part));
  if (ok(key) && key !== '') return;
  if (Array.isArray(key) && key.length > 0 && key.length <= 8 && key.every(ok)) return;
  throw new MonitorError(
    ErrorCode.InvalidRecord,
    `${name}.${op}: invalid key ${describeValue(key)} (expected a non-empty string, a finite number, or an array of 1-8 of them)`,
  );
}
