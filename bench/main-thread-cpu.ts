/**
 * The main thread's own CPU time, from the kernel's scheduler statistics
 * (`/proc/self/task/<pid>/schedstat`): unlike `process.cpuUsage()` it leaves out the store's writer
 * thread and V8's helpers. The file is opened at the first reading and read again in place each time.
 */
import { openSync, readSync } from 'node:fs';

let schedstat: number | null | undefined;
const buffer = Buffer.alloc(128);

/** The main thread's CPU time so far in ms (ns / 1e6); NaN off Linux. */
export function mainThreadCpuMs(): number {
  if (schedstat === undefined) {
    try {
      schedstat = openSync(`/proc/self/task/${process.pid}/schedstat`, 'r');
    } catch {
      schedstat = null;
    }
  }
  if (schedstat === null) return Number.NaN;
  const n = readSync(schedstat, buffer, 0, buffer.length, 0);
  return Number(buffer.toString('latin1', 0, n).split(' ')[0]) / 1e6;
}
