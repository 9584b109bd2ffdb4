/**
 * One chunk of a series' history: rows of a strictly increasing safe-integer ms timestamp and
 * `columns` finite float64 values, encoded append-only and self-describing.
 *
 * Format 0 (placeholder inner encoding, replaced by the compressed one; the API is final):
 * header `[format u8 = 0][columns u8][count u32 BE][firstTs f64 BE][lastTs f64 BE]`, then per row
 * the ts and each value as big-endian float64.
 */

const FORMAT_RAW = 0;
const HEADER_BYTES = 22;
const MAX_COLUMNS = 255;

function chunkError(what: string): Error {
  return new Error(`malformed chunk: ${what}`);
}

/** Append-only encoder of one chunk: strictly increasing safe-integer ms timestamps, finite floats. */
export class ChunkEncoder {
  readonly #columns: number;
  #buf: Uint8Array;
  #view: DataView;
  #len = HEADER_BYTES;
  #count = 0;
  #firstTs = NaN;
  #lastTs = NaN;

  /**
   * @param columns value columns per row; default 1 (rollup cells use 6)
   * @throws RangeError for columns not an integer in 1..255
   */
  constructor(columns = 1) {
    if (!Number.isInteger(columns) || columns < 1 || columns > MAX_COLUMNS) {
      throw new RangeError(`chunk columns must be an integer in 1..${MAX_COLUMNS}, got ${columns}`);
    }
    this.#columns = columns;
    this.#buf = new Uint8Array(64 + 8 * (columns + 1) * 8);
    this.#view = new DataView(this.#buf.buffer);
  }

  /**
   * Resumes appending to an encoded chunk in O(1) of its length (state kept in the chunk), no full decode.
   * @throws Error naming the chunk problem for malformed bytes
   */
  static resume(bytes: Uint8Array): ChunkEncoder {
    const info = chunkInfo(bytes);
    const enc = new ChunkEncoder(info.columns);
    enc.#ensure(bytes.length);
    enc.#buf.set(bytes, 0);
    enc.#len = bytes.length;
    enc.#count = info.count;
    enc.#firstTs = info.firstTs;
    enc.#lastTs = info.lastTs;
    return enc;
  }

  get count(): number {
    return this.#count;
  }
  get firstTs(): number {
    return this.#firstTs;
  }
  get lastTs(): number {
    return this.#lastTs;
  }
  get byteLength(): number {
    return this.#len;
  }
  get columns(): number {
    return this.#columns;
  }

  /** Appends one row of a one-column chunk. @throws RangeError as appendRow */
  append(ts: number, value: number): void {
    if (this.#columns !== 1) throw new RangeError(`append needs a 1-column chunk; this one has ${this.#columns}`);
    this.#checkTs(ts);
    if (!Number.isFinite(value)) throw new RangeError(`chunk value must be finite, got ${value}`);
    this.#ensure(this.#len + 16);
    this.#view.setFloat64(this.#len, ts);
    this.#view.setFloat64(this.#len + 8, value);
    this.#len += 16;
    this.#accept(ts);
  }

  /**
   * Appends one row.
   * @throws RangeError for ts not a safe integer >= 0 or not > lastTs, a row of the wrong width, a non-finite value
   */
  appendRow(ts: number, values: ArrayLike<number>): void {
    this.#checkTs(ts);
    if (values.length !== this.#columns) {
      throw new RangeError(`chunk row needs ${this.#columns} values, got ${values.length}`);
    }
    for (let c = 0; c < this.#columns; c++) {
      if (!Number.isFinite(values[c])) throw new RangeError(`chunk value must be finite, got ${values[c]} in column ${c}`);
    }
    this.#ensure(this.#len + 8 * (this.#columns + 1));
    this.#view.setFloat64(this.#len, ts);
    this.#len += 8;
    for (let c = 0; c < this.#columns; c++) {
      this.#view.setFloat64(this.#len, values[c]);
      this.#len += 8;
    }
    this.#accept(ts);
  }

  /** A fresh copy of the self-describing chunk. */
  bytes(): Uint8Array {
    const v = this.#view;
    v.setUint8(0, FORMAT_RAW);
    v.setUint8(1, this.#columns);
    v.setUint32(2, this.#count);
    v.setFloat64(6, this.#count ? this.#firstTs : 0);
    v.setFloat64(14, this.#count ? this.#lastTs : 0);
    return this.#buf.slice(0, this.#len);
  }

  #checkTs(ts: number): void {
    if (!Number.isSafeInteger(ts) || ts < 0) throw new RangeError(`chunk ts must be a safe integer >= 0, got ${ts}`);
    if (this.#count > 0 && ts <= this.#lastTs) {
      throw new RangeError(`chunk ts must increase: ${ts} is not after ${this.#lastTs}`);
    }
  }

  #accept(ts: number): void {
    if (this.#count === 0) this.#firstTs = ts;
    this.#lastTs = ts;
    this.#count++;
  }

  #ensure(size: number): void {
    if (size <= this.#buf.length) return;
    const next = new Uint8Array(Math.max(size, this.#buf.length * 2));
    next.set(this.#buf.subarray(0, this.#len));
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }
}

/** The header of a chunk, read in O(1). @throws Error naming the chunk problem for malformed bytes */
export function chunkInfo(bytes: Uint8Array): { columns: number; count: number; firstTs: number; lastTs: number } {
  if (bytes.length < HEADER_BYTES) throw chunkError(`${bytes.length} bytes is shorter than the ${HEADER_BYTES}-byte header`);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const format = v.getUint8(0);
  if (format !== FORMAT_RAW) throw chunkError(`unknown format ${format}`);
  const columns = v.getUint8(1);
  const count = v.getUint32(2);
  if (columns < 1) throw chunkError('0 columns');
  if (bytes.length !== HEADER_BYTES + count * 8 * (columns + 1)) {
    throw chunkError(`${bytes.length} bytes does not hold ${count} rows of ${columns} columns`);
  }
  const firstTs = count ? v.getFloat64(6) : NaN;
  const lastTs = count ? v.getFloat64(14) : NaN;
  return { columns, count, firstTs, lastTs };
}

/**
 * Appends the rows with fromMs <= ts <= toMs to `ts` and `cols[c]` (cols.length === columns).
 * @returns rows appended
 * @throws Error naming the chunk problem for malformed bytes; RangeError for cols of the wrong length
 */
export function decodeChunkInto(bytes: Uint8Array, fromMs: number, toMs: number, ts: number[], cols: number[][]): number {
  const info = chunkInfo(bytes);
  if (cols.length !== info.columns) throw new RangeError(`chunk has ${info.columns} columns, got ${cols.length} arrays`);
  if (info.count === 0 || toMs < info.firstTs || fromMs > info.lastTs) return 0;
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let off = HEADER_BYTES;
  let n = 0;
  for (let r = 0; r < info.count; r++) {
    const t = v.getFloat64(off);
    off += 8;
    if (t >= fromMs && t <= toMs) {
      ts.push(t);
      for (let c = 0; c < info.columns; c++) cols[c].push(v.getFloat64(off + 8 * c));
      n++;
    }
    off += 8 * info.columns;
  }
  return n;
}
