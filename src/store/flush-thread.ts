/**
 * The writer thread's program (see `flush-writer.ts`): opens the store's env and runs
 * `writeFlush` (the same function the main thread runs for small flushes) for each request, in
 * one `transactionSync` each, then waits for the commit to be on disk.
 *
 * `workerData`: `{ dataDir, envOptions }`. Requests: `{ type: 'write', seq, staleHeads, ...EncodedFlush }`
 * (`staleHeads`: the series whose history the main thread wrote since the last request, or `'all'`),
 * `{ type: 'close', seq }`; each is answered `{ seq }` or `{ seq, error }`, in order.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { open } from 'lmdb';
import { type EncodedFlush, writeFlush } from './flush-apply.js';
import { HeadCache } from './head-cache.js';
import { flushRoomAtCommit, flushRoomBefore, Headroom, type HeadroomEnv } from './headroom.js';
import { openChunkDatabases } from './history-chunks.js';
import { openLayout2Dbs } from './migrate-layout2.js';

const { dataDir, envOptions } = workerData as { dataDir: string; envOptions: Record<string, unknown> };
const env = open({ path: dataDir, ...envOptions });
const target = {
  current: env.openDB<Uint8Array, number>('current', { keyEncoding: 'uint32', encoding: 'binary' }),
  history: openChunkDatabases(env).history,
  layout2Points: openLayout2Dbs(env)?.points,
};
// Every history write of this process is either this thread's or announced with the next request (head-cache.ts).
const heads = new HeadCache();
const headroom = new Headroom(env as unknown as HeadroomEnv, dataDir);
const pageSize = (env as unknown as HeadroomEnv).env.stat().pageSize;
interface Stats {
  getStats(): { treeBranchPageCount: number; treeLeafPageCount: number; overflowPages: number };
}

function pagesOf(db: unknown): number {
  const s = (db as Stats).getStats();
  return s.treeBranchPageCount + s.treeLeafPageCount + s.overflowPages;
}

function seriesIn(ids: Uint32Array): number {
  let series = 0;
  for (let i = 0; i < ids.length; i++) if (i === 0 || ids[i] !== ids[i - 1]) series++;
  return series;
}

async function write(flush: EncodedFlush & { staleHeads: Uint32Array | 'all' }): Promise<void> {
  heads.forget(flush.staleHeads);
  // transactionSync: the chunks read are those of the latest commit, and the writes are one
  // transaction with them. It blocks this thread only, and so does making room for it here,
  // under the write lock: a refusal (ENOSPC) throws before the commit, which aborts the
  // transaction with no page written (headroom.ts).
  try {
    env.transactionSync(() => {
      const size = {
        currents: flush.currentIds.length,
        currentBytes: flush.currentBytes.length,
        points: flush.pointIds.length,
        series: seriesIn(flush.pointIds),
      };
      const before = flushRoomBefore(size, pagesOf(target.current) + pagesOf(target.history), pageSize);
      if (before > 0) headroom.ensureLocked('flush', before);
      const done = writeFlush(target, flush, heads);
      headroom.ensureLocked(
        'flush',
        flushRoomAtCommit(size.currents + done.puts + done.removes, flush.currentBytes.length + done.bytes),
      );
    });
  } catch (err) {
    // Aborted: the heads written in it are not there.
    heads.forget('all');
    throw err;
  }
  await env.flushed;
}

parentPort!.on(
  'message',
  (request: ({ type: 'write'; staleHeads: Uint32Array | 'all' } & EncodedFlush) | { type: 'close'; seq: number }) => {
    const seq = (request as { seq: number }).seq;
    const done = request.type === 'write' ? write(request) : env.close();
    done.then(
      () => parentPort!.postMessage({ seq }),
      (err: unknown) => parentPort!.postMessage({ seq, error: String((err as Error | null)?.message ?? err) }),
    );
  },
);
