/**
 * The 12-byte `(series id, timestamp)` key of the chunk databases (big-endian uint32 id, then an
 * ordered float64 so LMDB's byte order sorts by id, then time), plus layout 2's point value and flush
 * record, kept for reading a layout-2 store. Fixed binary keys, not lmdb-js's array keys, because the
 * writer thread takes keys and values as slices of one transferred buffer, with no encoding. Byte
 * layout: docs/STORAGE.md, docs/design-notes.md.
 */
import { ErrorCode, MonitorError } from '../errors.js';

/** Bytes of a `(series id, timestamp)` key. */
export const KEY_BYTES = 12;
/** Bytes of a `points` value. */
export const VALUE_BYTES = 8;
/** Bytes of a point record in a flush: key, then value. */
export const RECORD_BYTES = KEY_BYTES + VALUE_BYTES;

/** A key of `points` and `rollup_1m` as the store reads and writes it. */
export type SeriesTimeKey = [id: number, ts: number];
/** A range bound: a full key, or `[id]`, which sorts before every key of the series. */
export type SeriesTimeBound = SeriesTimeKey | [id: number];

const keyView = new DataView(new ArrayBuffer(KEY_BYTES));
const keyBytes = new Uint8Array(keyView.buffer);
const idBytes = new Uint8Array(keyView.buffer, 0, 4);
const valueView = new DataView(new ArrayBuffer(VALUE_BYTES));
const valueBytes = new Uint8Array(valueView.buffer);

/**
 * Writes the 12-byte key of `(id, ts)` at `offset` (through a scratch buffer: `set` throws a
 * RangeError when `target` is too short, which lmdb-js relies on to grow its key buffer).
 * @param target the buffer to write into
 * @param offset where the key starts
 * @param id a series id (uint32)
 * @param ts a timestamp or range bound in ms; any number except NaN
 * @returns the offset after the key
 */
export function writeSeriesTimeKey(target: Uint8Array, offset: number, id: number, ts: number): number {
  keyView.setUint32(0, id);
  keyView.setFloat64(4, ts + 0); // + 0 turns -0 into 0
  const hi = keyView.getUint32(4);
  if (hi & 0x80000000) {
    keyView.setUint32(4, ~hi);
    keyView.setUint32(8, ~keyView.getUint32(8));
  } else {
    keyView.setUint32(4, hi | 0x80000000);
  }
  target.set(keyBytes, offset);
  return offset + KEY_BYTES;
}

/**
 * Reads a key written by {@link writeSeriesTimeKey}.
 * @param source the buffer holding the key
 * @param start where the key starts
 * @param end where the key ends (`start + 12`)
 * @throws {MonitorError} `EMON_STORE_FAILED` if the key is not 12 bytes long
 */
export function readSeriesTimeKey(source: Uint8Array, start: number, end: number): SeriesTimeKey {
  if (end - start !== KEY_BYTES) {
    throw new MonitorError(
      ErrorCode.StoreFailed,
      `the metric store holds a ${end - start}-byte history key; this layout has ${KEY_BYTES}-byte (series id, timestamp) keys`,
    );
  }
  // lmdb-js hands a key inside `source` (end <= source.length); copied byte by byte, no subarray per read
  for (let i = 0; i < KEY_BYTES; i++) keyBytes[i] = source[start + i]!;
  const hi = keyView.getUint32(4);
  if (hi & 0x80000000) {
    keyView.setUint32(4, hi & 0x7fffffff);
  } else {
    keyView.setUint32(4, ~hi);
    keyView.setUint32(8, ~keyView.getUint32(8));
  }
  return [keyView.getUint32(0), keyView.getFloat64(4)];
}

/**
 * The lmdb-js `keyEncoder` of `points` and `rollup_1m`: `[id, ts]` keys and `[id]` bounds.
 * Every opener of the env must use this layout (LMDB only sees the bytes).
 */
export const seriesTimeKeyEncoder = {
  writeKey(key: SeriesTimeBound | Uint8Array, target: Uint8Array, start: number): number {
    if (key instanceof Uint8Array) {
      // lmdb-js's own "lowest key" bound, [0]
      target.set(key, start);
      return start + key.length;
    }
    if (key.length === 1) {
      keyView.setUint32(0, key[0]);
      target.set(idBytes, start);
      return start + 4;
    }
    return writeSeriesTimeKey(target, start, key[0], key[1]);
  },
  readKey: readSeriesTimeKey,
};

/**
 * The lmdb-js value `encoder` of `points`: a number as 8 big-endian float64 bytes. `decode` reads
 * from lmdb-js's shared read buffer without copying it (no allocation per point read).
 */
export const float64ValueEncoder = {
  encode(value: number): Uint8Array {
    const bytes = new Uint8Array(VALUE_BYTES);
    new DataView(bytes.buffer).setFloat64(0, value);
    return bytes;
  },
  decode(bytes: Uint8Array): number {
    if (bytes.length !== VALUE_BYTES) {
      throw new MonitorError(
        ErrorCode.StoreFailed,
        `the metric store holds a ${bytes.length}-byte point value; this layout has ${VALUE_BYTES}-byte float64 values`,
      );
    }
    // Not valueBytes.set(bytes): lmdb-js hands its shared read buffer with `length` redefined to the value's size
    for (let i = 0; i < VALUE_BYTES; i++) valueBytes[i] = bytes[i]!;
    return valueView.getFloat64(0);
  },
};

/**
 * Writes one point record (key, then value) at `offset` of `records`.
 * @param records the flush's record buffer
 * @param view a DataView over the whole of `records`
 * @param offset a multiple of {@link RECORD_BYTES}
 */
export function writePointRecord(
  records: Uint8Array,
  view: DataView,
  offset: number,
  id: number,
  ts: number,
  value: number,
): void {
  writeSeriesTimeKey(records, offset, id, ts);
  view.setFloat64(offset + KEY_BYTES, value);
}
