/**
 * One chunk of a series' history: rows of a strictly increasing ms timestamp and `columns` finite
 * float64 values (1 for raw points, 6 for rollup cells), encoded append-only into a self-describing
 * byte string that resumes in O(1). Timestamps and scaled decimal values are delta-of-delta
 * predicted and Rice-coded with an adapted parameter; other values fall back to Gorilla's XOR.
 * ~1-2 B per point where XOR alone takes ~7 (measured table, layout and bit format:
 * docs/design-notes.md, docs/STORAGE.md). Decoding reads the whole chunk and checks it ends exactly
 * where the header says: truncated bytes always throw (there is no checksum).
 */

const FORMAT = 1;
const MAX_COLUMNS = 255;
const MODE_XOR = 0x80;
const MAX_DECIMALS = 9;
/** Binary mode m (values n / 2^m) is stored as MODE_BINARY | m, m = 1..MAX_BINARY_BITS. */
const MODE_BINARY = 0x40;
const MAX_BINARY_BITS = 40;
/**
 * Near-decimal mode d (values within a few ULPs of `n / 10^d`, as float arithmetic leaves them:
 * 1.5121910000000014 = 1512191 ns / 1e6 after a subtraction) is stored as MODE_ULP | d; each value
 * is its integer n plus the distance in ULPs from `n / 10^d`, at most ULP_MAX.
 */
const MODE_ULP = 0x20;
const ULP_MAX = 2 ** 16;
const MAX_DECIMAL_INT = 2 ** 49;
const ESC_Q = 20;
/** Residuals counted into the A/N means are capped so A stays a safe integer. */
const A_CAP = 2 ** 32;
/** N at which A and N halve: the adaptive window is ~16–32 rows. */
const N_RESET = 16;
const RICE_LIMIT = 2 ** 40;

const POW10 = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9];
const POW2: number[] = [];
for (let i = 0; i <= 64; i++) POW2.push(2 ** i);

/** The integer scale of each scaled mode: 10^d, 2^m; 0 for modes that do not exist. */
const SCALE = zeros(256);
for (let d = 0; d <= MAX_DECIMALS; d++) SCALE[d] = at(POW10, d);
for (let m = 1; m <= MAX_BINARY_BITS; m++) SCALE[MODE_BINARY | m] = at(POW2, m);
for (let d = 0; d <= MAX_DECIMALS; d++) SCALE[MODE_ULP | d] = at(POW10, d);

function isUlp(mode: number): boolean {
  return (mode & 0xf0) === MODE_ULP;
}

const f64 = new DataView(new ArrayBuffer(8));

/*
 * Indexed reads whose index the codec's layout keeps in range: state arrays are allocated at the
 * size their offsets assume, tables are indexed by checked modes and bit lengths, rows and columns
 * by their checked width. One helper per array type: V8 keeps one inline cache per function, and a
 * single generic helper went megamorphic (decoding 6-column chunks took 1.6x the time, measured).
 */
function at(a: number[], i: number): number {
  return a[i]!;
}

function valueAt(values: ArrayLike<number>, i: number): number {
  return values[i]!;
}

function colAt(cols: number[][], i: number): number[] {
  return cols[i]!;
}

/** b[i] of a body padded with 8 zero bytes (BitReader), or of a header the caller has length-checked. */
function byteAt(b: Uint8Array, i: number): number {
  return b[i]!;
}

/** Small state arrays are plain arrays: a typed array per resumed chunk cost more in allocation and GC than its use saved (measured). */
function zeros(n: number): number[] {
  const a: number[] = [];
  for (let i = 0; i < n; i++) a.push(0);
  return a;
}

function chunkError(what: string): Error {
  return new Error(`malformed chunk: ${what}`);
}

/** Whether v === n / scale exactly for an integer |n| <= 2^49 in the scaled `mode`. */
function fits(v: number, mode: number): boolean {
  const scale = at(SCALE, mode);
  const n = Math.round(v * scale);
  if (Math.abs(n) > MAX_DECIMAL_INT || (n === 0 && Object.is(v, -0))) return false;
  if (n / scale === v) return true;
  return isUlp(mode) && n !== 0 && Math.abs(ulpDistance(v, n / scale)) <= ULP_MAX;
}

/** bits(a) - bits(b) as float64 bit patterns (the ULPs between them), or Infinity for different signs. */
function ulpDistance(a: number, b: number): number {
  f64.setFloat64(0, a);
  const ah = f64.getUint32(0);
  const al = f64.getUint32(4);
  f64.setFloat64(0, b);
  const bh = f64.getUint32(0);
  const bl = f64.getUint32(4);
  if ((ah ^ bh) >>> 31) return Infinity;
  return (ah - bh) * 4294967296 + (al - bl);
}

/** The float64 whose bit pattern is bits(base) + ulps (|ulps| <= ULP_MAX, same sign). */
function addUlps(base: number, ulps: number): number {
  f64.setFloat64(0, base);
  let hi = f64.getUint32(0);
  let lo = f64.getUint32(4) + ulps;
  if (lo < 0) {
    lo += 4294967296;
    hi -= 1;
  } else if (lo >= 4294967296) {
    lo -= 4294967296;
    hi += 1;
  }
  f64.setUint32(0, hi >>> 0);
  f64.setUint32(4, lo);
  return f64.getFloat64(0);
}

/**
 * The scaled mode that takes every value with the smallest scale (decimal 10^d or binary 2^m:
 * sketch quantiles are binary fractions like 13.5625, CPU % decimal ones like 12.34), or XOR.
 */
function pickMode(values: ArrayLike<number>): number {
  let d = 0;
  let m = 0;
  for (let i = 0; i < values.length && (d >= 0 || m >= 0); i++) {
    const v = valueAt(values, i);
    while (d >= 0 && !fits(v, d)) d = d < MAX_DECIMALS ? d + 1 : -1;
    while (m >= 0 && !fits(v, m === 0 ? 0 : MODE_BINARY | m)) m = m < MAX_BINARY_BITS ? m + 1 : -1;
  }
  // A larger scale can push an earlier value past 2^49: every value must fit the final one.
  for (let i = 0; i < values.length && (d >= 0 || m >= 0); i++) {
    if (d >= 0 && !fits(valueAt(values, i), d)) d = -1;
    if (m >= 0 && !fits(valueAt(values, i), m === 0 ? 0 : MODE_BINARY | m)) m = -1;
  }
  if (d < 0 && m < 0) {
    for (let u = 0; u <= MAX_DECIMALS; u++) {
      let all = true;
      for (let i = 0; i < values.length && all; i++) all = fits(valueAt(values, i), MODE_ULP | u);
      if (all) return MODE_ULP | u;
    }
    return MODE_XOR;
  }
  if (d >= 0 && (m < 0 || at(POW10, d) <= at(POW2, m))) return d;
  return m === 0 ? 0 : MODE_BINARY | m;
}

function bitLength(mag: number): number {
  return mag < 4294967296 ? 32 - Math.clz32(mag) : 64 - Math.clz32(Math.floor(mag / 4294967296));
}

/** The smallest k with n * 2^k >= a (JPEG-LS), capped at 45. */
function riceK(a: number, n: number): number {
  if (a <= n) return 0;
  const q = Math.ceil(a / n);
  if (q <= 2147483648) return 32 - Math.clz32(q - 1);
  let k = 31;
  while (n * at(POW2, k) < a && k < 45) k++;
  return k;
}

/** Integer stream state: last value, last delta, mean |order-1 residual| (A1), |order-2| (A2), N. */
const S_LAST = 0;
const S_DELTA = 1;
const S_A1 = 2;
const S_A2 = 3;
const S_N = 4;
const S_SIZE = 5;

/** XOR column state, per column: hi, lo of the last value's bits, leading, trailing of the window. */
const X_HI = 0;
const X_LO = 1;
const X_LEAD = 2;
const X_TRAIL = 3;
const X_SIZE = 4;
/** A near-decimal column keeps its ULP stream's A and N in its XOR slots (the modes exclude each other). */
const U_A = 0;
const U_N = 1;

function updateUlp(u: number[], o: number, ulps: number): void {
  const a = at(u, o + U_A) + Math.abs(ulps);
  const n = at(u, o + U_N) + 1;
  u[o + U_A] = n >= N_RESET ? Math.floor(a / 2) : a;
  u[o + U_N] = n >= N_RESET ? N_RESET / 2 : n;
}

function updateInt(st: number[], o: number, x: number): void {
  const delta = x - at(st, o + S_LAST);
  const r2 = delta - at(st, o + S_DELTA);
  let a1 = at(st, o + S_A1) + Math.min(Math.abs(delta), A_CAP);
  let a2 = at(st, o + S_A2) + Math.min(Math.abs(r2), A_CAP);
  let n = at(st, o + S_N) + 1;
  if (n >= N_RESET) {
    a1 = Math.floor(a1 / 2);
    a2 = Math.floor(a2 / 2);
    n = N_RESET / 2;
  }
  st[o + S_A1] = a1;
  st[o + S_A2] = a2;
  st[o + S_N] = n;
  st[o + S_LAST] = x;
  st[o + S_DELTA] = delta;
}

class BitWriter {
  buf: Uint8Array;
  len = 0;
  acc = 0;
  accBits = 0;

  constructor(buf: Uint8Array) {
    this.buf = buf;
  }

  get bits(): number {
    return this.len * 8 + this.accBits;
  }

  ensure(extraBytes: number): void {
    if (this.len + extraBytes <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.len + extraBytes, this.buf.length * 2, 64));
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  /** Writes the low n bits of the uint32 v (n <= 32). */
  write(v: number, n: number): void {
    if (n > 24) {
      this.write(v >>> 16, n - 16);
      v &= 0xffff;
      n = 16;
    }
    const acc = (this.acc << n) | v;
    let bits = this.accBits + n;
    while (bits >= 8) {
      bits -= 8;
      this.buf[this.len++] = (acc >>> bits) & 0xff;
    }
    this.acc = acc & ((1 << bits) - 1);
    this.accBits = bits;
  }

  /** Writes the low n bits of a non-negative safe integer (n <= 53). */
  writeBig(v: number, n: number): void {
    if (n > 24) {
      const hi = Math.floor(v / 16777216);
      this.writeBig(hi, n - 24);
      this.write(v - hi * 16777216, 24);
    } else if (n > 0) {
      this.write(v, n);
    }
  }

  /** Sign, 6-bit bit length, then the bits below the top one (|r| < 2^54). */
  writeRaw(r: number): void {
    const mag = Math.abs(r);
    const len = bitLength(mag);
    this.write(((r < 0 ? 1 : 0) << 6) | len, 7);
    if (len > 1) this.writeBig(mag - at(POW2, len - 1), len - 1);
  }

  writeRice(r: number, k: number): void {
    if (Math.abs(r) < RICE_LIMIT) {
      const z = r >= 0 ? 2 * r : -2 * r - 1;
      const q = Math.floor(z / at(POW2, k));
      if (q < ESC_Q) {
        this.write(((1 << q) - 1) << 1, q + 1);
        this.writeBig(z - q * at(POW2, k), k);
        return;
      }
    }
    this.write((1 << ESC_Q) - 1, ESC_Q);
    this.writeRaw(r);
  }
}

class BitReader {
  /** Padded with 8 zero bytes so peeks past the end read zeros; the decoder checks the bit count. */
  b: Uint8Array;
  pos = 0;

  constructor(b: Uint8Array) {
    this.b = b;
  }

  peek32(): number {
    const b = this.b;
    const i = this.pos >>> 3;
    const s = this.pos & 7;
    const w = ((byteAt(b, i) << 24) | (byteAt(b, i + 1) << 16) | (byteAt(b, i + 2) << 8) | byteAt(b, i + 3)) >>> 0;
    return s === 0 ? w : ((w << s) | (byteAt(b, i + 4) >>> (8 - s))) >>> 0;
  }

  read(n: number): number {
    if (n === 0) return 0;
    const w = this.peek32();
    this.pos += n;
    return n === 32 ? w : w >>> (32 - n);
  }

  readBig(n: number): number {
    if (n <= 32) return this.read(n);
    const hi = this.read(n - 32);
    return hi * 4294967296 + this.read(32);
  }

  readRaw(): number {
    const head = this.read(7);
    const len = head & 63;
    if (len > 54) throw chunkError(`raw integer of ${len} bits`);
    const mag = len === 0 ? 0 : at(POW2, len - 1) + (len > 1 ? this.readBig(len - 1) : 0);
    return head & 64 ? -mag : mag;
  }

  readRice(k: number): number {
    const ones = Math.clz32(~this.peek32());
    if (ones >= ESC_Q) {
      this.pos += ESC_Q;
      return this.readRaw();
    }
    this.pos += ones + 1;
    if (k <= 24) {
      const z = (ones << k) | this.read(k);
      return z & 1 ? -((z + 1) / 2) : z / 2;
    }
    const z = ones * at(POW2, k) + this.readBig(k);
    return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
  }
}

/** Decoded state of a chunk header, shared by chunkInfo, resume and decoding. */
interface Header {
  columns: number;
  count: number;
  firstTs: number;
  lastTs: number;
  bodyBits: number;
  modes: number[];
  /** ts stream then one int stream per column (unused slots for XOR columns). */
  ints: number[];
  xor: number[];
  bodyStart: number;
}

class ByteCursor {
  pos = 0;
  constructor(readonly b: Uint8Array) {}

  u8(what: string): number {
    if (this.pos >= this.b.length) throw chunkError(`truncated in ${what}`);
    return byteAt(this.b, this.pos++);
  }

  varint(what: string): number {
    let v = 0;
    let mul = 1;
    for (let i = 0; ; i++) {
      const byte = this.u8(what);
      v += (byte & 0x7f) * mul;
      if (!(byte & 0x80)) break;
      mul *= 128;
      if (i >= 7) throw chunkError(`varint too long in ${what}`);
    }
    if (v > Number.MAX_SAFE_INTEGER) throw chunkError(`${what} out of range`);
    return v;
  }

  zvarint(what: string): number {
    const z = this.varint(what);
    return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
  }

  u32(what: string): number {
    return ((this.u8(what) << 24) | (this.u8(what) << 16) | (this.u8(what) << 8) | this.u8(what)) >>> 0;
  }
}

function varintSize(v: number): number {
  let n = 1;
  while (v >= 128) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

function putVarint(out: Uint8Array, pos: number, v: number): number {
  while (v >= 128) {
    out[pos++] = (v % 128) | 0x80;
    v = Math.floor(v / 128);
  }
  out[pos++] = v;
  return pos;
}

function zig(v: number): number {
  return v >= 0 ? 2 * v : -2 * v - 1;
}

function readHeader(bytes: Uint8Array, withState: boolean): Header {
  if (!(bytes instanceof Uint8Array)) throw chunkError('not a Uint8Array');
  const c = new ByteCursor(bytes);
  const format = c.u8('format');
  if (format !== FORMAT) throw chunkError(`unknown format ${format} (expected ${FORMAT})`);
  const columns = c.u8('columns');
  if (columns < 1) throw chunkError('0 columns');
  const count = c.varint('count');
  const firstTs = count > 0 ? c.varint('firstTs') : NaN;
  const lastTs = count > 0 ? firstTs + c.varint('ts span') : NaN;
  if (count > 0 && !Number.isSafeInteger(lastTs)) throw chunkError('lastTs out of range');
  if (count === 1 && lastTs !== firstTs) throw chunkError('1 row but lastTs differs from firstTs');
  if (count > 1 && lastTs - firstTs < count - 1)
    throw chunkError(`${count} rows cannot fit in ts span ${lastTs - firstTs}`);
  const bodyBits = c.varint('bodyBits');
  if (count > 0 && bodyBits < count - 1 + columns * count)
    throw chunkError(`${bodyBits} body bits cannot hold ${count} rows`);
  if (count === 0 && bodyBits !== 0) throw chunkError('body bits without rows');
  const modes = zeros(columns);
  for (let i = 0; i < columns; i++) {
    const m = c.u8('column modes');
    if (m !== MODE_XOR && at(SCALE, m) === 0) throw chunkError(`unknown column mode ${m}`);
    modes[i] = m;
  }
  const ints = zeros(S_SIZE * (columns + 1));
  const xor = zeros(X_SIZE * columns);
  if (count > 0 && withState) {
    ints[S_LAST] = lastTs;
    ints[S_DELTA] = c.varint('ts state');
    ints[S_A1] = c.varint('ts state');
    ints[S_A2] = c.varint('ts state');
    ints[S_N] = c.varint('ts state');
    for (let i = 0; i < columns; i++) {
      if (at(modes, i) === MODE_XOR) {
        const x = X_SIZE * i;
        xor[x + X_HI] = c.u32('XOR state');
        xor[x + X_LO] = c.u32('XOR state');
        xor[x + X_LEAD] = c.u8('XOR state');
        xor[x + X_TRAIL] = c.u8('XOR state');
        if (at(xor, x + X_LEAD) > 64 || at(xor, x + X_TRAIL) > 64) throw chunkError('XOR window out of range');
      } else {
        const o = S_SIZE * (i + 1);
        ints[o + S_LAST] = c.zvarint('decimal state');
        ints[o + S_DELTA] = c.zvarint('decimal state');
        ints[o + S_A1] = c.varint('decimal state');
        ints[o + S_A2] = c.varint('decimal state');
        ints[o + S_N] = c.varint('decimal state');
        if (isUlp(at(modes, i))) {
          xor[X_SIZE * i + U_A] = c.varint('ULP state');
          xor[X_SIZE * i + U_N] = c.varint('ULP state');
        }
      }
    }
    if (bytes.length !== c.pos + Math.ceil(bodyBits / 8)) {
      throw chunkError(
        `${bytes.length} bytes, but header and state (${c.pos}) and ${bodyBits} body bits need ${c.pos + Math.ceil(bodyBits / 8)}`,
      );
    }
  } else if (count === 0 && bytes.length !== c.pos) {
    throw chunkError(`${bytes.length - c.pos} bytes after an empty chunk's header`);
  }
  return { columns, count, firstTs, lastTs, bodyBits, modes, ints, xor, bodyStart: c.pos };
}

const EMPTY = new Uint8Array(0);
/** The parsed header `resume` hands to the constructor, so a resumed encoder allocates its state once. */
let adopting: Header | undefined;

/** Append-only encoder of one chunk: strictly increasing safe-integer ms timestamps, finite floats. */
export class ChunkEncoder {
  readonly #columns: number;
  #modes: number[];
  #ints: number[];
  #xor: number[];
  #w: BitWriter;
  #count = 0;
  #firstTs = NaN;
  #lastTs = NaN;
  readonly #one = [0];
  /** Gorilla's XOR for every column, for measuring what the decimal mode saves. */
  #xorOnly = false;

  /**
   * @param columns value columns per row; default 1 (rollup cells use 6)
   * @throws RangeError for columns not an integer in 1..255
   */
  constructor(columns = 1) {
    if (!Number.isInteger(columns) || columns < 1 || columns > MAX_COLUMNS) {
      throw new RangeError(`chunk columns must be an integer in 1..${MAX_COLUMNS}, got ${columns}`);
    }
    this.#columns = columns;
    const h = adopting;
    adopting = undefined;
    if (h !== undefined) {
      this.#modes = h.modes;
      this.#ints = h.ints;
      this.#xor = h.xor;
      this.#count = h.count;
      this.#firstTs = h.firstTs;
      this.#lastTs = h.lastTs;
    } else {
      this.#modes = zeros(columns);
      this.#ints = zeros(S_SIZE * (columns + 1));
      this.#xor = zeros(X_SIZE * columns);
    }
    this.#w = new BitWriter(EMPTY);
  }

  /**
   * Resumes appending to an encoded chunk in O(1) of its length: the encoder's state is read from
   * the header; the body is copied, not decoded.
   * @throws Error naming the chunk problem for malformed bytes
   */
  static resume(bytes: Uint8Array): ChunkEncoder {
    const h = readHeader(bytes, true);
    adopting = h;
    const enc = new ChunkEncoder(h.columns);
    const w = enc.#w;
    const full = h.bodyBits >>> 3;
    w.buf = new Uint8Array(full + 16 * (h.columns + 1) + 32);
    w.buf.set(bytes.subarray(h.bodyStart, h.bodyStart + full));
    w.len = full;
    w.accBits = h.bodyBits & 7;
    w.acc = w.accBits ? byteAt(bytes, h.bodyStart + full) >>> (8 - w.accBits) : 0;
    if (w.accBits && (byteAt(bytes, h.bodyStart + full) & ((1 << (8 - w.accBits)) - 1)) !== 0) {
      throw chunkError('padding bits after the body are not zero');
    }
    return enc;
  }

  /** An encoder that uses XOR for every column (Gorilla's value encoding), to compare against. */
  static xorOnly(columns = 1): ChunkEncoder {
    const enc = new ChunkEncoder(columns);
    enc.#xorOnly = true;
    return enc;
  }

  /** Rows appended so far. */
  get count(): number {
    return this.#count;
  }
  /** Timestamp of the first row; NaN while empty. */
  get firstTs(): number {
    return this.#firstTs;
  }
  /** Timestamp of the last row; NaN while empty. */
  get lastTs(): number {
    return this.#lastTs;
  }
  /** Value columns per row. */
  get columns(): number {
    return this.#columns;
  }
  /** Length of `bytes()` now. */
  get byteLength(): number {
    return this.#headerSize() + Math.ceil(this.#w.bits / 8);
  }

  /**
   * Appends one row of a one-column chunk.
   * @throws RangeError as appendRow
   */
  append(ts: number, value: number): void {
    if (this.#columns !== 1) throw new RangeError(`append needs a 1-column chunk; this one has ${this.#columns}`);
    this.#one[0] = value;
    this.appendRow(ts, this.#one);
  }

  /**
   * Appends one row.
   * @throws RangeError for ts not a safe integer >= 0 or not > lastTs, a row of the wrong width, a non-finite value
   */
  appendRow(ts: number, values: ArrayLike<number>): void {
    if (!Number.isSafeInteger(ts) || ts < 0) throw new RangeError(`chunk ts must be a safe integer >= 0, got ${ts}`);
    if (this.#count > 0 && ts <= this.#lastTs) {
      throw new RangeError(`chunk ts must increase: ${ts} is not after ${this.#lastTs}`);
    }
    const columns = this.#columns;
    if (values.length !== columns) throw new RangeError(`chunk row needs ${columns} values, got ${values.length}`);
    for (let c = 0; c < columns; c++) {
      const v = valueAt(values, c);
      if (typeof v !== 'number' || !Number.isFinite(v))
        throw new RangeError(`chunk value must be finite, got ${v} in column ${c}`);
    }
    for (let c = 0; c < columns; c++) {
      const v = valueAt(values, c);
      const m = at(this.#modes, c);
      if (m !== MODE_XOR && !(this.#count === 0 ? this.#firstFits(c, v) : fits(v, m))) {
        this.#reencode(ts, values);
        return;
      }
    }
    this.#write(ts, values);
  }

  /** A fresh copy of the self-describing chunk. */
  bytes(): Uint8Array {
    const out = new Uint8Array(this.byteLength);
    const w = this.#w;
    let p = 0;
    out[p++] = FORMAT;
    out[p++] = this.#columns;
    p = putVarint(out, p, this.#count);
    if (this.#count > 0) {
      p = putVarint(out, p, this.#firstTs);
      p = putVarint(out, p, this.#lastTs - this.#firstTs);
    }
    p = putVarint(out, p, w.bits);
    for (let c = 0; c < this.#columns; c++) out[p++] = at(this.#modes, c);
    if (this.#count > 0) {
      const s = this.#ints;
      p = putVarint(out, p, at(s, S_DELTA));
      p = putVarint(out, p, at(s, S_A1));
      p = putVarint(out, p, at(s, S_A2));
      p = putVarint(out, p, at(s, S_N));
      for (let c = 0; c < this.#columns; c++) {
        if (at(this.#modes, c) === MODE_XOR) {
          const x = this.#xor;
          const o = X_SIZE * c;
          const hi = at(x, o + X_HI);
          const lo = at(x, o + X_LO);
          out[p++] = hi >>> 24;
          out[p++] = (hi >>> 16) & 0xff;
          out[p++] = (hi >>> 8) & 0xff;
          out[p++] = hi & 0xff;
          out[p++] = lo >>> 24;
          out[p++] = (lo >>> 16) & 0xff;
          out[p++] = (lo >>> 8) & 0xff;
          out[p++] = lo & 0xff;
          out[p++] = at(x, o + X_LEAD);
          out[p++] = at(x, o + X_TRAIL);
        } else {
          const o = S_SIZE * (c + 1);
          p = putVarint(out, p, zig(at(s, o + S_LAST)));
          p = putVarint(out, p, zig(at(s, o + S_DELTA)));
          p = putVarint(out, p, at(s, o + S_A1));
          p = putVarint(out, p, at(s, o + S_A2));
          p = putVarint(out, p, at(s, o + S_N));
          if (isUlp(at(this.#modes, c))) {
            p = putVarint(out, p, at(this.#xor, X_SIZE * c + U_A));
            p = putVarint(out, p, at(this.#xor, X_SIZE * c + U_N));
          }
        }
      }
    }
    out.set(w.buf.subarray(0, w.len), p);
    p += w.len;
    if (w.accBits) out[p] = (w.acc << (8 - w.accBits)) & 0xff;
    return out;
  }

  #headerSize(): number {
    let n = 2 + varintSize(this.#count) + varintSize(this.#w.bits) + this.#columns;
    if (this.#count === 0) return n;
    const s = this.#ints;
    n += varintSize(this.#firstTs) + varintSize(this.#lastTs - this.#firstTs);
    n += varintSize(at(s, S_DELTA)) + varintSize(at(s, S_A1)) + varintSize(at(s, S_A2)) + varintSize(at(s, S_N));
    for (let c = 0; c < this.#columns; c++) {
      if (at(this.#modes, c) === MODE_XOR) {
        n += 10;
      } else {
        const o = S_SIZE * (c + 1);
        n += varintSize(zig(at(s, o + S_LAST))) + varintSize(zig(at(s, o + S_DELTA)));
        n += varintSize(at(s, o + S_A1)) + varintSize(at(s, o + S_A2)) + varintSize(at(s, o + S_N));
        if (isUlp(at(this.#modes, c)))
          n += varintSize(at(this.#xor, X_SIZE * c + U_A)) + varintSize(at(this.#xor, X_SIZE * c + U_N));
      }
    }
    return n;
  }

  /** First row: each column starts in the smallest decimal mode that takes its value, or XOR. */
  #firstFits(c: number, v: number): boolean {
    this.#modes[c] = this.#xorOnly ? MODE_XOR : pickMode([v]);
    return true;
  }

  #write(ts: number, values: ArrayLike<number>): void {
    const w = this.#w;
    const columns = this.#columns;
    w.ensure(11 * (columns + 1) + 8);
    const count = this.#count;
    const s = this.#ints;
    if (count === 0) {
      this.#firstTs = ts;
      s[S_LAST] = ts;
    } else if (count === 1) {
      w.writeRaw(ts - at(s, S_LAST));
      s[S_DELTA] = ts - at(s, S_LAST);
      s[S_LAST] = ts;
    } else {
      this.#writeInt(0, ts);
    }
    for (let c = 0; c < columns; c++) {
      const m = at(this.#modes, c);
      if (m === MODE_XOR) {
        this.#writeXor(c, valueAt(values, c));
      } else {
        const n = Math.round(valueAt(values, c) * at(SCALE, m));
        if (count === 0) {
          const o = S_SIZE * (c + 1);
          w.writeRaw(n);
          s[o + S_LAST] = n;
        } else {
          this.#writeInt(S_SIZE * (c + 1), n);
        }
        if (isUlp(m)) {
          const base = n / at(SCALE, m);
          const ulps = base === valueAt(values, c) ? 0 : ulpDistance(valueAt(values, c), base);
          const u = this.#xor;
          const o = X_SIZE * c;
          w.writeRice(ulps, riceK(at(u, o + U_A), at(u, o + U_N)));
          updateUlp(u, o, ulps);
        }
      }
    }
    this.#lastTs = ts;
    this.#count = count + 1;
  }

  #writeInt(o: number, x: number): void {
    const s = this.#ints;
    const a1 = at(s, o + S_A1);
    const a2 = at(s, o + S_A2);
    const delta = x - at(s, o + S_LAST);
    if (a2 <= a1) {
      this.#w.writeRice(delta - at(s, o + S_DELTA), riceK(a2, at(s, o + S_N)));
    } else {
      this.#w.writeRice(delta, riceK(a1, at(s, o + S_N)));
    }
    updateInt(s, o, x);
  }

  #writeXor(c: number, v: number): void {
    const w = this.#w;
    const x = this.#xor;
    const o = X_SIZE * c;
    f64.setFloat64(0, v);
    const hi = f64.getUint32(0);
    const lo = f64.getUint32(4);
    if (this.#count === 0) {
      w.write(hi, 32);
      w.write(lo, 32);
      x[o + X_LEAD] = 64;
      x[o + X_TRAIL] = 64;
    } else {
      const xh = (hi ^ at(x, o + X_HI)) >>> 0;
      const xl = (lo ^ at(x, o + X_LO)) >>> 0;
      if (xh === 0 && xl === 0) {
        w.write(0, 1);
      } else {
        const lead = xh ? Math.clz32(xh) : 32 + Math.clz32(xl);
        const trail = xl ? 31 - Math.clz32(xl & -xl) : 32 + (31 - Math.clz32(xh & -xh));
        let pLead = at(x, o + X_LEAD);
        let pTrail = at(x, o + X_TRAIL);
        if (pLead + pTrail <= 64 && lead >= pLead && trail >= pTrail) {
          w.write(2, 2);
        } else {
          pLead = lead;
          pTrail = trail;
          w.write(3, 2);
          w.write(lead, 6);
          w.write(63 - lead - trail, 6);
          x[o + X_LEAD] = lead;
          x[o + X_TRAIL] = trail;
        }
        writeWindow(w, xh, xl, pTrail, 64 - pLead - pTrail);
      }
    }
    x[o + X_HI] = hi;
    x[o + X_LO] = lo;
  }

  /** A value the column's decimal mode cannot take: re-encode the rows with modes that take all. */
  #reencode(ts: number, values: ArrayLike<number>): void {
    const columns = this.#columns;
    const rowsTs: number[] = [];
    const cols: number[][] = Array.from({ length: columns }, () => []);
    if (this.#count > 0) decodeChunkInto(this.bytes(), 0, Number.MAX_SAFE_INTEGER, rowsTs, cols);
    const modes = zeros(columns);
    for (let c = 0; c < columns; c++) {
      if (at(this.#modes, c) === MODE_XOR) {
        modes[c] = MODE_XOR;
        continue;
      }
      const all = colAt(cols, c);
      all.push(valueAt(values, c));
      modes[c] = pickMode(all);
      all.pop();
    }
    this.#w = new BitWriter(new Uint8Array(this.#w.buf.length));
    this.#ints.fill(0);
    this.#xor.fill(0);
    this.#modes = modes;
    this.#count = 0;
    const row = new Array<number>(columns);
    for (let r = 0; r < rowsTs.length; r++) {
      for (let c = 0; c < columns; c++) row[c] = at(colAt(cols, c), r);
      this.#write(at(rowsTs, r), row);
    }
    this.#write(ts, values);
  }
}

/** Writes the `len` bits of (xh, xl) >>> trail. */
function writeWindow(w: BitWriter, xh: number, xl: number, trail: number, len: number): void {
  let sh: number;
  let sl: number;
  if (trail >= 32) {
    sh = 0;
    sl = xh >>> (trail - 32);
  } else if (trail === 0) {
    sh = xh;
    sl = xl;
  } else {
    sh = xh >>> trail;
    sl = ((xl >>> trail) | (xh << (32 - trail))) >>> 0;
  }
  if (len > 32) {
    w.write(sh, len - 32);
    w.write(sl, 32);
  } else {
    w.write(sl & (len === 32 ? 0xffffffff : (1 << len) - 1), len);
  }
}

/**
 * The header of a chunk, read in O(1) of its length.
 * @throws Error naming the chunk problem for malformed bytes
 */
export function chunkInfo(bytes: Uint8Array): { columns: number; count: number; firstTs: number; lastTs: number } {
  const h = readHeader(bytes, true);
  return { columns: h.columns, count: h.count, firstTs: h.firstTs, lastTs: h.lastTs };
}

let scratch = new Uint8Array(1024);

/**
 * Appends the rows with fromMs <= ts <= toMs to `ts` and `cols[c]` (cols.length === columns).
 * A chunk that overlaps the range is decoded whole and checked against its header; on a malformed
 * chunk nothing is appended.
 * @returns rows appended
 * @throws Error naming the chunk problem for malformed bytes; RangeError for cols of the wrong length
 */
export function decodeChunkInto(
  bytes: Uint8Array,
  fromMs: number,
  toMs: number,
  ts: number[],
  cols: number[][],
): number {
  const h = readHeader(bytes, true);
  const columns = h.columns;
  if (cols.length !== columns) throw new RangeError(`chunk has ${columns} columns, got ${cols.length} arrays`);
  if (h.count === 0 || toMs < h.firstTs || fromMs > h.lastTs || !(fromMs <= toMs)) return 0;
  const bodyBytes = Math.ceil(h.bodyBits / 8);
  if (scratch.length < bodyBytes + 8) scratch = new Uint8Array(Math.max(bodyBytes + 8, scratch.length * 2));
  scratch.set(bytes.subarray(h.bodyStart, h.bodyStart + bodyBytes));
  scratch.fill(0, bodyBytes, bodyBytes + 8);
  const r = new BitReader(scratch);
  const before = ts.length;
  try {
    if (columns === 1 && at(h.modes, 0) !== MODE_XOR && !isUlp(at(h.modes, 0)) && h.count > 2)
      decodeOneScaled(h, r, fromMs, toMs, ts, colAt(cols, 0));
    else decodeBody(h, r, fromMs, toMs, ts, cols);
  } catch (err) {
    ts.length = before;
    for (const col of cols) col.length = before;
    throw err;
  }
  return ts.length - before;
}

function decodeBody(h: Header, r: BitReader, fromMs: number, toMs: number, ts: number[], cols: number[][]): void {
  const { columns, count, modes, bodyBits } = h;
  const s = zeros(S_SIZE * (columns + 1));
  const x = zeros(X_SIZE * columns);
  const row = zeros(columns);
  let prevT = -1;
  for (let i = 0; i < count; i++) {
    let t: number;
    if (i === 0) {
      t = h.firstTs;
      s[S_LAST] = t;
    } else if (i === 1) {
      const d = r.readRaw();
      t = at(s, S_LAST) + d;
      s[S_DELTA] = d;
      s[S_LAST] = t;
    } else {
      t = readInt(r, s, 0);
    }
    if (!(t > prevT) || !Number.isSafeInteger(t)) throw chunkError(`row ${i} has ts ${t}, not increasing`);
    prevT = t;
    for (let c = 0; c < columns; c++) {
      const m = at(modes, c);
      if (m === MODE_XOR) {
        row[c] = readXor(r, x, c, i === 0);
      } else {
        const o = S_SIZE * (c + 1);
        let n: number;
        if (i === 0) {
          n = r.readRaw();
          s[o + S_LAST] = n;
        } else {
          n = readInt(r, s, o);
        }
        if (Math.abs(n) > MAX_DECIMAL_INT) throw chunkError(`row ${i} column ${c} decimal out of range`);
        let v = n / at(SCALE, m);
        if (isUlp(m)) {
          const o = X_SIZE * c;
          const ulps = r.readRice(riceK(at(x, o + U_A), at(x, o + U_N)));
          if (Math.abs(ulps) > ULP_MAX || (ulps !== 0 && n === 0))
            throw chunkError(`row ${i} column ${c} ULP correction ${ulps} out of range`);
          updateUlp(x, o, ulps);
          if (ulps !== 0) v = addUlps(v, ulps);
          if (!Number.isFinite(v)) throw chunkError(`row ${i} column ${c} decodes to ${v}`);
        }
        row[c] = v;
      }
    }
    if (r.pos > bodyBits) throw chunkError(`truncated body at row ${i} of ${count}`);
    if (t >= fromMs && t <= toMs) {
      ts.push(t);
      for (let c = 0; c < columns; c++) colAt(cols, c).push(at(row, c));
    }
  }
  if (r.pos !== bodyBits) throw chunkError(`body has ${bodyBits} bits but its ${count} rows use ${r.pos}`);
  if (at(s, S_LAST) !== h.lastTs)
    throw chunkError(`last row's ts ${at(s, S_LAST)} is not the header's lastTs ${h.lastTs}`);
  const hs = h.ints;
  for (let c = -1; c < columns; c++) {
    if (c >= 0 && (at(modes, c) === MODE_XOR || isUlp(at(modes, c)))) {
      for (let k = 0; k < X_SIZE; k++) {
        if (at(x, X_SIZE * c + k) !== at(h.xor, X_SIZE * c + k))
          throw chunkError(`column ${c}'s decoded state differs from its header`);
      }
    } else {
      const o = S_SIZE * (c + 1);
      for (let k = 0; k < S_SIZE; k++) {
        if (c >= 0 || k !== S_LAST) {
          if (at(s, o + k) !== at(hs, o + k))
            throw chunkError(`${c < 0 ? 'ts' : `column ${c}`}'s decoded state differs from its header`);
        }
      }
    }
  }
}

function readInt(r: BitReader, s: number[], o: number): number {
  const a1 = at(s, o + S_A1);
  const a2 = at(s, o + S_A2);
  let delta: number;
  if (a2 <= a1) {
    delta = r.readRice(riceK(a2, at(s, o + S_N))) + at(s, o + S_DELTA);
  } else {
    delta = r.readRice(riceK(a1, at(s, o + S_N)));
  }
  const x = at(s, o + S_LAST) + delta;
  updateInt(s, o, x);
  return x;
}

function readXor(r: BitReader, x: number[], c: number, first: boolean): number {
  const o = X_SIZE * c;
  let hi: number;
  let lo: number;
  if (first) {
    hi = r.read(32);
    lo = r.read(32);
    x[o + X_LEAD] = 64;
    x[o + X_TRAIL] = 64;
  } else if (r.read(1) === 0) {
    hi = at(x, o + X_HI);
    lo = at(x, o + X_LO);
  } else {
    let lead: number;
    let trail: number;
    if (r.read(1) === 0) {
      lead = at(x, o + X_LEAD);
      trail = at(x, o + X_TRAIL);
      if (lead + trail >= 64) throw chunkError(`column ${c} reuses an XOR window it does not have`);
    } else {
      lead = r.read(6);
      const len = r.read(6) + 1;
      trail = 64 - lead - len;
      if (trail < 0) throw chunkError(`column ${c} has an XOR window past 64 bits`);
      x[o + X_LEAD] = lead;
      x[o + X_TRAIL] = trail;
    }
    const len = 64 - lead - trail;
    let bh = 0;
    let bl: number;
    if (len > 32) {
      bh = r.read(len - 32);
      bl = r.read(32);
    } else {
      bl = r.read(len);
    }
    let xh: number;
    let xl: number;
    if (trail >= 32) {
      xh = (bl << (trail - 32)) >>> 0;
      xl = 0;
    } else if (trail === 0) {
      xh = bh;
      xl = bl;
    } else {
      xh = ((bh << trail) | (bl >>> (32 - trail))) >>> 0;
      xl = (bl << trail) >>> 0;
    }
    if (xh === 0 && xl === 0) throw chunkError(`column ${c} has an empty XOR change`);
    hi = (at(x, o + X_HI) ^ xh) >>> 0;
    lo = (at(x, o + X_LO) ^ xl) >>> 0;
  }
  x[o + X_HI] = hi;
  x[o + X_LO] = lo;
  f64.setUint32(0, hi);
  f64.setUint32(4, lo);
  const v = f64.getFloat64(0);
  if (!Number.isFinite(v)) throw chunkError(`column ${c} decodes to ${v}`);
  return v;
}

/** Bit position after the last `riceAt`. */
let ricePos = 0;

/** Reads a Rice-coded residual at bit `pos` of `r.b`; the position after it is left in `ricePos`. */
function riceAt(r: BitReader, pos: number, k: number): number {
  const b = r.b;
  const i = pos >>> 3;
  const sh = pos & 7;
  let w = ((byteAt(b, i) << 24) | (byteAt(b, i + 1) << 16) | (byteAt(b, i + 2) << 8) | byteAt(b, i + 3)) >>> 0;
  if (sh !== 0) w = ((w << sh) | (byteAt(b, i + 4) >>> (8 - sh))) >>> 0;
  const ones = Math.clz32(~w);
  if (ones < ESC_Q && ones + 1 + k <= 32 && k <= 24) {
    ricePos = pos + ones + 1 + k;
    const z = k === 0 ? ones : (ones << k) | ((w << (ones + 1)) >>> (32 - k));
    return z & 1 ? -((z + 1) / 2) : z / 2;
  }
  r.pos = pos;
  const v = r.readRice(k);
  ricePos = r.pos;
  return v;
}

/** decodeBody for the common chunk (one decimal column, 3+ rows) with its state in locals: ~2x faster. */
function decodeOneScaled(h: Header, r: BitReader, fromMs: number, toMs: number, ts: number[], col: number[]): void {
  const { count, bodyBits } = h;
  const scale = at(SCALE, at(h.modes, 0));
  let t = h.firstTs;
  let n = r.readRaw();
  if (t >= fromMs && t <= toMs) {
    ts.push(t);
    col.push(n / scale);
  }
  let tD = r.readRaw();
  if (tD <= 0) throw chunkError(`row 1 has ts delta ${tD}, not increasing`);
  t += tD;
  let vD = riceAt(r, r.pos, 0);
  r.pos = ricePos;
  n += vD;
  if (t >= fromMs && t <= toMs) {
    ts.push(t);
    col.push(n / scale);
  }
  let tA1 = 0;
  let tA2 = 0;
  let vA1 = Math.min(Math.abs(vD), A_CAP);
  let vA2 = vA1;
  let tN = 0;
  let vN = 1;
  let pos = r.pos;
  for (let i = 2; i < count; i++) {
    let d: number;
    if (tA2 <= tA1) d = riceAt(r, pos, riceK(tA2, tN)) + tD;
    else d = riceAt(r, pos, riceK(tA1, tN));
    pos = ricePos;
    let v: number;
    if (vA2 <= vA1) v = riceAt(r, pos, riceK(vA2, vN)) + vD;
    else v = riceAt(r, pos, riceK(vA1, vN));
    pos = ricePos;
    if (pos > bodyBits) throw chunkError(`truncated body at row ${i} of ${count}`);
    if (!(d > 0)) throw chunkError(`row ${i} has ts delta ${d}, not increasing`);
    tA1 += Math.min(d, A_CAP);
    tA2 += Math.min(Math.abs(d - tD), A_CAP);
    vA1 += Math.min(Math.abs(v), A_CAP);
    vA2 += Math.min(Math.abs(v - vD), A_CAP);
    if (++tN >= N_RESET) {
      tA1 = Math.floor(tA1 / 2);
      tA2 = Math.floor(tA2 / 2);
      tN = N_RESET / 2;
    }
    if (++vN >= N_RESET) {
      vA1 = Math.floor(vA1 / 2);
      vA2 = Math.floor(vA2 / 2);
      vN = N_RESET / 2;
    }
    t += d;
    tD = d;
    n += v;
    vD = v;
    if (t >= fromMs && t <= toMs) {
      ts.push(t);
      col.push(n / scale);
    }
  }
  if (pos !== bodyBits) throw chunkError(`body has ${bodyBits} bits but its ${count} rows use ${pos}`);
  if (t !== h.lastTs || !Number.isSafeInteger(t))
    throw chunkError(`last row's ts ${t} is not the header's lastTs ${h.lastTs}`);
  if (Math.abs(n) > MAX_DECIMAL_INT) throw chunkError('decimal out of range');
  const s = h.ints;
  if (at(s, S_DELTA) !== tD || at(s, S_A1) !== tA1 || at(s, S_A2) !== tA2 || at(s, S_N) !== tN)
    throw chunkError("ts stream's decoded state differs from its header");
  const o = S_SIZE;
  if (
    at(s, o + S_LAST) !== n ||
    at(s, o + S_DELTA) !== vD ||
    at(s, o + S_A1) !== vA1 ||
    at(s, o + S_A2) !== vA2 ||
    at(s, o + S_N) !== vN
  ) {
    throw chunkError("column 0's decoded state differs from its header");
  }
}
