/**
 * `convertRecordValues`: rewrites the record values of a store written by layout 2 (plain msgpack)
 * in the compact format of `record-codec.ts`, in bounded steps, for the layout 2 → 3 migration.
 *
 * Optional: the codec reads both formats, so a layout-2 store works unconverted and its old values
 * shrink as they are rewritten or trimmed. Converting gives the space back at once (a 10-minute
 * demo run's 121 performance reports: 121 pages → 9). Each step converts at most `batch` records
 * of one collection in one transaction, yields whenever its encoding has held the event loop
 * {@link SLICE_MS} ms, and yields again before the next step. A kill at any point leaves every
 * value readable (each is either old or new); running it again finishes the job (converted values
 * are skipped).
 */
import { performance } from 'node:perf_hooks';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { describeValue, ErrorCode, MonitorError, toError } from '../errors.js';
import { committed } from './commit-guard.js';
import { decodeRecordValue, dictionaryFor, encodeRecordValue, isCompressedRecordValue } from './record-codec.js';
import type { RecordKey } from './record-db.js';

/** Records per transaction by default. */
export const CONVERT_BATCH = 1000;

/**
 * Main-thread time the re-encoding of one step may take before it yields: a report costs
 * ~0.1-0.3 ms to decode and deflate on a loaded 2-core VM, so 1,000 of them at once held the loop
 * ~150 ms. The step's values are encoded in slices; its puts still commit in one transaction.
 */
const SLICE_MS = 8;

/** The part of a record collection's lmdb-js `Database` (opened with `encoding: 'binary'`) the conversion uses. */
export interface ConvertibleDb {
  getRange(options: {
    start?: RecordKey;
    offset?: number;
    limit: number;
  }): Iterable<{ key: RecordKey; value: Uint8Array }>;
  put(key: RecordKey, value: Uint8Array): Promise<boolean>;
  remove(key: RecordKey): Promise<boolean>;
  batch(action: () => unknown): Promise<boolean>;
}

/** The part of the lmdb-js root env the conversion uses. */
export interface ConvertibleEnv {
  /** The env's database names (the main db's keys). */
  getKeys(): Iterable<unknown>;
  openDB(name: string, options: { encoding: 'binary' }): unknown;
}

/** Options of {@link convertRecordValues}. */
export interface ConvertOptions {
  /** Records per transaction (default {@link CONVERT_BATCH}); at least 1. */
  batch?: number;
  /**
   * Called before each step's write with its puts and value bytes: throw to refuse it (the
   * store's headroom check, `headroom.ts`). The error rejects the conversion; nothing of that step is written.
   */
  ensureRoom?(op: string, puts: number, bytes: number): void;
  /** Awaited between steps and slices of a step; default: one turn of the event loop (`setImmediate`). */
  yieldBetween?(): Promise<unknown>;
  /** Monotonic ms for the slices (default `performance.now`). */
  now?(): number;
}

/** What {@link convertRecordValues} did. */
export interface ConvertResult {
  /** Record collections (`rec:*` databases) looked at. */
  collections: number;
  /** Values rewritten in the compact format. */
  converted: number;
  /** Plain msgpack values left as they are: compression does not make them smaller. */
  kept: number;
  /** Value bytes of the rewritten records before and after. */
  bytesBefore: number;
  bytesAfter: number;
}

/**
 * Rewrites every plain-msgpack record value of every `rec:*` collection of `env` in the compact
 * format where that is smaller, at most `batch` records per transaction, yielding between steps.
 * Run it on a writable env that nothing else writes (the migration, before the store opens).
 * @throws {MonitorError} `EMON_INVALID_OPTION` for a bad batch; (rejects) `EMON_STORE_FAILED` when a
 *   step's commit fails or a value does not decode (naming the collection and key): what earlier
 *   steps wrote stays; (rejects) whatever `ensureRoom` throws, with nothing of that step written
 */
export async function convertRecordValues(env: ConvertibleEnv, options: ConvertOptions = {}): Promise<ConvertResult> {
  const batch = options.batch ?? CONVERT_BATCH;
  if (!Number.isSafeInteger(batch) || batch < 1) {
    throw new MonitorError(
      ErrorCode.InvalidOption,
      `convertRecordValues: invalid batch ${describeValue(batch)} (expected an integer >= 1)`,
    );
  }
  const pause = options.yieldBetween ?? (() => yieldToLoop());
  const now = options.now ?? (() => performance.now());
  const names = Array.from(env.getKeys()).filter(
    (key): key is string => typeof key === 'string' && key.startsWith('rec:'),
  );
  const result: ConvertResult = { collections: names.length, converted: 0, kept: 0, bytesBefore: 0, bytesAfter: 0 };
  for (const name of names) {
    const collection = name.slice('rec:'.length);
    const db = env.openDB(name, { encoding: 'binary' }) as ConvertibleDb | undefined;
    if (db === undefined) continue;
    const dictionary = dictionaryFor(collection);
    let after: RecordKey | undefined;
    for (;;) {
      // Keys are never added or removed here: the last key read is still there, and offset 1 skips it.
      const entries = Array.from(
        db.getRange(after === undefined ? { limit: batch } : { start: after, offset: 1, limit: batch }),
      );
      if (entries.length === 0) break;
      after = entries[entries.length - 1]!.key;
      const puts: { key: RecordKey; value: Uint8Array }[] = [];
      let before = 0;
      let bytes = 0;
      let sliceStart = now();
      for (const { key, value } of entries) {
        if (now() - sliceStart > SLICE_MS) {
          await pause();
          sliceStart = now();
        }
        if (isCompressedRecordValue(value)) continue;
        let decoded: unknown;
        try {
          decoded = decodeRecordValue(value);
        } catch (err) {
          throw new MonitorError(
            ErrorCode.StoreFailed,
            `convertRecordValues: the ${collection} record ${describeValue(key)} does not decode: ${toError(err).message}`,
            { cause: err },
          );
        }
        const encoded = encodeRecordValue(decoded, dictionary);
        if (encoded.length >= value.length) {
          result.kept++;
          continue;
        }
        puts.push({ key, value: encoded });
        before += value.length;
        bytes += encoded.length;
      }
      if (puts.length > 0) {
        options.ensureRoom?.(`convert ${collection}`, puts.length, bytes);
        await committed(
          // Removed, then put back: LMDB shrinks no page when a value is replaced by a smaller
          // one (rewritten in place, the pages stayed as many as before, measured); a delete
          // rebalances emptied pages away, and the puts pack the small values densely.
          db.batch(() => {
            for (const { key } of puts) void db.remove(key);
            for (const { key, value } of puts) void db.put(key, value);
          }),
          `convert ${collection}`,
        );
        result.converted += puts.length;
        result.bytesBefore += before;
        result.bytesAfter += bytes;
      }
      if (entries.length < batch) break;
      await pause();
    }
  }
  return result;
}
