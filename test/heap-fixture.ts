/**
 * Reading what code allocates, in bytes of the young generation, where every short-lived object
 * starts: a scavenge right before the code runs empties it, and its growth over the run is what
 * the run allocated, as long as the run allocates less than the young generation holds (no
 * collection can then fall inside and hide allocation). The old generation is swept concurrently:
 * its figure moves by itself, so it is not read.
 */
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';

v8.setFlagsFromString('--expose-gc');
export const gc = runInNewContext('gc') as (options?: { type: 'minor' | 'major' }) => void;

/** Young-generation bytes, large young objects included. */
export function youngBytes(): number {
  let n = 0;
  for (const s of v8.getHeapSpaceStatistics())
    if (s.space_name === 'new_space' || s.space_name === 'new_large_object_space') n += s.space_used_size;
  return n;
}

/**
 * Bytes one call of `run` allocates: the least over `runs` calls, each right after a scavenge and
 * a turn of the event loop, after `warmUp` calls (V8 optimises on a background thread that a
 * loaded machine can hold back, and unoptimised code boxes numbers).
 */
export async function leastAllocated(run: () => void, runs = 6, warmUp = 20): Promise<number> {
  for (let i = 0; i < warmUp; i++) run();
  let least = Infinity;
  for (let r = 0; r < runs; r++) {
    await new Promise((resolve) => setTimeout(resolve, 5));
    gc({ type: 'minor' });
    const before = youngBytes();
    run();
    least = Math.min(least, youngBytes() - before);
  }
  return least;
}
