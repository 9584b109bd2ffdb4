/**
 * How a record value is stored (`RecordDb`, layout 3): msgpack with plain maps, deflated against a
 * preset dictionary of its collection's record shapes when that makes it smaller. A stored value is
 * one of:
 *
 * | first byte | rest                                                                        |
 * |------------|-----------------------------------------------------------------------------|
 * | `0xc1`     | dictionary id (1 byte), then raw deflate (RFC 1951) of the msgpack, with that preset dictionary (`record-dictionaries.ts`; id 0: none) |
 * | any other  | the msgpack itself (plain maps, as lmdb-js wrote every record in layout 2)  |
 *
 * `0xc1` is the one byte MessagePack never uses (msgpackr writes it only for its own `C1` object and
 * inside `bundleStrings`, neither used here), so the two cannot be confused: values written by
 * layout 2 (and small values now, where deflate does not pay) read as they always did. **Layout 2
 * needs no conversion**: `decodeRecordValue` reads both, and old values shrink as they are
 * rewritten or trimmed; `convertRecordValues` (`record-convert.ts`) compacts them at once, in
 * bounded steps, for a migration that wants the space back.
 *
 * **Why this shape** (measured on the records of a 10-minute demo run, 5 s checks):
 * - Most of a record is its keys and repeated strings (units, enum values, reasons): a performance
 *   report is ~1,780 B of msgpack, one per 4 KiB page. Deflated against a dictionary of sample
 *   reports it is ~210 B, 13 per page (121 reports: 121 pages → 9); an SLA result 616 → ~80 B
 *   (24 per page), an alert 438 → ~140 B. Rejected: msgpack records with keys once (~1,365 B),
 *   deflate without a dictionary (~745 B), lmdb-js's LZ4 `compression` (121 reports: 41 pages;
 *   14 with this dictionary).
 * - The dictionary is compiled into the code, not kept in the env: every opener (a read-only
 *   process, the CLI) decodes with no option to agree on and no shared state to read first
 *   (lmdb-js's `compression` and `sharedStructuresKey` both need every opener to pass the same
 *   options, and shared structures are themselves written by the first transaction that uses them).
 * - Cost (zlib sync; loaded 2-core VM): ~0.1-0.2 ms to encode a report and ~0.05 ms to decode it,
 *   ~0.05-0.1 ms and ~0.04 ms for an alert (plain msgpack: ~0.01-0.02 ms). One report per check;
 *   1,000 reports read in ~45-65 ms (msgpack: ~12-55 ms).
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { Packr } from 'msgpackr';
import { RECORD_DICTIONARIES_BASE64 } from './record-dictionaries.js';

/** First byte of a compressed value: MessagePack's "never used" byte. */
export const COMPRESSED_MARKER = 0xc1;

/** Values whose msgpack is shorter than this are stored as is: deflate's block header and codes cost more than it saves. */
const MIN_COMPRESS_BYTES = 48;

/**
 * The dictionary each collection compresses with (by collection name); others use id 0 (deflate
 * without one). `'plain'`: never compressed, for values that are compressed already (the remote
 * write queue holds snappy-compressed protobuf bodies: deflate would spend time and find nothing).
 */
const COLLECTION_DICTIONARIES: Readonly<Record<string, RecordDictionary>> = {
  remote_write_queue: 'plain',
  perf_reports: 1,
  perf_sla_results: 2,
  alerts: 3,
  alert_rules: 3,
  alert_rule_states: 3,
  silences: 3,
  outbox: 4,
  outbox_done: 4,
  dead_letters: 4,
};

const DICTIONARIES = new Map<number, Buffer>(Object.entries(RECORD_DICTIONARIES_BASE64).map(([id, base64]) => [Number(id), Buffer.from(base64, 'base64')]));

/**
 * lmdb-js's own msgpack options for a db of this env (`useRecords: false` from the env options,
 * `copyBuffers` because it decodes from reused buffers): the layout-2 values decode the same.
 */
const packr = new Packr({ useRecords: false, copyBuffers: true });

/** How a collection's values are stored: compressed with this dictionary id (0: none), or `'plain'` msgpack. */
export type RecordDictionary = number | 'plain';

/** How `collection`'s values are stored (see {@link RecordDictionary}). */
export function dictionaryFor(collection: string): RecordDictionary {
  return COLLECTION_DICTIONARIES[collection] ?? 0;
}

/**
 * Encodes one record value for storage (see the module header). The result is a fresh buffer.
 * @param dictionaryId from {@link dictionaryFor}
 * @throws {Error} if msgpack cannot encode the value, or for an unknown dictionary id
 */
export function encodeRecordValue(value: unknown, dictionaryId: RecordDictionary): Uint8Array {
  // msgpackr returns a view of its reusable buffer: copy what is kept (Buffer.from copies).
  const plain = packr.pack(value);
  if (dictionaryId === 'plain' || plain.length < MIN_COMPRESS_BYTES) return Buffer.from(plain);
  const dictionary = dictionaryId === 0 ? undefined : DICTIONARIES.get(dictionaryId);
  if (dictionaryId !== 0 && dictionary === undefined) throw new Error(`record value: unknown dictionary id ${dictionaryId}`);
  const packed = deflateRawSync(plain, dictionary === undefined ? {} : { dictionary });
  if (packed.length + 2 >= plain.length) return Buffer.from(plain);
  const out = Buffer.allocUnsafe(packed.length + 2);
  out[0] = COMPRESSED_MARKER;
  out[1] = dictionaryId;
  out.set(packed, 2);
  return out;
}

/**
 * Decodes a stored record value: a compressed one (marker `0xc1`) or plain msgpack (layout 2's,
 * or a small one).
 * @throws {Error} whose message says "record value" and what is wrong, for bytes that are neither
 */
export function decodeRecordValue(bytes: Uint8Array): unknown {
  if (bytes.length === 0) throw new Error('record value is empty (expected msgpack or a compressed value)');
  if (bytes[0] !== COMPRESSED_MARKER) return packr.unpack(bytes);
  if (bytes.length < 3) throw new Error(`record value is truncated (${bytes.length} bytes of a compressed value)`);
  const id = bytes[1]!;
  const dictionary = id === 0 ? undefined : DICTIONARIES.get(id);
  if (id !== 0 && dictionary === undefined) throw new Error(`record value uses dictionary ${id}, which this version does not know (known: 0-${Math.max(...DICTIONARIES.keys())})`);
  let plain: Buffer;
  try {
    plain = inflateRawSync(bytes.subarray(2), dictionary === undefined ? {} : { dictionary });
  } catch (err) {
    throw new Error(`record value does not inflate (dictionary ${id}): ${(err as Error).message}`, { cause: err });
  }
  return packr.unpack(plain);
}

/** Whether a stored value is in the compressed format (false: plain msgpack). */
export function isCompressedRecordValue(bytes: Uint8Array): boolean {
  return bytes.length > 0 && bytes[0] === COMPRESSED_MARKER;
}
