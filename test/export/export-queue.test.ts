import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import { ExportQueue, type ExportQueueOptions, type PersistedBatch } from '../../src/export/export-queue.js';
import { Registry } from '../../src/metrics/registry.js';
import { MetricStore } from '../../src/store/lmdb-store.js';
import {
  activeResources,
  expectMonitorError,
  leakedAfterSettling,
  leakedResources,
  memoryLogger,
  until,
} from '../helpers.js';
import { freePort } from '../system-servers.js';
import { type Receiver, startReceiver } from './receiver-fixture.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function setup(receiver: Receiver | string, options: Partial<ExportQueueOptions> = {}) {
  const registry = new Registry({ logger: memoryLogger() });
  const logger = memoryLogger();
  const queue = new ExportQueue({
    endpoint: typeof receiver === 'string' ? receiver : `${receiver.url}/api/v1/write`,
    headers: { 'content-type': 'application/x-protobuf' },
    registry,
    logger,
    initialBackoffMs: 5,
    maxBackoffMs: 20,
    random: () => 0.5,
    ...options,
  });
  cleanups.push(() => queue.close(500));
  const count = (metric: string, labels?: Record<string, string>) =>
    registry.counter(metric, { labels: labels === undefined ? [] : Object.keys(labels) }).get(labels) ?? 0;
  return {
    queue,
    logger,
    sent: () => count('monitor.export.samples', { result: 'sent' }),
    rejected: () => count('monitor.export.samples', { result: 'rejected' }),
    failures: (reason: string) => count('monitor.export.failures', { reason }),
    dropped: () => count('monitor.export.dropped'),
  };
}

const batch = (tag: string, samples = 1) => ({ body: Buffer.from(tag), samples });

async function receiver(replies: Parameters<typeof startReceiver>[0]): Promise<Receiver> {
  const r = await startReceiver(replies);
  cleanups.push(() => r.close());
  return r;
}

describe('ExportQueue', () => {
  it('retries a 5xx with backoff until it is accepted, counting each failure', async () => {
    const r = await receiver([{ status: 503 }, { status: 500 }, { status: 204 }]);
    const q = setup(r);
    q.queue.push(batch('a', 7));
    await until(() => expect(q.sent()).toBe(7));
    expect(r.requests.map((x) => x.body.toString())).toEqual(['a', 'a', 'a']);
    expect(q.failures('http_5xx')).toBe(2);
    expect(q.queue.pending).toBe(0);
  });

  it('does not retry a 4xx other than 429: the batch is rejected and counted', async () => {
    const r = await receiver([{ status: 400, body: 'out of order sample' }, { status: 204 }]);
    const q = setup(r);
    q.queue.push(batch('bad', 3));
    q.queue.push(batch('good', 2));
    await until(() => expect(q.sent()).toBe(2));
    expect(r.requests.map((x) => x.body.toString())).toEqual(['bad', 'good']);
    expect(q.rejected()).toBe(3);
    expect(q.failures('http_4xx')).toBe(1);
    expect(q.logger.records.map((x) => x.msg)).toContain(
      `export failed: POST ${r.url}/api/v1/write: HTTP 400: out of order sample`,
    );
  });

  it('retries a 429 after its Retry-After', async () => {
    const r = await receiver([{ status: 429, headers: { 'retry-after': '0' } }, { status: 200 }]);
    const q = setup(r);
    q.queue.push(batch('a'));
    await until(() => expect(q.sent()).toBe(1));
    expect(q.failures('http_429')).toBe(1);
    expect(r.requests).toHaveLength(2);
  });

  it('counts network failures and drops a batch after maxAttempts, keeping order for the next', async () => {
    const port = await freePort();
    const q = setup(`http://127.0.0.1:${port}/api/v1/write`, { maxAttempts: 3 });
    q.queue.push(batch('a', 4));
    await until(() => expect(q.dropped()).toBe(4));
    expect(q.failures('network')).toBe(3);
    expect(q.queue.pending).toBe(0);
  });

  it('bounds the queue: when full, the oldest waiting batch is dropped and counted, never the one in flight', async () => {
    const r = await receiver(['hang', { status: 204 }]);
    const q = setup(r, { maxBatches: 2, requestTimeoutMs: 200 });
    q.queue.push(batch('inflight', 1));
    await until(() => expect(r.requests).toHaveLength(1));
    q.queue.push(batch('b', 10));
    q.queue.push(batch('c', 100));
    q.queue.push(batch('d', 1000));
    expect(q.dropped()).toBe(10);
    // The hung request times out and is retried; then c and d follow in order.
    await until(() => expect(q.sent()).toBe(1101));
    expect(r.requests.map((x) => x.body.toString())).toEqual(['inflight', 'inflight', 'c', 'd']);
    expect(q.failures('timeout')).toBe(1);
  });

  it('close gives queued batches one last try within its bound, drops the rest, and leaves no socket or timer', async () => {
    const before = activeResources();
    const r = await receiver(['hang']);
    const q = setup(r, { requestTimeoutMs: 60_000 });
    q.queue.push(batch('a', 1));
    q.queue.push(batch('b', 2));
    await until(() => expect(r.requests).toHaveLength(1));
    const t0 = Date.now();
    await q.queue.close(200);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(q.dropped()).toBe(3);
    q.queue.push(batch('late', 5));
    expect(q.dropped()).toBe(8);
    await r.close();
    // Destroyed sockets release their handles on a later turn of the loop.
    for (let i = 0; i < 100 && leakedResources(before).length > 0; i++)
      await new Promise((resolve) => setTimeout(resolve, 10));
    expect(await leakedAfterSettling(before)).toEqual([]);
  });

  it('sends credentials from the URL as Basic auth and never logs them', async () => {
    const r = await receiver([{ status: 401, body: 'no' }]);
    const q = setup(`${r.url.replace('http://', 'http://user:s3cret@')}/api/v1/write?token=t0ken`);
    q.queue.push(batch('a'));
    await until(() => expect(q.rejected()).toBe(1));
    expect(r.requests[0]!.headers.authorization).toBe(`Basic ${Buffer.from('user:s3cret').toString('base64')}`);
    expect(r.requests[0]!.path).toBe('/api/v1/write?token=t0ken');
    const logged = JSON.stringify(q.logger.records);
    expect(logged).toContain('HTTP 401');
    expect(logged).not.toMatch(/s3cret|t0ken|user:/);
  });

  it('refuses a bad endpoint or option with a typed error', () => {
    const registry = new Registry({ logger: memoryLogger() });
    const base = { headers: {}, registry, logger: memoryLogger() };
    expectMonitorError(
      () => new ExportQueue({ ...base, endpoint: 'not a url' }),
      ErrorCode.InvalidOption,
      'export queue: endpoint must be an absolute http(s) URL',
    );
    expectMonitorError(
      () => new ExportQueue({ ...base, endpoint: 'ftp://x/' }),
      ErrorCode.InvalidOption,
      'export queue: endpoint must be http(s), got ftp:',
    );
    expectMonitorError(
      () => new ExportQueue({ ...base, endpoint: 'http://x/', maxBatches: 0 }),
      ErrorCode.InvalidOption,
      'export queue: maxBatches must be a positive integer, got 0',
    );
  });
});

describe('ExportQueue persisted in the metric store (real LMDB)', () => {
  function tempDir(): string {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'erlmcp-export-queue-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    return dir;
  }

  function open(dir: string): MetricStore {
    const store = MetricStore.open({ dataDir: dir });
    cleanups.push(() => store.close());
    return store;
  }

  const tags = (r: Receiver) => r.requests.map((req) => Buffer.from(req.body).toString());

  it('a restart sends what the previous process left unsent, oldest first, and then empties the collection', async () => {
    const dir = tempDir();
    const down = `http://127.0.0.1:${await freePort()}/api/v1/write`;
    const first = open(dir);
    const db1 = first.records<PersistedBatch>('remote_write_queue');
    const q1 = setup(down, { persist: db1, initialBackoffMs: 60_000, maxBackoffMs: 60_000 });
    q1.queue.push(batch('a', 1));
    q1.queue.push(batch('b', 2));
    q1.queue.push(batch('c', 3));
    await until(() => expect(db1.count()).toBe(3));
    // A kill: nothing more is sent, nothing is dropped from disk.
    q1.queue.abort();
    await first.close();
    expect(q1.dropped()).toBe(0);

    const second = open(dir);
    const db2 = second.records<PersistedBatch>('remote_write_queue');
    expect(db2.count()).toBe(3);
    const r = await receiver([{ status: 204 }]);
    const q2 = setup(r, { persist: db2 });
    expect(q2.queue.pending).toBe(3);
    q2.queue.push(batch('d', 4));
    await until(() => expect(tags(r)).toEqual(['a', 'b', 'c', 'd']));
    await until(() => expect(q2.sent()).toBe(10));
    await until(() => expect(db2.count()).toBe(0));
  });

  it('close keeps what it could not send for the next start instead of dropping it', async () => {
    const dir = tempDir();
    const store = open(dir);
    const db = store.records<PersistedBatch>('remote_write_queue');
    const r = await receiver(['hang']);
    const q = setup(r, { persist: db, requestTimeoutMs: 60_000 });
    q.queue.push(batch('a', 1));
    q.queue.push(batch('b', 2));
    await until(() => expect(r.requests).toHaveLength(1));
    await q.queue.close(200);
    expect(q.dropped()).toBe(0);
    // close has waited for its writes: the next queue on this store reads exactly what is left.
    expect(db.range().map(([, v]) => Buffer.from(v.body).toString())).toEqual(['a', 'b']);
  });

  it('close waits until the batches it sent are removed from the store, so a restart does not send them again', async () => {
    const store = open(tempDir());
    const db = store.records<PersistedBatch>('remote_write_queue');
    const r = await receiver([{ status: 204 }]);
    const q = setup(r, { persist: db });
    for (const tag of ['a', 'b', 'c']) q.queue.push(batch(tag, 1));
    await until(() => expect(q.sent()).toBe(3));
    await q.queue.close(500);
    expect(db.count()).toBe(0);
  });

  it('holds the bound on disk: a batch dropped for room is removed, and a restart loads at most maxBatches (oldest dropped, counted)', async () => {
    const dir = tempDir();
    const down = `http://127.0.0.1:${await freePort()}/api/v1/write`;
    const first = open(dir);
    const db1 = first.records<PersistedBatch>('remote_write_queue');
    const q1 = setup(down, { persist: db1, maxBatches: 3, initialBackoffMs: 60_000, maxBackoffMs: 60_000 });
    for (const tag of ['a', 'b', 'c', 'd', 'e']) q1.queue.push(batch(tag, 1));
    // 'a' is in flight (kept), 'b' dropped for room; c, d, e wait.
    await until(() => expect(db1.range().map(([, v]) => Buffer.from(v.body).toString())).toEqual(['a', 'c', 'd', 'e']));
    expect(q1.dropped()).toBe(1);
    q1.queue.abort();
    await first.close();

    const second = open(dir);
    const db2 = second.records<PersistedBatch>('remote_write_queue');
    const r = await receiver([{ status: 204 }]);
    const q2 = setup(r, { persist: db2, maxBatches: 3 });
    expect(q2.dropped()).toBe(1);
    await until(() => expect(tags(r)).toEqual(['c', 'd', 'e']));
    await until(() => expect(db2.count()).toBe(0));
  });

  it('a stored record that is not a batch is removed and logged, not sent', async () => {
    const dir = tempDir();
    const store = open(dir);
    const db = store.records<PersistedBatch>('remote_write_queue');
    await db.put(0, { body: 'not bytes', samples: 1 } as unknown as PersistedBatch);
    await db.put(1, { body: Buffer.from('ok'), samples: 1 });
    const r = await receiver([{ status: 204 }]);
    const q = setup(r, { persist: db });
    await until(() => expect(tags(r)).toEqual(['ok']));
    await until(() => expect(db.count()).toBe(0));
    expect(q.logger.records.some((l) => l.msg.includes('not readable'))).toBe(true);
  });
});
