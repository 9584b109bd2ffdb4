/**
 * How a record value is stored (`RecordDb`, layout 3): msgpack with plain maps, deflated against a
 * preset dictionary of its collection's record shapes when that makes it smaller (a performance
 * report: ~1,780 B -> ~210 B). A deflated value starts with `0xc1`, the one byte MessagePack never
 * uses, so layout 2's plain msgpack still reads as it is and needs no conversion. The dictionary is
 * compiled in, so every opener decodes with no option to agree on. Format and measurements:
 * docs/design-notes.md.
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

const DICTIONARIES = new Map<number, Buffer>(
  Object.entries(RECORD_DICTIONARIES_BASE64).map(([id, base64]) => [Number(id), Buffer.from(base64, 'base64')]),
);

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
  if (dictionaryId !== 0 && dictionary === undefined)
    throw new Error(`record value: unknown dictionary id ${dictionaryId}`);
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
  if (id !== 0 && dictionary === undefined)
    throw new Error(
      `record value uses dictionary ${id}, which this version does not know (known: 0-${Math.max(...DICTIONARIES.keys())})`,
    );
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
