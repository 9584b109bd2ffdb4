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
 * **Protocol.** `{ type: 'write', seq, staleHeads, ...EncodedFlush }` writes one encoded flush
 * (`flush-apply.ts`: current values, points appended to the series' chunks) in one transaction;
 * `{ type: 'close', seq }` closes the env. Each is answered `{ seq }` once done (a write: committed
 * and flushed to disk) or `{ seq, error }`. Requests are handled in order.
 *
 * **Lifecycle.** The thread starts with the first write and opens the env itself (lmdb-js shares
 * one LMDB env between the threads of a process). It does not keep the process alive while idle.
 * If it dies, the writes in flight fail and the next write starts a new thread.
 *
 * **One writer, typechecked.** The thread (`flush-thread.ts`) runs `writeFlush` of
 * `flush-apply.ts`, the function the main thread runs for small flushes, from the module itself:
 * the compiled `flush-thread.js` from the package, the TypeScript source through a loader hook
 * under vitest (see `threadProgram`). The earlier string of JavaScript eval'd in the thread was
 * a second, untyped copy of the writer.
 */
import { Worker } from 'node:worker_threads';
import { ErrorCode, MonitorError, toError } from '../errors.js';
import type { EncodedFlush } from './flush-apply.js';

export type { EncodedFlush } from './flush-apply.js';

type WriterRequest = ({ type: 'write'; staleHeads: Uint32Array | 'all' } & EncodedFlush) | { type: 'close' };
interface WriterReply {
  seq: number;
  error?: string;
}

/**
 * The thread's program: `flush-thread.js` next to this module. Under vitest this module is the
 * TypeScript source, and Node 20 cannot load a `.ts` worker: the thread then loads the `.ts`
 * file through the test suite's loader hook (test/ts-worker-hooks.mjs, TypeScript's
 * transpileModule), so tests run the same source the package compiles.
 */
function threadProgram(): { url: URL; execArgv?: string[] } {
  if (!import.meta.url.endsWith('.ts')) return { url: new URL('./flush-thread.js', import.meta.url) };
  return {
    url: new URL('./flush-thread.ts', import.meta.url),
    execArgv: ['--import', new URL('../../test/ts-worker-hooks.mjs', import.meta.url).href],
  };
}

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
   * @param staleHeads the series whose history was written elsewhere (the main thread) since the
   *   last write, or `'all'`: the thread looks their heads up again (`head-cache.ts`)
   * @returns resolves once the transaction is committed and flushed to disk
   * @throws {MonitorError} (rejects) `EMON_STORE_FAILED` if the commit fails or the thread dies
   * @throws {Error} (rejects) the thread's own error if it cannot start (e.g. the env does not open)
   */
  write(flush: EncodedFlush, staleHeads: Uint32Array | 'all'): Promise<void> {
    const arrays = [
      flush.currentIds,
      flush.currentEnds,
      flush.currentBytes,
      flush.pointIds,
      flush.pointTs,
      flush.pointValues,
    ];
    if (staleHeads !== 'all') arrays.push(staleHeads);
    const transfer = [...new Set(arrays.map((a) => a.buffer as ArrayBuffer))];
    return this.#request({ type: 'write', staleHeads, ...flush }, transfer);
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
    const program = threadProgram();
    const worker = new Worker(program.url, {
      ...(program.execArgv === undefined ? {} : { execArgv: program.execArgv }),
      workerData: { dataDir: this.#dataDir, envOptions: this.#envOptions },
    });
    worker.unref();
    worker.on('message', (reply: WriterReply) => this.#settle(reply));
    worker.on('error', (err) => this.#lost(worker, err));
    worker.on('exit', (code) =>
      this.#lost(worker, new MonitorError(ErrorCode.StoreFailed, `the store's writer thread exited (code ${code})`)),
    );
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
