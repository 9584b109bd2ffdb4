import { createHash } from 'node:crypto';
import { deflateRawSync } from 'node:zlib';
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import {
  COMPRESSED_MARKER,
  decodeRecordValue,
  dictionaryFor,
  encodeRecordValue,
  isCompressedRecordValue,
} from '../../src/store/record-codec.js';
import { RECORD_DICTIONARIES_BASE64 } from '../../src/store/record-dictionaries.js';
import { RECORD_SAMPLES } from './fixtures/record-samples.js';

/** What lmdb-js wrote for every record in layout 2 (plain maps, env option `useRecords: false`). */
const layout2 = new Packr({ useRecords: false, copyBuffers: true });

describe('record codec', () => {
  it("round-trips every collection's real records exactly, compressed where that is smaller", () => {
    for (const [collection, samples] of Object.entries(RECORD_SAMPLES)) {
      for (const sample of samples) {
        const stored = encodeRecordValue(sample, dictionaryFor(collection));
        expect(decodeRecordValue(stored), collection).toEqual(sample);
        expect(stored.length, collection).toBeLessThanOrEqual(layout2.pack(sample).length);
      }
    }
  });

  it('stores a performance report, SLA results and an alert in a fraction of their msgpack', () => {
    const ratio = (collection: string) => {
      const samples = RECORD_SAMPLES[collection]!;
      const stored = samples.reduce<number>(
        (sum, s) => sum + encodeRecordValue(s, dictionaryFor(collection)).length,
        0,
      );
      const plain = samples.reduce<number>((sum, s) => sum + layout2.pack(s).length, 0);
      return stored / plain;
    };
    // Reports: ~1,750 B of msgpack each; no sample here is in the dictionary.
    expect(ratio('perf_reports')).toBeLessThan(0.3);
    expect(ratio('perf_sla_results')).toBeLessThan(0.3);
    expect(ratio('alerts')).toBeLessThan(0.45);
    expect(ratio('outbox')).toBeLessThan(0.5);
    for (const sample of RECORD_SAMPLES.perf_reports!)
      expect(isCompressedRecordValue(encodeRecordValue(sample, dictionaryFor('perf_reports')))).toBe(true);
  });

  it('reads layout-2 values (plain msgpack) as they are, and keeps small values plain', () => {
    for (const samples of Object.values(RECORD_SAMPLES)) {
      for (const sample of samples) expect(decodeRecordValue(layout2.pack(sample))).toEqual(sample);
    }
    // The remote write queue's bodies are snappy already: stored as they are, never deflated.
    const batch = { body: new Uint8Array(4000).fill(7), samples: 120 };
    expect(Buffer.from(encodeRecordValue(batch, dictionaryFor('remote_write_queue')))).toEqual(layout2.pack(batch));
    expect(isCompressedRecordValue(encodeRecordValue(batch, dictionaryFor('some_other_collection')))).toBe(true);
    const small = encodeRecordValue(1796600000000, dictionaryFor('alert_suppression'));
    expect(isCompressedRecordValue(small)).toBe(false);
    expect(Buffer.from(small)).toEqual(layout2.pack(1796600000000));
  });

  it('decodes any value exactly as plain msgpack does, whatever the dictionary', () => {
    const ids = [0, ...Object.keys(RECORD_DICTIONARIES_BASE64).map(Number)];
    fc.assert(
      fc.property(
        fc.jsonValue(),
        fc.constantFrom(...ids),
        fc.oneof(fc.double(), fc.constant(-0), fc.integer()),
        (value, id, number) => {
          const record = {
            value,
            number,
            text: 'latency p95 516.0 ms > 100.0 ms (the latency threshold)',
            nested: [value, number],
          };
          const expected = layout2.unpack(layout2.pack(record));
          expect(decodeRecordValue(encodeRecordValue(record, id))).toEqual(expected);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('refuses a value it cannot decode, saying what is wrong', () => {
    const plain = layout2.pack({ a: 'x'.repeat(100) });
    const unknown = Buffer.concat([Buffer.from([COMPRESSED_MARKER, 200]), deflateRawSync(plain)]);
    expect(() => decodeRecordValue(unknown)).toThrow(
      /record value uses dictionary 200, which this version does not know/,
    );
    expect(() => decodeRecordValue(new Uint8Array(0))).toThrow(/record value is empty/);
    expect(() => decodeRecordValue(Buffer.from([COMPRESSED_MARKER, 1]))).toThrow(/record value is truncated/);
    const stored = Buffer.from(encodeRecordValue(RECORD_SAMPLES.perf_reports![0], 1));
    stored.fill(0xff, 2, 12);
    expect(() => decodeRecordValue(stored)).toThrow(/record value does not inflate \(dictionary 1\)/);
    expect(() => encodeRecordValue({ a: 'x'.repeat(100) }, 99)).toThrow(/unknown dictionary id 99/);
  });

  it('keeps the dictionaries byte for byte: stored values decode only with exactly these bytes', () => {
    const hashes = Object.fromEntries(
      Object.entries(RECORD_DICTIONARIES_BASE64).map(([id, b64]) => [
        id,
        createHash('sha256').update(Buffer.from(b64, 'base64')).digest('hex'),
      ]),
    );
    expect(hashes).toEqual({
      1: '3f5a4ddb75de559e12be9ebef4ae06a82427fc08b02d80bf3c0d6966e04c930c',
      2: 'd09d124cd771da6bc72f3fe78021e9df6ce5b604ef9fb82f44a1e33e8015d9ea',
      3: '1220c6d725dd3dcea9f96fe9fbc7087e56d77c7ab72c65e265e3a5149f63f7f8',
      4: 'dd60e2a3bf2fa6115fabce9593cc6d18f908156cf39a2f422fda0f10b3a52a76',
    });
  });
});
