/**
 * `FlushWriter`: the thread that queues a flush's LMDB writes, so the main thread only encodes.
 *
 * **Why a thread.** lmdb-js queues each `put` on the calling thread, and that costs ~0.4 µs per put
 * whatever the key and value encoding (100,000 puts: 39 ms with `[id, ts]` array keys and msgpack
 * values, 39-46 ms with pre-encoded 12-byte keys and raw float64 values; measured on the shared
 * 2-vCPU VM). One flush is one transaction, so all its puts run in one synchronous `batch`
 * callback: 10,000 histogram series (60,000 puts) held the event loop ~44 ms, 100,000 counters
 * (200,000 puts) ~114 ms. Here the main thread validates and encodes in chunks with yields, then
 * transfers three or four `ArrayBuffer`s (no copy); this thread runs the one `batch` and waits for
 * the commit to be durable.
 *
 * **Protocol.** `{ type: 'write', seq, currentIds, currentEnds, currentBytes, records, inOrder }`
 * writes current value `i` (`currentBytes` from `currentEnds[i-1]` to `currentEnds[i]`, msgpack,
 * stored as is) under `currentIds[i]`, and point record `j` (`records`, {@link RECORD_BYTES} each:
 * key, then value) into `points`, in one transaction; `{ type: 'close', seq }` closes the env.
 * Each is answered `{ seq }` once done (a write: committed and flushed to disk) or
 * `{ seq, error }`. Requests are handled in order.
 *
 * **Lifecycle.** The thread starts with the first write and opens the env itself (lmdb-js shares
 * one LMDB env between the threads of a process). It does not keep the process alive while idle.
 * If it dies, the writes in flight fail and the next write starts a new thread.
 *
 * The thread's code is the string {@link WRITER_SOURCE}, run with `eval: true`: it then loads from
 * both the compiled package and the TypeScript sources under vitest, and shares nothing with this
 * module but the env options it is given.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { ErrorCode, MonitorError, toError } from '../errors.js';
import { KEY_BYTES, RECORD_BYTES } from './point-codec.js';

/** One flush in the form the writer thread takes. Every buffer is transferred (unusable afterwards). */
export interface EncodedFlush {
  /** Series id of each current value. */
  currentIds: Uint32Array;
  /** End offset in `currentBytes` of each current value (the start is the previous end, or 0). */
  currentEnds: Uint32Array;
  /** The msgpack-encoded current values, back to back. */
  currentBytes: Uint8Array;
  /** Point records: 12-byte key, then 8-byte value (`point-codec.ts`). */
  records: Uint8Array;
  /** Whether `records` are already in key order; if not, the thread sorts them before writing. */
  inOrder: boolean;
}

type WriterRequest = ({ type: 'write' } & EncodedFlush) | { type: 'close' };
interface WriterReply {
  seq: number;
  error?: string;
}

/**
 * Runs in the writer thread (CommonJS, `workerData`: `lmdb` entry path, `dataDir`, `envOptions`).
 * Points are inserted in key order: that halves the file size against random order (see
 * `lmdb-store.ts`), so records not in order are sorted by index here, off the main thread; equal
 * keys keep their flush order, so the later one is written last and wins.
 */
const WRITER_SOURCE = `'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const { open } = require(workerData.lmdb);
const KEY_BYTES = ${KEY_BYTES};
const RECORD_BYTES = ${RECORD_BYTES};
const env = open({ path: workerData.dataDir, ...workerData.envOptions });
const current = env.openDB('current', { keyEncoding: 'uint32', encoding: 'binary' });
const points = env.openDB('points', { keyEncoding: 'binary', encoding: 'binary' });

// The commit guard of commit-guard.ts, for this thread's env (see there why): a failed commit
// resolves every write promise with a marker instead of rejecting, and commitError is held.
const FAILED = Symbol('commit failed');
let lastFailed = false;
const TXN_FAILED = 0x40000000;
env.on('aftercommit', ({ next, last }) => {
  lastFailed = Boolean(last && last.uint32 && last.uint32[last.flagPosition] & TXN_FAILED);
  if (!lastFailed || next === undefined) return;
  let resolution = next;
  do {
    const meta = resolution.meta;
    if (meta && meta.reject && meta.resolve && !meta.guarded) {
      const resolve = meta.resolve;
      meta.guarded = true;
      meta.reject = (err) => {
        const failed = { [FAILED]: true, cause: err };
        if (err && err.commitError) err.commitError.then(undefined, (cause) => { failed.cause = cause; });
        resolve(failed);
      };
    }
    resolution = resolution.next;
  } while (resolution && resolution !== last);
});

async function check(value) {
  if (value && value[FAILED]) {
    await new Promise((resolve) => setTimeout(resolve, 1000)); // commitError settles by then, if it does
    throw value.cause;
  }
  return value;
}

function keyOrder(records, count) {
  const view = new DataView(records.buffer, records.byteOffset, records.byteLength);
  const order = Array.from({ length: count }, (_, i) => i);
  return order.sort((a, b) => {
    const idA = view.getUint32(a * RECORD_BYTES);
    const idB = view.getUint32(b * RECORD_BYTES);
    if (idA !== idB) return idA - idB;
    for (let i = 4; i < KEY_BYTES; i++) {
      const diff = records[a * RECORD_BYTES + i] - records[b * RECORD_BYTES + i];
      if (diff !== 0) return diff;
    }
    return a - b;
  });
}

async function write({ currentIds, currentEnds, currentBytes, records, inOrder }) {
  const count = records.length / RECORD_BYTES;
  const order = inOrder ? undefined : keyOrder(records, count);
  const written = env.batch(() => {
    let start = 0;
    for (let i = 0; i < currentIds.length; i++) {
      current.put(currentIds[i], currentBytes.subarray(start, currentEnds[i]));
      start = currentEnds[i];
    }
    for (let i = 0; i < count; i++) {
      const at = (order === undefined ? i : order[i]) * RECORD_BYTES;
      points.put(records.subarray(at, at + KEY_BYTES), records.subarray(at + KEY_BYTES, at + RECORD_BYTES));
    }
  });
  await check(await written);
  await check(await env.flushed);
}

// After a failed commit lmdb-js never settles its flush promise and env.close() waits for it; an
// empty batch commits without writing, even on a full disk, and settles a newer one (see
// MetricStore's #settleFailedCommit).
async function close() {
  if (lastFailed) await check(await env.batch(() => undefined)).catch(() => undefined);
  await env.close();
}

parentPort.on('message', (request) => {
  const done = request.type === 'write' ? write(request) : close();
  done.then(
    () => parentPort.postMessage({ seq: request.seq }),
    (err) => parentPort.postMessage({ seq: request.seq, error: String((err && err.message) || err) }),
  );
});
`;

let lmdbEntry: string | undefined;

/**
 * The writer thread of one writable store. Writes are answered in the order they were sent.
 */
export class FlushWriter {
  readonly #dataDir: string;
  readonly #envOptions: Record<string, unknown>;
  #worker: Worker | undefined;
  #seq = 0;
  readonly #pending = new Map<number, { resolve: () => void; reject: (err: Error) => void }>();

  /**
   * Starts nothing yet: the thread starts with the first write.
   * @param dataDir the env directory (already created and opened by the caller)
   * @param envOptions the options every opener of the env shares (structured-cloneable)
   */
  constructor(dataDir: string, envOptions: Record<string, unknown>) {
    this.#dataDir = dataDir;
    this.#envOptions = envOptions;
  }

  /**
   * Writes one flush in one transaction, in the writer thread; transfers the buffers of `flush`.
   * @returns resolves once the transaction is committed and flushed to disk
   * @throws {MonitorError} (rejects) `EMON_STORE_FAILED` if the commit fails or the thread dies
   * @throws {Error} (rejects) the thread's own error if it cannot start (e.g. the env does not open)
   */
  write(flush: EncodedFlush): Promise<void> {
    const transfer = [flush.currentIds.buffer, flush.currentEnds.buffer, flush.currentBytes.buffer, flush.records.buffer] as ArrayBuffer[];
    return this.#request({ type: 'write', ...flush }, transfer);
  }

  /**
   * Closes the thread's env and ends the thread; a no-op if it never started. Call it only after
   * every write has settled.
   * @throws {MonitorError} (rejects) `EMON_STORE_FAILED` if the thread fails to close the env
   */
  async close(): Promise<void> {
    const worker = this.#worker;
    if (worker === undefined) return;
    try {
      await this.#request({ type: 'close' }, []);
    } finally {
      this.#worker = undefined;
      await worker.terminate();
    }
  }

  #request(request: WriterRequest, transfer: ArrayBuffer[]): Promise<void> {
    const worker = this.#worker ?? this.#start();
    const seq = ++this.#seq;
    const reply = new Promise<void>((resolve, reject) => this.#pending.set(seq, { resolve, reject }));
    if (this.#pending.size === 1) worker.ref(); // keep the process alive until the commit is durable
    try {
      worker.postMessage({ ...request, seq }, transfer);
    } catch (err) {
      this.#pending.delete(seq);
      if (this.#pending.size === 0) worker.unref();
      return Promise.reject(toError(err));
    }
    return reply;
  }

  #start(): Worker {
    lmdbEntry ??= createRequire(import.meta.url).resolve('lmdb');
    const worker = new Worker(WRITER_SOURCE, {
      eval: true,
      workerData: { lmdb: lmdbEntry, dataDir: this.#dataDir, envOptions: this.#envOptions },
    });
    worker.unref();
    worker.on('message', (reply: WriterReply) => this.#settle(reply));
    worker.on('error', (err) => this.#lost(worker, err));
    worker.on('exit', (code) => this.#lost(worker, new MonitorError(ErrorCode.StoreFailed, `the store's writer thread exited (code ${code})`)));
    this.#worker = worker;
    return worker;
  }

  #settle(reply: WriterReply): void {
    const pending = this.#pending.get(reply.seq);
    if (pending === undefined) return;
    this.#pending.delete(reply.seq);
    if (this.#pending.size === 0) this.#worker?.unref();
    if (reply.error === undefined) pending.resolve();
    else pending.reject(new MonitorError(ErrorCode.StoreFailed, reply.error));
  }

  /** The thread died (failed to start, threw, or exited): fail what it had, start anew next time. */
  #lost(worker: Worker, err: Error): void {
    if (this.#worker !== worker) return;
    this.#worker = undefined;
    for (const pending of this.#pending.values()) pending.reject(err);
    this.#pending.clear();
  }
}
