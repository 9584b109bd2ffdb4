/**
 * `MetricStore`: the LMDB persistence of the metric table (series, current values, history as
 * compressed chunks, 1-minute rollups) in one environment under `dataDir`; this is the facade over
 * the store-*.ts / flush-*.ts files. Layout: docs/STORAGE.md.
 * Constraints: one write transaction per flush, resolved once durable; everything is validated and
 * encoded before anything is written; every write first ensures headroom (`headroom.ts`), since a
 * failed LMDB page write overflows a heap buffer in lmdb-js 3.5.6; one writable store per `dataDir`
 * (`writer-lock.ts`), any number of `readOnly` readers. Why this shape: docs/design-notes.md.
 */
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { type Database, open, type RootDatabase } from 'lmdb';
import { RESET_BUFFER_MODE, REUSE_BUFFER_MODE } from 'msgpackr';
import { describeValue, ErrorCode, MonitorError, toError } from '../errors.js';
import { committed, failureReason, guardCommits, lastCommitFailed } from './commit-guard.js';
import { checkDataFile, damagedEnvError, foreignNames, type MovedAside, moveAside } from './env-check.js';
import { type EncodedFlush, type FlushTarget, flushNeedsMerge, writeFlush } from './flush-apply.js';
import { FlushColumns } from './flush-columns.js';
import { type Bytes, encodeFlush, type FlushInput } from './flush-encode.js';
import { FlushWriter } from './flush-writer.js';
import { Headroom, type HeadroomEnv, headroomFor } from './headroom.js';
import { applyEdit, SEAL_BYTES } from './history-chunks.js';
import { prepareLockFile } from './lock-file.js';
import {
  beginLayout2Conversion,
  LAYOUT2,
  Layout2Conversion,
  type Layout2Dbs,
  layout2Progress,
  Layout2Remnant,
  layout3Target,
  openLayout2Dbs,
} from './migrate-layout2.js';
import { checkRecordDbName, RecordDb, type RecordKey } from './record-db.js';
import { toRollup } from './rollup.js';
import {
  checkSeriesInput,
  checkSeriesKey,
  MAX_SERIES_ID,
  type ResolvedOptions,
  resolveOptions,
  sameLabels,
  storedDefProblem,
} from './store-checks.js';
import {
  DAMAGE_ERRORS,
  type Databases,
  EnvDamage,
  ENV_OPTIONS,
  ForeignEnvError,
  forgetDatabases,
  LAYOUT_VERSION,
  openDatabases,
  type ValueEncoder,
  writeLayout,
  writersInProcess,
} from './store-env.js';
import { pruneChunks } from './store-prune.js';
import { latest, latestAt, queryRange, rollupCells } from './store-queries.js';
import { envStats, rowCount } from './store-stats.js';
import { WriterLock } from './writer-lock.js';
import type {
  FlushBatch,
  FlushResult,
  PruneResult,
  RangePoint,
  Rollup,
  SeriesDef,
  SeriesInput,
  StoreOptions,
  StoreStats,
  WriteStatus,
  Layout2Progress,
} from './types.js';

export { PRUNE_CHUNK } from './store-prune.js';

/**
 * Generous sizes for the headroom of a write (`headroom.ts`): a series definition (help and unit
 * are bounded), and an entry removed or a rollup cell written. A single record put is covered by
 * the minimum headroom (1 MiB).
 */
const DEF_BYTES = 8 * 1024;
const ENTRY_BYTES = 128;
/** The most series ids the main thread lists for the writer thread's head cache before it says "all" (head-cache.ts). */
const STALE_HEADS_MAX = 65_536;

/**
 * `store.flush` of a batch built as columns (`flushTable`'s): the same validation, transaction,
 * ordering and durability, without an object per series. Not public: `FlushColumns` is internal,
 * so `flush`'s type does not name it; it goes through `flush` itself all the same, so that a
 * wrapper of a store (or a patched `flush`, as the fault tests inject failures) sees every flush.
 * A store of another copy of this module (two installed copies of the package) does not know this
 * `FlushColumns` class: it gets the batch as arrays, as every store did before the columns.
 */
export function flushColumns(store: MetricStore, columns: FlushColumns): Promise<FlushResult> {
  return store.flush(store instanceof MetricStore ? (columns as unknown as FlushBatch) : columns.toBatch());
}

/**
 * The persisted metric table. Reads (`seriesDefs`, `queryRange`, `latest`, …) are synchronous, as
 * lmdb-js reads are; writes (`flush`, `prune`, `close`) are asynchronous and resolve on commit.
 * `defineSeries` is synchronous: it assigns the id in memory and queues the definition, which
 * commits before the next `flush` does.
 */
export class MetricStore {
  /** Absolute path of the LMDB environment directory. */
  readonly dataDir: string;
  /** Whether this store was opened without write access. */
  readonly readOnly: boolean;
  /** Raw point retention in ms (see `prune`). */
  readonly retentionMs: number;
  /** Rollup retention in ms (see `prune`). */
  readonly rollupRetentionMs: number;
  /** Set when `open` found the env damaged and, as `onCorrupt: 'move_aside'` asked, moved it aside and started a new one. */
  readonly movedAside: MovedAside | undefined;

  readonly #env: RootDatabase;
  readonly #db: Databases;
  readonly #encodeCurrent: (value: unknown, out: Bytes) => void;
  /** Before each read: a reader moves to the newest snapshot; the writer's own commits already do that. */
  readonly #refresh: () => void;
  /** Writer only: the authoritative id map (readers look ids up in LMDB, the writer may be ahead of it). */
  readonly #idsByKey = new Map<string, number>();
  readonly #defs = new Map<number, SeriesDef>();
  #lastId = 0;
  #closed = false;
  #closing: Promise<void> | undefined;
  /** Prunes run one after another; this settles when the last queued one has. */
  #pruning: Promise<unknown> = Promise.resolve();
  /** Flushes run one after another, so they commit in call order; this settles when the last one has. */
  #flushing: Promise<unknown> = Promise.resolve();
  /** Writer only: the thread that commits large flushes. */
  readonly #writer: FlushWriter | undefined;
  /** Writer only: `current` and `history` taking pre-encoded bytes, for small flushes written here. */
  readonly #raw: FlushTarget | undefined;
  /**
   * Writer: the series whose history this thread wrote since the writer thread's last write (or
   * `'all'`), sent with its next write so it forgets their cached heads (head-cache.ts).
   */
  #staleHeads: number[] | 'all' = [];
  /** Settles when the last queued history write (flush, prune step) has; see `#withHistory`. */
  #historyTurn: Promise<void> = Promise.resolve();
  /** Settles once the series definitions queued so far have committed (never rejects). */
  #definitions: Promise<void> = Promise.resolve();
  /** The first failure of a write nobody awaited (a series definition) since the last flush began; fails that flush. */
  #backgroundError: Error | undefined;
  /** Writer: ids whose definition failed to commit; the next flush writes them again before its own writes. */
  readonly #unwrittenDefs = new Set<number>();
  /** Writer: whether writes are failing now, since when, and why (see `writeStatus`). */
  #writeFailure: { since: number; error: string; reason: string; attempts: number; byRecords?: true } | undefined;
  /** After a record write failed: until when (monotonic ms) record writes are refused untried, and why. */
  /** Record collections opened so far, by name. */
  readonly #records = new Map<string, RecordDb<unknown>>();
  /** Record writes not yet settled; `close` waits for them. */
  readonly #recordWrites = new Set<Promise<unknown>>();
  /** Writer only: the data dir's writer lock, released at close. */
  readonly #lock: WriterLock | undefined;
  /** Writer only: keeps room past the last page of data.mdb, checked before every write (see headroom.ts). */
  readonly #headroom: Headroom | undefined;
  /** Writer of a store opened at layout 2 (or killed while converting): the background conversion (migrate-layout2.ts). */
  #conversion: Layout2Conversion | undefined;
  #converted: Promise<void> = Promise.resolve();

  private constructor(
    options: ResolvedOptions,
    env: RootDatabase,
    db: Databases,
    lock: WriterLock | undefined,
    movedAside: MovedAside | undefined,
  ) {
    this.dataDir = options.dataDir;
    this.readOnly = options.readOnly;
    this.retentionMs = options.retentionMs;
    this.rollupRetentionMs = options.rollupRetentionMs;
    this.movedAside = movedAside;
    this.#env = env;
    this.#lock = lock;
    this.#db = db;
    guardCommits(env);
    const encoder = (db.current as unknown as { encoder?: ValueEncoder }).encoder;
    if (typeof encoder?.encode !== 'function') {
      throw new MonitorError(ErrorCode.StoreFailed, 'lmdb did not attach a msgpack encoder to the "current" database');
    }
    this.#encodeCurrent = (value, out) => {
      // In msgpackr's reuse mode the value is encoded into its own buffer and that buffer returned
      // (`start`, `end` set) instead of a new view per value; after a shared-structure update it
      // returns a view. The bytes are the same either way.
      const encoded = encoder.encode(value, REUSE_BUFFER_MODE | RESET_BUFFER_MODE) as Uint8Array & {
        start?: number;
        end?: number;
      };
      if (encoded.start !== undefined && encoded.end !== undefined)
        out.appendRange(encoded, encoded.start, encoded.end);
      else out.append(encoded);
    };
    this.#refresh = this.readOnly ? () => env.resetReadTxn() : () => undefined;
    this.#writer = this.readOnly ? undefined : new FlushWriter(this.dataDir, { ...ENV_OPTIONS });
    this.#headroom = this.readOnly ? undefined : new Headroom(env as unknown as HeadroomEnv, this.dataDir);
    this.#raw = this.readOnly
      ? undefined
      : {
          current: env.openDB<Uint8Array, number>('current', { keyEncoding: 'uint32', encoding: 'binary' }),
          history: db.history,
          layout2Points: db.layout2?.points,
        };
    if (!this.readOnly) {
      try {
        for (const { key: id, value: def } of db.series.getRange()) {
          const problem = storedDefProblem(id, def);
          if (problem !== undefined) throw new EnvDamage(`the series database holds ${problem}`, false);
          this.#defs.set(id, def);
          this.#idsByKey.set(def.key, id);
          if (id > this.#lastId) this.#lastId = id;
        }
      } catch (err) {
        if (err instanceof EnvDamage) throw err;
        throw new EnvDamage(`reading the series database failed: ${toError(err).message}`, false, { cause: err });
      }
    }
  }

  /**
   * Opens (and when writable, creates) the store under `options.dataDir`.
   *
   * Before lmdb-js maps `data.mdb` its head is checked (`env-check.ts`): a damaged file is
   * refused, or with `onCorrupt: 'move_aside'` (writable only) moved into `<dataDir>/damaged-<time>/`
   * and a new store started (see `movedAside`). An env that holds databases that are not a metric
   * store's is refused and left as it was. A writable store holds the data dir's writer lock
   * (`<dataDir>/writer.lock`, an flock) until `close`.
   *
   * @param options.dataDir the env directory; default `./.erlmcp-monitor` (resolved against the cwd)
   * @param options.readOnly open without write access, e.g. from a CLI or a cluster worker; takes
   *   no lock; default `false`
   * @param options.retentionMs raw point retention; default 24 h
   * @param options.rollupRetentionMs 1-minute rollup retention; default 7 days, at least `retentionMs`
   * @param options.onCorrupt `'fail'` (default) refuses a damaged env; `'move_aside'` moves it aside
   *   and starts a new one (a read-only open always refuses)
   * @throws {MonitorError} `EMON_INVALID_OPTION` for an unknown option or a bad value
   * @throws {MonitorError} `EMON_STORE_LOCKED` (writable) if another store, in this or any other
   *   process, has the directory open for writing
   * @throws {MonitorError} `EMON_STORE_FAILED` if the env cannot be created or opened, is damaged,
   *   is not a metric store, a read-only open finds no store, or the store was written with
   *   another layout version; the message names the path, what is wrong and what to do
   */
  static open(options: StoreOptions = {}): MetricStore {
    const resolved = resolveOptions(options);
    const dir = resolved.dataDir;
    if (resolved.readOnly) {
      if (!fs.existsSync(path.join(dir, 'data.mdb'))) {
        throw new MonitorError(
          ErrorCode.StoreFailed,
          `no metric store at ${dir} (a writable open creates it; readOnly never does)`,
        );
      }
      const damage = checkDataFile(dir);
      if (damage !== undefined) throw damagedEnvError(dir, damage);
      try {
        return MetricStore.#openEnv(resolved, undefined, undefined);
      } catch (err) {
        if (err instanceof EnvDamage) throw damagedEnvError(dir, err.message, { cause: err.cause });
        throw err;
      }
    }
    if (writersInProcess.has(dir)) {
      throw new MonitorError(
        ErrorCode.StoreLocked,
        `${dir} is already open for writing in this process; close that store first, or read it with MetricStore.open({ dataDir, readOnly: true })`,
      );
    }
    try {
      fs.mkdirSync(dir, { recursive: true });
    } catch (err) {
      throw new MonitorError(
        ErrorCode.StoreFailed,
        `cannot create the metric store directory ${dir}: ${toError(err).message}`,
        { cause: err },
      );
    }
    // The lock comes first: checking the file and moving a damaged one aside must not race another writer creating it.
    const lock = WriterLock.acquire(dir);
    try {
      let movedAside: MovedAside | undefined;
      const damage = checkDataFile(dir);
      if (damage !== undefined) {
        if (resolved.onCorrupt === 'fail') throw damagedEnvError(dir, damage, { movable: true });
        movedAside = moveAside(dir, damage);
      }
      try {
        const store = MetricStore.#openEnv(resolved, lock, movedAside);
        writersInProcess.add(dir);
        return store;
      } catch (err) {
        if (!(err instanceof EnvDamage)) throw err;
        if (resolved.onCorrupt === 'fail' || !err.movable || movedAside !== undefined)
          throw damagedEnvError(dir, err.message, { movable: err.movable, cause: err.cause });
        movedAside = moveAside(dir, err.message);
        const store = MetricStore.#openEnv(resolved, lock, movedAside);
        writersInProcess.add(dir);
        return store;
      }
    } catch (err) {
      if (err instanceof ForeignEnvError) lock.releaseAndRemove();
      else lock.release();
      throw err;
    }
  }

  /** Opens the env at `options.dataDir` (already checked) and its databases; closes it again on failure. */
  static #openEnv(
    resolved: ResolvedOptions,
    lock: WriterLock | undefined,
    movedAside: MovedAside | undefined,
  ): MetricStore {
    const dir = resolved.dataDir;
    let env: RootDatabase;
    // Before LMDB opens it (see lock-file.ts): a full disk must give write errors, not SIGBUS.
    if (!resolved.readOnly) prepareLockFile(dir);
    try {
      env = open({ path: dir, readOnly: resolved.readOnly, ...ENV_OPTIONS });
    } catch (err) {
      if (DAMAGE_ERRORS.test(toError(err).message))
        throw new EnvDamage(`lmdb refused it: ${toError(err).message}`, true, { cause: err });
      throw new MonitorError(ErrorCode.StoreFailed, `cannot open the metric store at ${dir}: ${toError(err).message}`, {
        cause: err,
      });
    }
    try {
      const foreign = foreignNames(env);
      if (foreign !== undefined) {
        throw new ForeignEnvError(
          ErrorCode.StoreFailed,
          `${dir} holds an LMDB environment that is not a metric store (its main database has ${foreign.join(', ')}); nothing was written to it. ` +
            'Give the monitor a data_dir of its own (an empty or new directory)',
        );
      }
      const db = openDatabases(env, dir);
      const old =
        db.meta.get('layout') === LAYOUT2 || layout2Progress(db.meta) !== undefined ? openLayout2Dbs(env) : undefined;
      if (old !== undefined) db.layout2 = new Layout2Remnant(old);
      const store = new MetricStore(resolved, env, db, lock, movedAside);
      if (!resolved.readOnly && old !== undefined) store.#convertLayout2(old);
      // The first write to the env, once it is known to be a readable metric store.
      if (!resolved.readOnly) writeLayout(env, db.meta, store.#headroom!);
      return store;
    } catch (err) {
      void env.close().catch(() => undefined);
      forgetDatabases(env);
      if (err instanceof MonitorError || err instanceof EnvDamage) throw err;
      if (DAMAGE_ERRORS.test(toError(err).message))
        throw new EnvDamage(`lmdb found damage: ${toError(err).message}`, false, { cause: err });
      throw new MonitorError(ErrorCode.StoreFailed, `cannot open the metric store at ${dir}: ${toError(err).message}`, {
        cause: err,
      });
    }
  }

  /**
   * Returns the id of the series `key`, assigning the next free id (1, 2, …) the first time.
   * Idempotent: the same key gives the same id, in this run and after a restart. A changed
   * `name`/`help`/`unit`/`labels` for a known key replaces the stored definition. A changed `type`
   * (a metric redeclared between deploys) replaces it too and drops the stored current value, which
   * belonged to the old type; its history stays. The definition commits before the next `flush` does.
   *
   * @param key the caller's stable identity, e.g. `requests.total{method="GET"}`; 1..1024 UTF-8 bytes
   * @param input name, type (`counter` | `gauge` | `histogram`), help (default `''`), unit (default `''`),
   *   labels (default `{}`, string values)
   * @returns the series id
   * @throws {MonitorError} `EMON_INVALID_RECORD` for a bad key or definition
   * @throws {MonitorError} `EMON_STORE_FAILED` if the store is closed or read-only
   */
  defineSeries(key: string, input: SeriesInput): number {
    this.#assertWritable('defineSeries');
    checkSeriesKey(key);
    const fields = checkSeriesInput(key, input);
    const known = this.#idsByKey.get(key);
    if (known !== undefined) {
      const old = this.#defs.get(known)!;
      if (old.type !== fields.type) this.#background(() => this.#db.current.remove(known), []);
      if (
        old.type !== fields.type ||
        old.name !== fields.name ||
        old.help !== fields.help ||
        old.unit !== fields.unit ||
        !sameLabels(old.labels, fields.labels)
      ) {
        const def: SeriesDef = { id: known, key, ...fields };
        this.#defs.set(known, def);
        this.#background(() => this.#db.series.put(known, def), [known]);
      }
      return known;
    }
    if (this.#lastId >= MAX_SERIES_ID) {
      throw new MonitorError(
        ErrorCode.StoreFailed,
        `defineSeries(${describeValue(key)}): all ${MAX_SERIES_ID} series ids are in use`,
      );
    }
    const id = ++this.#lastId;
    const def: SeriesDef = { id, key, ...fields };
    this.#defs.set(id, def);
    this.#idsByKey.set(key, id);
    // Same event turn, so lmdb-js commits both in one transaction, ahead of any later flush.
    this.#background(() => this.#db.series.put(id, def), [id]);
    this.#background(() => this.#db.seriesKey.put(key, id), [id]);
    return id;
  }

  /**
   * The id of a defined series.
   * @param key the series key given to `defineSeries`
   * @returns the id, or `undefined` if the key was never defined
   * @throws {MonitorError} `EMON_STORE_FAILED` if the store is closed
   */
  seriesId(key: string): number | undefined {
    return this.#read('seriesId', () => {
      if (!this.readOnly) return this.#idsByKey.get(key);
      return typeof key === 'string' ? this.#db.seriesKey.get(key) : undefined;
    });
  }

  /**
   * Every series definition, ordered by id. The objects are copies.
   * @throws {MonitorError} `EMON_STORE_FAILED` if the store is closed
   */
  seriesDefs(): SeriesDef[] {
    return this.#read('seriesDefs', () => {
      const defs = this.readOnly ? Array.from(this.#db.series.getRange(), (e) => e.value) : [...this.#defs.values()];
      return defs.map((def) => ({ ...def, labels: { ...def.labels } }));
    });
  }

  /**
   * The last committed current value of every series that has one (to restore counters on start).
   * @returns series id → the snapshot given to `flush`
   * @throws {MonitorError} `EMON_STORE_FAILED` if the store is closed
   */
  loadCurrent(): Map<number, unknown> {
    return this.#read('loadCurrent', () => {
      const out = new Map<number, unknown>();
      for (const { key, value } of this.#db.current.getRange()) out.set(key, value);
      return out;
    });
  }

  /**
   * Whether the store's writes are failing now (a full disk, an I/O error). Set by a flush whose
   * commit (or whose series definitions) failed, or a record write that failed; cleared by the
   * next flush that commits (a failure only record writes had, also by a record write). The
   * store keeps serving reads meanwhile, and nothing is sticky: once space returns, the next
   * flush writes again (definitions that failed first).
   * @returns `{ ok: true }`, or `{ ok: false, since, error, reason, attempts }`: since when (wall ms),
   *   the newest cause, a short reason (`ENOSPC`, `EIO`, ... see `failureReason`), failed flushes so far
   */
  writeStatus(): WriteStatus {
    const failure = this.#writeFailure;
    if (failure === undefined) return { ok: true };
    const { byRecords: _by, ...status } = failure;
    return { ok: false, ...status };
  }

  /**
   * Writes current values and history points in ONE transaction and resolves once it is durably
   * committed. Everything is validated and encoded before anything is written, so a bad entry
   * rejects the whole batch with nothing written. Points may come in any order; they are written
   * sorted by `(id, ts)`. A point with the same `(id, ts)` as a stored one (or as a later one in
   * the same batch) is replaced by it. Flushes commit one after another, in call order, each after
   * the series definitions made before it; `close()` lets the flushes already called finish.
   *
   * The main thread validates and encodes in chunks, yielding to the event loop between them; the
   * writes themselves are queued and committed by the store's writer thread (`flush-writer.ts`).
   *
   * @param batch.current `[id, snapshot]` pairs; a snapshot is any msgpack-able value (JSON-able is safe)
   * @param batch.points `{ id, ts, value }`: a defined id, `ts` a non-negative integer ms, `value` a finite number
   * @returns counts written and the main-thread ms spent before the writes were handed to the writer thread
   * @throws {MonitorError} (rejects) `EMON_INVALID_RECORD` for an unknown id, a bad ts/value, or an unencodable snapshot
   * @throws {MonitorError} (rejects) `EMON_STORE_FAILED` if the store is closed or read-only, the commit
   *   fails, or an earlier series definition failed to commit
   */
  async flush(batch: FlushBatch): Promise<FlushResult> {
    this.#assertWritable('flush');
    if ((batch as unknown) instanceof FlushColumns) return this.#flushQueued(batch as unknown as FlushColumns);
    if (batch === null || typeof batch !== 'object') {
      throw new MonitorError(
        ErrorCode.InvalidRecord,
        `flush: batch must be an object { current?, points? }, got ${describeValue(batch)}`,
      );
    }
    const current = batch.current ?? [];
    const points = batch.points ?? [];
    if (!Array.isArray(current)) {
      throw new MonitorError(
        ErrorCode.InvalidRecord,
        `flush: batch.current must be an array of [id, snapshot] pairs, got ${describeValue(current)}`,
      );
    }
    if (!Array.isArray(points)) {
      throw new MonitorError(
        ErrorCode.InvalidRecord,
        `flush: batch.points must be an array of { id, ts, value }, got ${describeValue(points)}`,
      );
    }
    return this.#flushQueued({ current, points });
  }

  #flushQueued(batch: FlushInput): Promise<FlushResult> {
    const run = this.#flushing.then(() => this.#flushNow(batch));
    this.#flushing = run.catch(() => undefined);
    return run;
  }

  async #flushNow(batch: FlushInput): Promise<FlushResult> {
    const currents = batch instanceof FlushColumns ? batch.currents : batch.current.length;
    const pointCount = batch instanceof FlushColumns ? batch.points : batch.points.length;
    let blockStart = performance.now();
    let syncMs = 0;
    let longestBlockMs = 0;
    const endBlock = (): void => {
      const block = performance.now() - blockStart;
      syncMs += block;
      longestBlockMs = Math.max(longestBlockMs, block);
    };
    const yieldNow = async (): Promise<void> => {
      endBlock();
      await yieldToLoop();
      blockStart = performance.now();
    };
    // The heads are read, appended to and written back as one step: no prune step may move them in between.
    return this.#withHistory(async () => {
      blockStart = performance.now();
      const {
        flush: encoded,
        bytes,
        series,
      } = await encodeFlush(
        {
          isDefined: (id): id is number => this.#isDefined(id),
          idRange: () => this.#idRange(),
          lastId: this.#lastId,
          encodeCurrent: this.#encodeCurrent,
          yieldNow,
          blockStart: () => blockStart,
        },
        batch,
      );
      endBlock();

      // A point must never commit before its series definition (after a crash, its id would be reused).
      this.#rewriteDefinitions();
      await this.#definitions;
      this.#assertNoBackgroundError();
      blockStart = performance.now();
      let commit: Promise<void>;
      // Appends only, here: a late or duplicate point decodes, merges and re-encodes the chunks it
      // overlaps (1,000 series x one late point held this loop 0.7-0.84 s), so it goes to the thread.
      const small = currents + pointCount <= SMALL_FLUSH_PUTS && !flushNeedsMerge(this.#raw!.history, encoded);
      if (small) {
        try {
          // A changed series rewrites its head chunk (up to SEAL_BYTES; half of it on average).
          this.#headroom!.ensure(
            'flush',
            headroomFor(currents + series, bytes + series * (SEAL_BYTES / 2) + pointCount * 2),
          );
        } catch (err) {
          const error = err as MonitorError;
          this.#noteFailure(error);
          throw error;
        }
      }
      try {
        // The writer thread makes the room for a large flush itself, under LMDB's write lock and
        // from the bytes it puts (flush-thread.ts): appending zeros here held this loop ~60-100 ms
        // for 100,000 series.
        commit = small ? this.#writeHere(encoded) : this.#writer!.write(encoded, this.#takeStaleHeads());
      } catch (err) {
        this.#staleHeads = 'all';
        throw new MonitorError(
          ErrorCode.StoreFailed,
          `flush: could not hand the write to the writer thread: ${toError(err).message}`,
          { cause: err },
        );
      }
      endBlock();
      try {
        await commit;
      } catch (err) {
        // A refused hand-off may have dropped the stale-head notices it carried: forget every head.
        if (!small) this.#staleHeads = 'all';
        const error =
          err instanceof MonitorError
            ? err
            : new MonitorError(ErrorCode.StoreFailed, `flush: the commit failed: ${toError(err).message}`, {
                cause: err,
              });
        this.#noteFailure(error);
        throw error;
      } finally {
        // The commit may have come from another thread: move this thread's reads to the snapshot that has it.
        this.#env.resetReadTxn();
      }
      this.#writeFailure = undefined;
      return {
        points: pointCount,
        current: currents,
        syncMs,
        longestBlockMs,
        writer: small ? 'main' : 'thread',
      };
    });
  }

  /** Notes that this thread writes the history of `ids` (or of any series), for the writer thread's head cache. */
  #headsWrittenHere(ids: ArrayLike<number> | 'all'): void {
    if (this.#staleHeads === 'all') return;
    // Past this many, forgetting every head costs the thread less than sending and forgetting each.
    if (ids === 'all' || this.#staleHeads.length + ids.length > STALE_HEADS_MAX) {
      this.#staleHeads = 'all';
      return;
    }
    // ArrayLike (a list or a typed array): not iterable as typed.
    // eslint-disable-next-line @typescript-eslint/prefer-for-of
    for (let i = 0; i < ids.length; i++) this.#staleHeads.push(ids[i]!);
  }

  #takeStaleHeads(): Uint32Array | 'all' {
    const stale = this.#staleHeads;
    this.#staleHeads = [];
    return stale === 'all' ? stale : Uint32Array.from(stale);
  }

  /**
   * Runs `work` once every history write queued before it (flush, prune step) has settled; the
   * next waits for it. Flushes and prune steps read chunks and write them back: they must not
   * interleave.
   */
  #withHistory<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#historyTurn.then(work);
    this.#historyTurn = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /**
   * Writes a small flush in one transaction from this thread (queuing its puts costs well under a
   * millisecond), resolving once it is committed and flushed to disk, as the writer thread does.
   * Starting that thread costs far more: 0.4-1.2 s on the loaded 2-core test VM for the first
   * flush of every store (a Worker, lmdb-js loaded again, the env opened), which made each
   * start/stop of a small tree wait for it (test/faults/hygiene-cycles.test.ts).
   */
  async #writeHere(encoded: EncodedFlush): Promise<void> {
    const raw = this.#raw!;
    this.#headsWrittenHere(encoded.pointIds);
    await committed(
      this.#env.batch(() => writeFlush(raw, encoded)),
      'flush',
    );
    await committed(this.#env.flushed, 'flush');
  }

  /**
   * Applies retention as of `nowMs`: raw points older than `retentionMs` (cut at a whole minute)
   * are folded into 1-minute rollups and deleted; rollups that start before `nowMs -
   * rollupRetentionMs` are deleted. Each step commits at most {@link PRUNE_CHUNK} entries and
   * yields between steps, so the event loop is never held for more than a few ms. Calls queue
   * behind each other; `close()` stops a running prune after its current step (the result then
   * counts what was done).
   *
   * @param nowMs the current time in ms (pass it explicitly; tests use fixed times)
   * @throws {MonitorError} (rejects) `EMON_INVALID_QUERY` if `nowMs` is not a finite number
   * @throws {MonitorError} (rejects) `EMON_STORE_FAILED` if the store is closed or read-only, or a step fails to commit
   */
  async prune(nowMs: number): Promise<PruneResult> {
    this.#assertWritable('prune');
    if (typeof nowMs !== 'number' || !Number.isFinite(nowMs)) {
      throw new MonitorError(
        ErrorCode.InvalidQuery,
        `prune: invalid nowMs ${describeValue(nowMs)} (expected a finite timestamp in ms)`,
      );
    }
    const run = this.#pruning.then(() => this.#pruneNow(nowMs));
    this.#pruning = run.catch(() => undefined);
    return run;
  }

  /**
   * History of one series in `[fromMs, toMs]` (both inclusive), ascending by time.
   *
   * Raw points are used where they exist; 1-minute rollups (those starting inside the range) fill
   * in where the raw points were pruned, each as one point `[bucketStart, avg]`. A rollup bucket
   * that still has raw points in the range is left out. If more than `maxPoints` points result,
   * they are downsampled by time buckets over `[fromMs, toMs]` (see `downsample.ts`: weighted
   * average per bucket, timestamp of the bucket's last point).
   *
   * @param id a defined series id
   * @param fromMs range start (ms, inclusive)
   * @param toMs range end (ms, inclusive), >= `fromMs`
   * @param maxPoints the most points to return, an integer >= 1
   * @returns `[ts, value]` pairs; `[]` when the range holds nothing
   * @throws {MonitorError} `EMON_INVALID_QUERY` for a bad or unknown id, range or `maxPoints`
   * @throws {MonitorError} `EMON_STORE_FAILED` if the store is closed
   */
  queryRange(id: number, fromMs: number, toMs: number, maxPoints: number): RangePoint[] {
    return this.#read('queryRange', () => {
      this.#checkRange('queryRange', id, fromMs, toMs);
      if (typeof maxPoints !== 'number' || !Number.isSafeInteger(maxPoints) || maxPoints < 1) {
        throw new MonitorError(
          ErrorCode.InvalidQuery,
          `queryRange: invalid maxPoints ${describeValue(maxPoints)} (expected an integer >= 1)`,
        );
      }
      return this.#decoding(id, () => queryRange(this.#db, id, fromMs, toMs, maxPoints));
    });
  }

  /**
   * The 1-minute rollups of one series whose bucket starts in `[fromMs, toMs]`, ascending.
   * @param id a defined series id
   * @param fromMs range start (ms, inclusive)
   * @param toMs range end (ms, inclusive), >= `fromMs`
   * @throws {MonitorError} `EMON_INVALID_QUERY` for a bad or unknown id or range
   * @throws {MonitorError} `EMON_STORE_FAILED` if the store is closed
   */
  rollups(id: number, fromMs: number, toMs: number): Rollup[] {
    return this.#read('rollups', () => {
      this.#checkRange('rollups', id, fromMs, toMs);
      return this.#decoding(id, () =>
        rollupCells(this.#db, id, fromMs, toMs).map(([start, cell]) => toRollup(start, cell)),
      );
    });
  }

  /**
   * The newest point of a series: the last raw point, or if raw points are gone, the last point
   * folded into the newest rollup (its own timestamp and value).
   * @param id a defined series id
   * @returns `[ts, value]`, or `undefined` if the series has no history
   * @throws {MonitorError} `EMON_INVALID_QUERY` for a bad or unknown id
   * @throws {MonitorError} `EMON_STORE_FAILED` if the store is closed
   */
  latest(id: number): RangePoint | undefined {
    return this.#read('latest', () => {
      this.#checkId('latest', id);
      return this.#decoding(id, () => latest(this.#db, id));
    });
  }

  /**
   * The newest point of a series at or before `atMs` (raw, or the last point folded into a
   * rollup), e.g. to carry a series' value into a range where it did not change.
   * @param id a defined series id
   * @param atMs a time in ms (an integer >= 0)
   * @returns `[ts, value]` with `ts <= atMs`, or `undefined` if the series has no point that old
   * @throws {MonitorError} `EMON_INVALID_QUERY` for a bad or unknown id or time
   * @throws {MonitorError} `EMON_STORE_FAILED` if the store is closed
   */
  latestAt(id: number, atMs: number): RangePoint | undefined {
    return this.#read('latestAt', () => {
      this.#checkRange('latestAt', id, atMs, atMs);
      return this.#decoding(id, () => latestAt(this.#db, id, atMs));
    });
  }

  /**
   * The progress of converting a layout-2 store to this layout (see `migrate-layout2.ts`): what
   * there was and how much is done, as last committed.
   * @returns undefined once no conversion is unfinished (or there never was one)
   * @throws {MonitorError} `EMON_STORE_FAILED` if the store is closed
   */
  conversionProgress(): Layout2Progress | undefined {
    return this.#read('conversionProgress', () => layout2Progress(this.#db.meta));
  }

  /**
   * Settles when the layout-2 conversion this store runs has finished (at once if it runs none: a
   * layout-3 store, or a read-only one) or stopped at `close`. Reads see every point meanwhile.
   * @throws {MonitorError} (rejects) `EMON_STORE_FAILED` if a conversion step failed; nothing of that
   *   step was written, and the next writable open carries on
   */
  converted(): Promise<void> {
    return this.#converted;
  }

  /**
   * What the store holds and its size on disk: series, raw points and rollup cells stored, the
   * file's size and used part, and entries and pages of every database (docs/STORAGE.md).
   * Reads every history chunk's header: cost grows with the number of chunks.
   * @throws {MonitorError} `EMON_STORE_FAILED` if the store is closed
   */
  stats(): StoreStats {
    return this.#read('stats', () => {
      const series = this.readOnly ? this.#db.series.getCount() : this.#defs.size;
      // A read-only opener of a layout-2 store sees layout 2 (it converts nothing); old entries not converted yet count too.
      const stored = this.#db.meta.get('layout');
      const old = this.#db.layout2?.entries() ?? { points: 0, cells: 0 };
      const conversion = layout2Progress(this.#db.meta);
      const counts = {
        series,
        points: rowCount(this.#db.history) + old.points,
        rollupCells: rowCount(this.#db.rollup) + old.cells,
      };
      return {
        ...envStats(this.#env, this.dataDir, typeof stored === 'number' ? stored : LAYOUT_VERSION, counts),
        ...(conversion === undefined ? {} : { conversion }),
      };
    });
  }

  /**
   * A named collection of plain records in this env (SLA results, alerts, the outbox, ...): see
   * `record-db.ts`. The same name returns the same collection. A read-only store can read the
   * collections the writer created; asking it for one that does not exist throws.
   *
   * @param name 1-64 of A-Z a-z 0-9 _ . - (the LMDB database is `rec:<name>`)
   * @throws {MonitorError} `EMON_INVALID_OPTION` for a bad name; `EMON_STORE_FAILED` if the store is
   *   closed, or read-only and the collection does not exist
   */
  records<V>(name: string): RecordDb<V> {
    checkRecordDbName(name);
    this.#assertOpen('records');
    const known = this.#records.get(name);
    if (known !== undefined) return known as RecordDb<V>;
    let db: Database<Uint8Array, RecordKey> | undefined;
    try {
      // Binary: RecordDb encodes its values itself (record-codec.ts).
      db = this.#env.openDB<Uint8Array, RecordKey>(`rec:${name}`, { encoding: 'binary' });
    } catch (err) {
      throw new MonitorError(
        ErrorCode.StoreFailed,
        `records: cannot open the collection "${name}" in ${this.dataDir}: ${toError(err).message}`,
        { cause: err },
      );
    }
    if (db === undefined) {
      throw new MonitorError(
        ErrorCode.StoreFailed,
        `records: the metric store at ${this.dataDir} has no collection "${name}" (a writable store creates it)`,
      );
    }
    const collection = new RecordDb<V>(name, db, {
      dataDir: this.dataDir,
      readOnly: this.readOnly,
      assertOpen: (op) => this.#assertOpen(op),
      refresh: this.#refresh,
      ensureRoom: (op, puts) => this.#headroom!.ensure(op, headroomFor(puts, puts * ENTRY_BYTES)),
      track: (write) => {
        this.#recordWrites.add(write);
        const done = () => this.#recordWrites.delete(write);
        write.then(done, done);
        return write;
      },
      // A record write that commits ends only an outage record writes began: a flush's failure
      // stays until a flush commits (a small write may fit where a flush does not).
      noteWrite: (error) => {
        if (error !== undefined) this.#noteFailure(error, true);
        else if (this.#writeFailure?.byRecords === true) this.#writeFailure = undefined;
      },
    });
    this.#records.set(name, collection as RecordDb<unknown>);
    return collection;
  }

  /**
   * Closes the env after pending writes commit: the flushes already called finish, a running
   * prune stops after its current step, and the writer thread ends. Idempotent: later calls
   * return the same promise. Every other method then throws `EMON_STORE_FAILED`.
   * @throws {MonitorError} (rejects) `EMON_STORE_FAILED` if LMDB fails to close
   */
  close(): Promise<void> {
    this.#closing ??= this.#closeNow();
    return this.#closing;
  }

  async #closeNow(): Promise<void> {
    this.#closed = true;
    await this.#conversion?.stop();
    await this.#flushing;
    await this.#pruning;
    await Promise.allSettled([...this.#recordWrites]);
    try {
      try {
        await this.#writer?.close();
      } finally {
        await this.#settleFailedCommit();
        await this.#env.close();
        forgetDatabases(this.#env);
      }
    } catch (err) {
      throw new MonitorError(
        ErrorCode.StoreFailed,
        `close: closing the metric store at ${this.dataDir} failed: ${toError(err).message}`,
        { cause: err },
      );
    } finally {
      // Only once the env is closed: a writer that starts now finds every commit on disk.
      this.#lock?.release();
      if (!this.readOnly) writersInProcess.delete(this.dataDir);
    }
  }

  /**
   * After a failed commit lmdb-js never settles that transaction's flush promise, and
   * `env.close()` waits for it: a store closed on a full disk hung for ever (measured). An empty
   * batch commits without writing a page, so it succeeds on a full disk and gives lmdb-js a
   * settled flush promise to wait for.
   */
  async #settleFailedCommit(): Promise<void> {
    await this.#env.committed; // the writes queued so far; never rejects once guarded
    for (let attempt = 0; attempt < 2 && lastCommitFailed(this.#env); attempt++) {
      try {
        await committed(
          this.#env.batch(() => undefined),
          'close',
        );
        return;
      } catch {
        // tried again once, alone
      }
    }
  }

  /** Marks the store converting (layout 3 + the progress marker) and starts the background conversion. */
  #convertLayout2(old: Layout2Dbs): void {
    this.#headroom!.ensure('open', headroomFor(2, 1024));
    beginLayout2Conversion(this.#env, this.#db.meta, old, LAYOUT_VERSION);
    this.#conversion = new Layout2Conversion(
      this.#db.meta,
      old,
      layout3Target({
        env: this.#env,
        history: this.#db.history,
        rollup: this.#db.rollup,
        ensureRoom: (op, entries) => this.#headroom!.ensure(op, headroomFor(2 * entries, entries * ENTRY_BYTES)),
        withHistory: (work) =>
          this.#withHistory(() => {
            this.#headsWrittenHere('all');
            return work();
          }),
      }),
    );
    this.#converted = this.#conversion.run().then(
      () => undefined,
      (err: unknown) => {
        const error =
          err instanceof MonitorError
            ? err
            : new MonitorError(ErrorCode.StoreFailed, `layout 2 conversion failed: ${toError(err).message}`, {
                cause: err,
              });
        this.#noteFailure(error);
        throw error;
      },
    );
    this.#converted.catch(() => undefined);
  }

  #pruneNow(nowMs: number): Promise<PruneResult> {
    const { history, rollup } = this.#db;
    return pruneChunks(
      {
        history,
        rollup,
        retentionMs: this.retentionMs,
        rollupRetentionMs: this.rollupRetentionMs,
        closed: () => this.#closed,
        exclusive: (step) => this.#withHistory(step),
        commit: (edits) =>
          (async () => {
            let puts = 0;
            let bytes = 0;
            for (const [, , edit] of edits) {
              puts += edit.removes.length + edit.puts.length;
              for (const [, chunk] of edit.puts) bytes += chunk.length + ENTRY_BYTES;
            }
            this.#headroom!.ensure('prune', headroomFor(puts, bytes + puts * ENTRY_BYTES));
            for (const [db, id] of edits) if (db === history) this.#headsWrittenHere([id]);
            try {
              await committed(
                this.#env.batch(() => {
                  for (const [db, id, edit] of edits) applyEdit(db, id, edit);
                }),
                'prune',
              );
            } catch (err) {
              throw new MonitorError(ErrorCode.StoreFailed, `prune: a commit failed: ${toError(err).message}`, {
                cause: err,
              });
            } finally {
              this.#env.resetReadTxn();
            }
          })(),
      },
      nowMs,
    );
  }

  /** Runs a chunk read of series `id`; a chunk that does not decode is reported naming the series. */
  #decoding<T>(id: number, read: () => T): T {
    try {
      return read();
    } catch (err) {
      if (err instanceof MonitorError) throw err;
      throw new MonitorError(
        ErrorCode.StoreFailed,
        `reading the history of series ${id} in ${this.dataDir} failed: ${toError(err).message}`,
        { cause: err },
      );
    }
  }

  /** Writer: whether `id` was assigned (ids are dense, 1..lastId). */
  #isDefined(id: unknown): id is number {
    return typeof id === 'number' && Number.isInteger(id) && id >= 1 && id <= this.#lastId;
  }

  #idRange(): string {
    return this.#lastId === 0 ? 'no series is defined yet' : `defined ids are 1..${this.#lastId}`;
  }

  #checkId(op: string, id: unknown): asserts id is number {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 1 || id > MAX_SERIES_ID) {
      throw new MonitorError(
        ErrorCode.InvalidQuery,
        `${op}: invalid series id ${describeValue(id)} (expected a positive integer id from defineSeries)`,
      );
    }
    const known = this.readOnly ? this.#db.series.doesExist(id) : this.#isDefined(id);
    if (!known)
      throw new MonitorError(
        ErrorCode.InvalidQuery,
        `${op}: unknown series id ${id} (no series with this id is defined)`,
      );
  }

  #checkRange(op: string, id: unknown, fromMs: unknown, toMs: unknown): void {
    this.#checkId(op, id);
    if (typeof fromMs !== 'number' || !Number.isFinite(fromMs)) {
      throw new MonitorError(
        ErrorCode.InvalidQuery,
        `${op}: invalid fromMs ${describeValue(fromMs)} (expected a finite timestamp in ms)`,
      );
    }
    if (typeof toMs !== 'number' || !Number.isFinite(toMs)) {
      throw new MonitorError(
        ErrorCode.InvalidQuery,
        `${op}: invalid toMs ${describeValue(toMs)} (expected a finite timestamp in ms)`,
      );
    }
    if (toMs < fromMs) {
      throw new MonitorError(
        ErrorCode.InvalidQuery,
        `${op}: invalid range: toMs ${toMs} is before fromMs ${fromMs} (expected fromMs <= toMs)`,
      );
    }
  }

  #assertOpen(op: string): void {
    if (this.#closed)
      throw new MonitorError(ErrorCode.StoreFailed, `${op}: the metric store at ${this.dataDir} is closed`);
  }

  #assertWritable(op: string): void {
    this.#assertOpen(op);
    if (this.readOnly) {
      throw new MonitorError(
        ErrorCode.StoreFailed,
        `${op}: the metric store at ${this.dataDir} is open read-only; writes need a writable store`,
      );
    }
  }

  /**
   * Runs a read. A read-only store first moves to the newest committed snapshot: another
   * process's commits are otherwise only picked up when lmdb-js renews its read transaction.
   */
  #read<T>(op: string, read: () => T): T {
    this.#assertOpen(op);
    try {
      this.#refresh();
      return read();
    } catch (err) {
      if (err instanceof MonitorError) throw err;
      throw new MonitorError(
        ErrorCode.StoreFailed,
        `${op}: reading the metric store at ${this.dataDir} failed: ${toError(err).message}`,
        { cause: err },
      );
    }
  }

  /**
   * Tracks a series definition nobody awaits: keeps it from becoming an unhandled rejection, lets
   * the next flush wait for it, and makes its failure fail that flush.
   */
  #background(write: () => Promise<boolean>, ids: readonly number[]): void {
    const failed = (err: unknown): void => {
      this.#backgroundError ??= toError(err);
      for (const id of ids) this.#unwrittenDefs.add(id);
    };
    let queued: Promise<boolean>;
    try {
      this.#headroom!.ensure('defineSeries', headroomFor(1, DEF_BYTES));
      queued = write();
    } catch (err) {
      failed(err);
      return;
    }
    const settled = committed(queued, 'defineSeries').then(() => undefined, failed);
    this.#definitions = this.#definitions.then(() => settled);
  }

  /**
   * Queues again the definitions that failed to commit (a full disk), so a flush after the disk
   * recovered writes them before its own points. The failure they left is cleared: the outcome
   * of this new attempt decides.
   */
  #rewriteDefinitions(): void {
    this.#backgroundError = undefined;
    if (this.#unwrittenDefs.size === 0) return;
    const ids = [...this.#unwrittenDefs];
    this.#unwrittenDefs.clear();
    for (const id of ids) {
      const def = this.#defs.get(id)!;
      this.#background(() => this.#db.series.put(id, def), [id]);
      this.#background(() => this.#db.seriesKey.put(def.key, id), [id]);
    }
  }

  #assertNoBackgroundError(): void {
    if (this.#backgroundError !== undefined) {
      const error = new MonitorError(
        ErrorCode.StoreFailed,
        `flush: a series definition failed to commit: ${this.#backgroundError.message}`,
        {
          cause: this.#backgroundError,
        },
      );
      this.#noteFailure(error);
      throw error;
    }
  }

  #noteFailure(error: Error, byRecords = false): void {
    const known = this.#writeFailure;
    const message = rootCause(error).message;
    if (known === undefined)
      this.#writeFailure = {
        since: Date.now(),
        error: message,
        reason: failureReason(error),
        attempts: 1,
        ...(byRecords ? { byRecords: true as const } : {}),
      };
    else {
      const { byRecords: _by, ...rest } = known;
      this.#writeFailure = {
        ...rest,
        error: message,
        reason: failureReason(error),
        attempts: known.attempts + 1,
        ...(byRecords && known.byRecords === true ? { byRecords: true as const } : {}),
      };
    }
  }
}

/** The innermost error of a `cause` chain (lmdb-js's own error under ours). */
function rootCause(error: Error): Error {
  let e = error;
  for (let depth = 0; depth < 4 && e.cause instanceof Error; depth++) e = e.cause;
  return e;
}

/**
 * Flushes of at most this many entries (current values plus points) are written from the main
 * thread, so a small table never waits for the writer thread to start (0.4–1.2 s at a store's
 * first flush, measured). Writing one appends to each changed series' head chunk in one
 * synchronous block: ~5 µs of CPU per series, so 1,000 keep it near 5 ms (1,900 series measured
 * 7-17 ms wall, up to 53 ms on this loaded machine). Larger flushes go to the thread, and so does
 * any flush with a point at or before its series' stored last ts (the slow path, `flushNeedsMerge`).
 */
export const SMALL_FLUSH_PUTS = 1000;
