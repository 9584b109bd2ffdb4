import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkDataFile, moveAside } from '../../src/store/env-check.js';
import { MetricStore } from '../../src/store/lmdb-store.js';

/** Offsets in lmdb-js's meta page (see env-check.ts). */
const VERSION = 28;
const PAGE_SIZE = 48;
const MAIN_ROOT = 136;
const LAST_PAGE = 144;

let root: string;
let healthy: Buffer;

beforeEach(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'erlmcp-env-check-'));
  const store = MetricStore.open({ dataDir: path.join(root, 'store') });
  store.defineSeries('a', { name: 'a', type: 'gauge' });
  await store.flush({ current: [[1, 1]], points: [{ id: 1, ts: 1, value: 1 }] });
  await store.close();
  healthy = fs.readFileSync(path.join(root, 'store', 'data.mdb'));
});

afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

/** A dir whose data.mdb is the healthy store's file with `patch` applied. */
function variant(patch: (file: Buffer) => Buffer): string {
  const dir = fs.mkdtempSync(path.join(root, 'v-'));
  fs.writeFileSync(path.join(dir, 'data.mdb'), patch(Buffer.from(healthy)));
  return dir;
}

describe('checkDataFile', () => {
  it('passes a store the library wrote, a missing file and an empty one (LMDB initialises those)', () => {
    expect(checkDataFile(path.join(root, 'store'))).toBeUndefined();
    expect(checkDataFile(path.join(root, 'nowhere'))).toBeUndefined();
    expect(checkDataFile(variant(() => Buffer.alloc(0)))).toBeUndefined();
  });

  it('names another data format version', () => {
    const dir = variant((f) => {
      f.writeUInt32LE(3, VERSION);
      return f;
    });
    expect(checkDataFile(dir)).toBe('it has LMDB data format version 3; this lmdb-js reads version 2');
  });

  it('recognises a stock LMDB file (16-byte page headers), which lmdb-js cannot read', () => {
    const dir = variant(() => {
      const f = Buffer.alloc(8192);
      f.writeUInt32LE(0xbeefc0de, 16);
      return f;
    });
    expect(checkDataFile(dir)).toBe(
      'it is an LMDB file of another LMDB build (16-byte page headers), which lmdb-js cannot read',
    );
  });

  it('refuses a page size that is not a power of two in range', () => {
    const dir = variant((f) => {
      f.writeUInt32LE(1000, PAGE_SIZE);
      return f;
    });
    expect(checkDataFile(dir)).toBe('its meta page gives page size 1000 (expected a power of two from 512 to 65536)');
  });

  it('refuses a tree root beyond the last page, and a last page beyond the end of the file', () => {
    const lastPage = Number(healthy.readBigUInt64LE(LAST_PAGE));
    const rootBeyond = variant((f) => {
      f.writeBigUInt64LE(BigInt(lastPage + 5), MAIN_ROOT);
      return f;
    });
    expect(checkDataFile(rootBeyond)).toBe(
      `meta page 0 puts the main tree's root at page ${lastPage + 5}, outside pages 2..${lastPage}`,
    );
    // Past the file's end, not just past the last page: the store keeps written headroom after that (headroom.ts).
    const beyond = healthy.length / 4096 + 100;
    const lastBeyond = variant((f) => {
      f.writeBigUInt64LE(BigInt(beyond - 1), LAST_PAGE);
      return f;
    });
    expect(checkDataFile(lastBeyond)).toBe(
      `it is ${healthy.length} bytes but meta page 0 says its data runs to ${beyond * 4096} bytes (${beyond} pages of 4096): truncated`,
    );
  });

  it('refuses a damaged second meta page', () => {
    const dir = variant((f) => {
      f.fill(0, 4096, 4096 + 64);
      return f;
    });
    expect(checkDataFile(dir)).toBe('its second meta page (page 1) is damaged');
  });

  it('refuses a data.mdb that is not a file', () => {
    const dir = fs.mkdtempSync(path.join(root, 'v-'));
    fs.mkdirSync(path.join(dir, 'data.mdb'));
    expect(checkDataFile(dir)).toBe('it is not a regular file');
  });
});

describe('moveAside', () => {
  it('moves data.mdb and lock.mdb into damaged-<UTC time>, numbering a second one in the same millisecond', () => {
    const dir = path.join(root, 'store');
    const lock = fs.readFileSync(path.join(dir, 'lock.mdb'));
    const at = new Date('2026-12-06T19:00:00.123Z');
    const moved = moveAside(dir, 'truncated', at);
    expect(moved).toEqual({ dir, to: path.join(dir, 'damaged-2026-12-06T19-00-00-123Z'), reason: 'truncated' });
    expect(fs.readFileSync(path.join(moved.to, 'data.mdb'))).toEqual(healthy);
    expect(fs.readFileSync(path.join(moved.to, 'lock.mdb'))).toEqual(lock);
    expect(fs.existsSync(path.join(dir, 'data.mdb'))).toBe(false);

    fs.writeFileSync(path.join(dir, 'data.mdb'), 'x');
    expect(moveAside(dir, 'again', at).to).toBe(path.join(dir, 'damaged-2026-12-06T19-00-00-123Z-2'));
  });
});
