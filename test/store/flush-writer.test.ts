/**
 * The writer thread on its own: what happens when it cannot start, and closing it. Writing
 * through it is covered by the MetricStore tests, which flush through it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FlushWriter } from '../../src/store/flush-writer.js';

let dir: string;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'emon-writer-'));
});

afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function emptyFlush() {
  return {
    currentIds: new Uint32Array(0),
    currentEnds: new Uint32Array(0),
    currentBytes: new Uint8Array(0),
    pointIds: new Uint32Array(0),
    pointTs: new Float64Array(0),
    pointValues: new Float64Array(0),
  };
}

describe('FlushWriter', () => {
  it('fails the write when its thread cannot open the env, and starts a new thread for the next write', async () => {
    const notADir = path.join(dir, 'file');
    fs.writeFileSync(notADir, 'x');
    const writer = new FlushWriter(notADir, { maxDbs: 8 });
    await expect(writer.write(emptyFlush(), 'all')).rejects.toThrow(/Not a directory/);
    await expect(writer.write(emptyFlush(), 'all')).rejects.toThrow(/Not a directory/);
    await writer.close();
  });

  it('closes without ever starting a thread', async () => {
    await expect(new FlushWriter(dir, { maxDbs: 8 }).close()).resolves.toBeUndefined();
  });
});
