/**
 * The writer thread's program (see `flush-writer.ts`): opens the store's env and runs
 * `writeFlush` (the same function the main thread runs for small flushes) for each request, in
 * one `transactionSync` each, then waits for the commit to be on disk.
 *
 * `workerData`: `{ dataDir, envOptions }`. Requests: `{ type: 'write', seq, ...EncodedFlush }`,
 * `{ type: 'close', seq }`; each is answered `{ seq }` or `{ seq, error }`, in order.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { open } from 'lmdb';
import { type EncodedFlush, writeFlush } from './flush-apply.js';
import { openChunkDatabases } from './history-chunks.js';
import { openLayout2Dbs } from './migrate-layout2.js';

const { dataDir, envOptions } = workerData as { dataDir: string; envOptions: Record<string, unknown> };
const env = open({ path: dataDir, ...envOptions });
const target = {
  current: env.openDB<Uint8Array, number>('current', { keyEncoding: 'uint32', encoding: 'binary' }),
  history: openChunkDatabases(env).history,
  layout2Points: openLayout2Dbs(env)?.points,
};

async function write(flush: EncodedFlush): Promise<void> {
  // transactionSync: the chunks read are those of the latest commit, and the writes are one
  // transaction with them. It blocks this thread only.
  env.transactionSync(() => writeFlush(target, flush));
  await env.flushed;
}

parentPort!.on('message', (request: ({ type: 'write' } & EncodedFlush) | { type: 'close'; seq: number }) => {
  const seq = (request as { seq: number }).seq;
  const done = request.type === 'write' ? write(request) : env.close();
  done.then(
    () => parentPort!.postMessage({ seq }),
    (err: unknown) => parentPort!.postMessage({ seq, error: String((err as Error | null)?.message ?? err) }),
  );
});
