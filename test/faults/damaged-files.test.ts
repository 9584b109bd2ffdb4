/**
 * Issue 14, item 2: damaged or foreign files never crash the process. Each damaged `data.mdb`
 * (truncated to 4096 bytes, truncated to half, random first 8 KiB, a text file) used to kill the
 * host at start with SIGSEGV or SIGBUS; here start runs in a child process, which must exit 0 by
 * itself after start rejected with EMON_STORE_FAILED naming the file and the damage, leaving the
 * file as it was. `on_corrupt: "move_aside"` moves it aside (bytes kept) and starts a new store
 * with one error log line. Another application's LMDB env is refused and left byte-identical.
 * Garbage series records are a coded error with the path, not a TypeError.
 */
import fs from 'node:fs';
import path from 'node:path';
import { open } from 'lmdb';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, MonitorError } from '../../src/errors.js';
import { startMonitoring } from '../../src/index.js';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { checkDataFile } from '../../src/store/env-check.js';
import { MetricStore } from '../../src/store/lmdb-store.js';
import { memoryLogger } from '../helpers.js';
import { killChildren, spawnFixture } from '../store/store-fixture.js';
import { assertBuilt, runStart, sha256, spawnStoreChild } from './store-child.js';
import { runCleanups, tempDir } from './tree-fixture.js';

const TIMEOUT_MS = 60_000;
const SERIES = 200;
const POINTS = 5000;

beforeAll(assertBuilt);
afterEach(async () => {
  await killChildren();
  await runCleanups();
});

/** A real store of SERIES series and POINTS points (~56 pages of 4 KiB), closed. */
async function makeStore(): Promise<string> {
  const dataDir = path.join(tempDir('erlmcp-damaged-'), 'data');
  const store = MetricStore.open({ dataDir });
  for (let i = 0; i < SERIES; i++) store.defineSeries(`s${i}`, { name: `damaged_${i}`, type: 'gauge' });
  await store.flush({
    current: [[1, 5]],
    points: Array.from({ length: POINTS }, (_, i) => ({ id: 1 + (i % SERIES), ts: 1000 + i, value: i })),
  });
  await store.close();
  return dataDir;
}

/** Pages the newer meta page says are in use: `mm_last_pg` (byte 144 of a meta page, see env-check.ts) + 1. */
function usedPages(file: string): number {
  const head = fs.readFileSync(file).subarray(0, 8192);
  return (
    Number(
      head.readBigUInt64LE(152) > head.readBigUInt64LE(4096 + 152)
        ? head.readBigUInt64LE(144)
        : head.readBigUInt64LE(4096 + 144),
    ) + 1
  );
}

const DAMAGE: { name: string; damage: (file: string) => void; says: string }[] = [
  {
    name: 'truncated to 4096 bytes',
    damage: (file) => fs.truncateSync(file, 4096),
    says: 'it is 4096 bytes, shorter than its two 4096-byte meta pages: truncated',
  },
  {
    name: 'truncated to half',
    // Half of the pages in use: the file runs on past them with written headroom (src/store/headroom.ts).
    damage: (file) => fs.truncateSync(file, Math.floor(usedPages(file) / 2) * 4096),
    says: 'says its data runs to',
  },
  {
    name: 'random first 8 KiB',
    damage: (file) => {
      const fd = fs.openSync(file, 'r+');
      // Not random: a fixed non-LMDB pattern, so the run is repeatable (any head without the magic is the case).
      const head = Buffer.alloc(8192, 0);
      for (let i = 0; i < head.length; i++) head[i] = (i * 2_654_435_761) >>> 24;
      fs.writeSync(fd, head, 0, head.length, 0);
      fs.closeSync(fd);
    },
    says: 'it is not an LMDB data file (no LMDB magic 0xBEEFC0DE',
  },
  {
    name: 'a text file',
    damage: (file) =>
      fs.writeFileSync(file, 'this is a text file that someone saved as data.mdb by mistake\n'.repeat(100)),
    says: 'it is not an LMDB data file',
  },
];

describe('a damaged data.mdb at start (each in a child process)', () => {
  for (const { name, damage, says } of DAMAGE) {
    it(
      `${name}: start rejects EMON_STORE_FAILED naming the file and the damage; the child exits 0 and the file is untouched`,
      async () => {
        const dataDir = await makeStore();
        const file = path.join(dataDir, 'data.mdb');
        damage(file);
        fs.rmSync(path.join(dataDir, 'lock.mdb'), { force: true });
        const before = sha256(file);

        const result = await runStart({ dataDir });
        expect(result.signal, result.stderr).toBeNull();
        expect(result.code, result.stderr).toBe(0);
        expect(result.line).toMatchObject({ type: 'rejected', code: ErrorCode.StoreFailed });
        const message = result.line!.message as string;
        expect(message).toContain(`the metric store at ${dataDir} is damaged: `);
        expect(message).toContain(says);
        expect(message).toContain(`Restore ${file} from a backup, or set on_corrupt: "move_aside"`);
        expect(sha256(file)).toBe(before);
        expect(fs.existsSync(path.join(dataDir, 'lock.mdb'))).toBe(false); // LMDB never opened it

        // A reader is refused the same way (it never moves anything aside).
        const reader = spawnStoreChild({ mode: 'open', dataDir, readOnly: true });
        reader.proc.stdin.end();
        expect(await reader.exited).toEqual({ code: 0, signal: null });
        expect(reader.lines.at(-1)).toMatchObject({
          type: 'rejected',
          code: ErrorCode.StoreFailed,
          message: expect.stringContaining(says),
        });
      },
      TIMEOUT_MS,
    );
  }

  it(
    'on_corrupt "move_aside": moves the damaged file aside with its bytes, logs one error line, and starts a new store',
    async () => {
      const dataDir = await makeStore();
      const file = path.join(dataDir, 'data.mdb');
      DAMAGE[1]!.damage(file);
      const damagedHash = sha256(file);

      const result = await runStart({ dataDir, onCorrupt: 'move_aside' });
      expect(result.signal, result.stderr).toBeNull();
      expect(result.line, result.stderr).toMatchObject({ type: 'started' });
      const errors = result.line!.errors as Record<string, unknown>[];
      expect(errors).toHaveLength(1);
      const aside = fs.readdirSync(dataDir).filter((name) => name.startsWith('damaged-'));
      expect(aside).toHaveLength(1);
      const movedTo = path.join(dataDir, aside[0]!);
      expect(errors[0]).toMatchObject({
        msg: 'the metric store was damaged: moved it aside (on_corrupt: move_aside) and started a new, empty one',
        dataDir,
        movedTo,
        reason: expect.stringContaining('says its data runs to'),
      });
      expect(sha256(path.join(movedTo, 'data.mdb'))).toBe(damagedHash);

      // The new store is a working, empty one; the next start moves nothing.
      const store = MetricStore.open({ dataDir });
      expect(store.seriesDefs()).toEqual([]);
      expect(store.movedAside).toBeUndefined();
      await store.close();
      const again = await runStart({ dataDir, onCorrupt: 'move_aside' });
      expect(again.line, again.stderr).toMatchObject({ type: 'started', errors: [] });
      expect(fs.readdirSync(dataDir).filter((name) => name.startsWith('damaged-'))).toHaveLength(1);
    },
    TIMEOUT_MS,
  );

  it(
    'an empty data.mdb (a store whose creation was cut off before its first page) starts as a new store',
    async () => {
      const dataDir = path.join(tempDir('erlmcp-damaged-'), 'data');
      fs.mkdirSync(dataDir);
      fs.writeFileSync(path.join(dataDir, 'data.mdb'), '');
      const result = await runStart({ dataDir });
      expect(result.line, result.stderr).toMatchObject({ type: 'started', errors: [] });
    },
    TIMEOUT_MS,
  );
});

describe('records that are not what the store wrote', () => {
  it(
    'a garbage series definition: start rejects EMON_STORE_FAILED naming the path and the record (it was a bare TypeError)',
    async () => {
      const dataDir = await makeStore();
      const env = open({ path: dataDir, maxDbs: 64 });
      env.openDB<unknown, number>('series', { keyEncoding: 'uint32' }).putSync(SERIES + 1, 'garbage');
      await env.close();

      const result = await runStart({ dataDir });
      expect(result.signal, result.stderr).toBeNull();
      expect(result.line).toMatchObject({
        type: 'rejected',
        code: ErrorCode.StoreFailed,
        message: expect.stringContaining(
          `the metric store at ${dataDir} is damaged: the series database holds "garbage" at id ${SERIES + 1}, not a series definition`,
        ),
      });
    },
    TIMEOUT_MS,
  );

  it(
    'a series definition that does not decode: EMON_STORE_FAILED with the path and the decoder error',
    async () => {
      const dataDir = await makeStore();
      const env = open({ path: dataDir, maxDbs: 64 });
      env
        .openDB<Uint8Array, number>('series', { keyEncoding: 'uint32', encoding: 'binary' })
        .putSync(SERIES + 1, Buffer.from('c1ffee00', 'hex'));
      await env.close();

      const result = await runStart({ dataDir });
      expect(result.signal, result.stderr).toBeNull();
      expect(result.line).toMatchObject({
        type: 'rejected',
        code: ErrorCode.StoreFailed,
        message: expect.stringContaining(
          `the metric store at ${dataDir} is damaged: reading the series database failed: `,
        ),
      });
    },
    TIMEOUT_MS,
  );
});

describe('an LMDB env that is not a metric store', () => {
  it('is refused with the path and its database names, and left byte-identical with nothing added', async () => {
    const dataDir = path.join(tempDir('erlmcp-foreign-'), 'theirs');
    const theirs = open({ path: dataDir, maxDbs: 8 });
    const users = theirs.openDB<{ name: string }, string>('users', {});
    const orders = theirs.openDB<string, number>('orders', { keyEncoding: 'uint32' });
    for (let i = 0; i < 100; i++) {
      users.putSync(`u${i}`, { name: `user ${i}` });
      orders.putSync(i, `order ${i}`);
    }
    await theirs.close();
    const file = path.join(dataDir, 'data.mdb');
    const hash = sha256(file);
    const listing = fs.readdirSync(dataDir).sort();

    const logger = memoryLogger();
    const err = await startMonitoring({
      dataDir,
      env: {},
      logger,
      processMetrics: false,
      config: { dashboard: { dashboard_enabled: false } },
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(MonitorError);
    expect(err).toMatchObject({
      code: ErrorCode.StoreFailed,
      message:
        `${dataDir} holds an LMDB environment that is not a metric store (its main database has "orders", "users"); nothing was written to it. ` +
        'Give the monitor a data_dir of its own (an empty or new directory)',
    });
    let readErr: unknown;
    try {
      MetricStore.open({ dataDir, readOnly: true });
    } catch (e) {
      readErr = e;
    }
    expect(readErr).toMatchObject({
      code: ErrorCode.StoreFailed,
      message: expect.stringContaining(`${dataDir} holds an LMDB environment that is not a metric store`),
    });

    // lock.mdb is LMDB's reader table, which any opener touches; the data and the file set are as they were.
    expect(sha256(file)).toBe(hash);
    expect(fs.readdirSync(dataDir).sort()).toEqual(listing);
    const again = open({ path: dataDir, maxDbs: 8 });
    try {
      expect([...again.getKeys()]).toEqual(['orders', 'users']);
      expect(again.openDB<{ name: string }, string>('users', {}).get('u7')).toEqual({ name: 'user 7' });
    } finally {
      await again.close();
    }
  });
});

describe('the check while another process writes', () => {
  it(
    'never reports damage for a store being committed to (readers check while the writer extends the file)',
    async () => {
      const dataDir = path.join(tempDir('erlmcp-damaged-'), 'live');
      // 20,000 points a flush: history is compressed chunks (~0.2 B a point for this series), so a
      // smaller flush grows the file too slowly to be seen growing within the bound below.
      const writer = spawnFixture('flush-loop.mjs', [dataDir, '20000'], 60_000);
      expect(await writer.nextLine()).toBe('flushed 1');
      const file = path.join(dataDir, 'data.mdb');
      const startSize = fs.statSync(file).size;
      let checks = 0;
      // Bounded: until the file has grown by 64 pages under the checks, or 100,000 checks.
      while (checks < 100_000 && fs.statSync(file).size < startSize + 64 * 4096) {
        expect(checkDataFile(dataDir)).toBeUndefined();
        checks++;
        await yieldToLoop();
      }
      expect(fs.statSync(file).size).toBeGreaterThanOrEqual(startSize + 64 * 4096);
    },
    TIMEOUT_MS,
  );
});
