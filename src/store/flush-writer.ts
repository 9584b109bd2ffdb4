/**
 * `FlushWriter`: the thread that queues a flush's LMDB writes, so the main thread only encodes.
 *
 * Why: lmdb-js queues each `put` on the calling thread (~0.4 µs per put), and one flush is one
 * synchronous `batch`, which held the event loop for tens to hundreds of ms. Requests
 * (`write`, `close`) are handled in order and answered `{ seq }` or `{ seq, error }`. The thread
 * (`flush-thread.ts`) runs the same typed `writeFlush` as the main thread; if it dies, writes in
 * flight fail and the next write starts a new one. Measurements and protocol: docs/design-notes.md.
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
