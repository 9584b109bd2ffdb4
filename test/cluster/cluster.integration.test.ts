/**
 * Real node:cluster workers (a fixture app on the compiled dist/, in a child process): each worker
 * increments a counter in its own table and reports it; the primary's one exposition shows both
 * workers (labelled, or summed with its own), and the workers read the merged values back from
 * the LMDB env the primary writes, opened read-only.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';

const APP = fileURLToPath(new URL('./fixtures/cluster-app.mjs', import.meta.url));
const BUILT = fileURLToPath(new URL('../../dist/src/cluster/cluster-primary.js', import.meta.url));
const dirs: string[] = [];

beforeAll(() => {
  if (!fs.existsSync(BUILT))
    throw new Error(`${BUILT} is missing: run \`npm run build\` (npm test does) before these tests`);
});

afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

function runApp(mode: 'by_worker' | 'sum'): Promise<{ text: string; reads: Record<string, number | null> }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'emon-cluster-'));
  dirs.push(dir);
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [APP, mode, dir], { timeout: 20_000, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      if (err) reject(new Error(`cluster app failed: ${err.message}; stderr: ${stderr}`));
      else resolve(JSON.parse(stdout.trim().split('\n').at(-1)!));
    });
  });
}

describe('node:cluster', () => {
  it("by_worker: one exposition shows both workers' counters labelled by worker, and the primary's own", async () => {
    const { text, reads } = await runApp('by_worker');
    const lines = text.split('\n').filter((l) => l.startsWith('jobs_done_total'));
    expect(lines.sort()).toEqual([
      'jobs_done_total{queue="a",worker="1"} 10',
      'jobs_done_total{queue="a",worker="2"} 20',
      'jobs_done_total{queue="a",worker="primary"} 1',
    ]);
    expect(text.match(/^# TYPE jobs_done_total counter$/gm)).toHaveLength(1);
    // Each worker read its own merged series from the env the primary wrote.
    expect(reads).toEqual({ 1: 10, 2: 20 });
  }, 30_000);

  it('sum: one exposition shows the counter summed over both workers and the primary', async () => {
    const { text, reads } = await runApp('sum');
    expect(text.split('\n').filter((l) => l.startsWith('jobs_done_total'))).toEqual(['jobs_done_total{queue="a"} 31']);
    expect(reads).toEqual({ 1: 31, 2: 31 });
  }, 30_000);
});
