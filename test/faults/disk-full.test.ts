/**
 * A full disk under the running tree, on real small filesystems made here as root: an 8 MiB
 * tmpfs and a 14 MB ext4 loop image without reserved blocks (`mkfs.ext4 -m 0`, so root really
 * gets ENOSPC). The tree runs in a child process with a host `unhandledRejection` counter
 * (`fixtures/disk-full-child.mjs`) and adds new series until the filesystem is full. Then: the
 * child is alive, its counter is 0, `/health` and the live feed say `degraded` naming the store
 * and its error, the failure is counted; space is freed (a ballast file made before the start is
 * deleted), writing resumes with no restart (`/health` ok), and a value set after that is in
 * the store after stop + reopen.
 *
 * Mounting needs root and a kernel that lets this process mount (a container may refuse, and
 * loop devices may be missing): then the suite skips, naming why, and fails under
 * REQUIRE_SYSTEM_DEPS=1.
 */
import { type ChildProcess, type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { MetricStore } from '../../src/store/lmdb-store.js';
import { assertBuilt } from './sigkill-fixture.js';
import {
  cannotMount,
  health,
  type Health,
  mountExt4,
  mountTmpfs,
  type SmallFs,
  unmountAll,
  until,
} from './small-fs-fixture.js';

const CHILD = fileURLToPath(new URL('./fixtures/disk-full-child.mjs', import.meta.url));
const SLOTS_CHILD = fileURLToPath(new URL('./fixtures/reader-slots-child.mjs', import.meta.url));

const skipReason = cannotMount();

type Line = { type: string } & Record<string, unknown>;

interface Child {
  proc: ChildProcessWithoutNullStreams;
  send(line: string): void;
  waitFor(type: string): Promise<Line>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
  /** LMDB page writes that failed, from the child's stderr. */
  lmdbWriteErrors(): number;
}

const children = new Set<ChildProcess>();

function startChild(dataDir: string): Child {
  const proc = spawn(process.execPath, [CHILD], { stdio: ['pipe', 'pipe', 'pipe'] });
  children.add(proc);
  const lines: Line[] = [];
  let err = '';
  // Each LMDB page write that fails prints this (mdb.c) and overflows a heap buffer: the store's
  // headroom (src/store/headroom.ts) must refuse such a write before LMDB sees it.
  let lmdbWriteErrors = 0;
  proc.stderr.on('data', (chunk: Buffer) => {
    const text = chunk.toString();
    lmdbWriteErrors += (err.slice(-11) + text).split('Write error: ').length - 1;
    err = (err + text).slice(-20_000);
  });
  const waiters: { type: string; resolve: (line: Line) => void; reject: (e: Error) => void }[] = [];
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.on('close', (code, signal) => {
      children.delete(proc);
      for (const w of waiters.splice(0))
        w.reject(
          new Error(`child exited (code ${code}, signal ${signal}) before "${w.type}"; stderr: ${err.slice(-2000)}`),
        );
      resolve({ code, signal });
    });
  });
  createInterface({ input: proc.stdout }).on('line', (text) => {
    const line = JSON.parse(text) as Line;
    lines.push(line);
    for (const w of waiters.filter((x) => x.type === line.type)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(line);
    }
  });
  proc.stdin.write(`${JSON.stringify({ dataDir })}\n`);
  return {
    proc,
    send: (line) => proc.stdin.write(`${line}\n`),
    waitFor: (type) => {
      const seen = lines.find((l) => l.type === type);
      if (seen !== undefined) return Promise.resolve(seen);
      if (proc.exitCode !== null || proc.signalCode !== null)
        return Promise.reject(new Error(`child already exited; stderr: ${err.slice(-2000)}`));
      return new Promise((resolve, reject) => waiters.push({ type, resolve, reject }));
    },
    exited,
    stderr: () => err,
    lmdbWriteErrors: () => lmdbWriteErrors,
  };
}

/** The `health` of the next feed frame. */
async function feedHealth(port: number): Promise<Record<string, unknown> | undefined> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
  try {
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no frame within 10 s')), 10_000);
      ws.on('error', reject);
      ws.on('message', (data: Buffer) => {
        const msg = JSON.parse(data.toString()) as { type: string; health?: Record<string, unknown> };
        if (msg.type !== 'frame') return;
        clearTimeout(timer);
        resolve(msg.health);
      });
    });
  } finally {
    ws.terminate();
  }
}

async function fillAndRecover(fsys: SmallFs): Promise<void> {
  const ballast = path.join(fsys.dir, 'ballast');
  fs.writeFileSync(ballast, Buffer.alloc(fsys.ballast, 1));
  const dataDir = path.join(fsys.dir, 'data');
  const child = startChild(dataDir);
  const { port } = (await child.waitFor('ready')) as Line & { port: number };

  // Full: the store says so, and the tree and the host go on.
  let seen: Health | undefined;
  await until(
    async () => {
      if (child.proc.exitCode !== null || child.proc.signalCode !== null)
        throw new Error(`child died: ${child.stderr().slice(-2000)}`);
      seen = await health(port);
      // lmdb-js may report the cause of a failed commit only with a later one: a retry names it.
      return (
        seen.store?.status === 'failing' && /no space left on device|input\/output error/i.test(seen.store.error ?? '')
      );
    },
    {
      timeoutMs: 90_000,
      intervalMs: 200,
      message: () => `the store never reported failing writes with their cause; last /health ${JSON.stringify(seen)}`,
    },
  );
  child.send('pause');
  const paused = await child.waitFor('paused');
  expect(paused.rejections).toBe(0);
  expect(seen!.status).toBe('degraded');
  expect(seen!.store!.error).toMatch(/no space left on device|input\/output error/i);
  expect(seen!.store!.reason).toMatch(/^(ENOSPC|EIO)$/);
  expect(Object.values(seen!.processes)).toEqual(['running', 'running', 'running', 'running']);
  const feed = await feedHealth(port);
  expect(feed).toMatchObject({ status: 'degraded', store: { status: 'failing' } });
  const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  expect(metrics).toMatch(/monitor_store_write_failures\S*\{reason="(ENOSPC|EIO)"\} [1-9]/);
  expect(child.proc.exitCode).toBeNull();

  // Space returns: writing resumes by itself, and a value set now reaches the store.
  fs.rmSync(ballast);
  child.send('set');
  expect((await child.waitFor('set')).rejections).toBe(0);
  await until(async () => (await health(port)).store?.status === 'ok', {
    timeoutMs: 60_000,
    intervalMs: 200,
    message: () => 'writes did not resume after space was freed',
  });
  child.send('stop');
  const stopped = await child.waitFor('stopped');
  expect(stopped.rejections).toBe(0);
  expect(await child.exited).toEqual({ code: 0, signal: null });
  expect(child.lmdbWriteErrors(), 'LMDB page writes that failed').toBe(0);

  const store = MetricStore.open({ dataDir, readOnly: true });
  try {
    const id = store.seriesId('disk.after_free');
    expect(id, 'the series set after space was freed is defined in the store').toBeDefined();
    expect(store.loadCurrent().get(id!)).toMatchObject({ v: 42 });
  } finally {
    await store.close();
  }
}

describe.skipIf(skipReason !== undefined)(
  `A full disk under the running tree${skipReason === undefined ? '' : ` (skipped: ${skipReason})`}`,
  () => {
    afterAll(async () => {
      for (const proc of [...children]) {
        const closed = new Promise((resolve) => proc.once('close', resolve));
        proc.kill('SIGKILL');
        await closed;
      }
      expect(unmountAll()).toEqual([]);
    });

    it('keeps the host alive with no unhandled rejection on a full 8 MiB tmpfs, says degraded, and resumes writing once space is freed', async () => {
      assertBuilt();
      await fillAndRecover(mountTmpfs());
    }, 240_000);

    it('does the same on a 14 MB ext4 loop image without reserved blocks', async () => {
      assertBuilt();
      await fillAndRecover(mountExt4());
    }, 240_000);

    // LMDB maps lock.mdb shared and sizes it sparse; the store allocates its pages at open.
    it.each([
      ['tmpfs', mountTmpfs],
      ['ext4', mountExt4],
    ] as const)(
      'takes 100 reader slots on a full %s without SIGBUS',
      async (_name, make) => {
        assertBuilt();
        const fsys = make();
        const proc = spawn(
          process.execPath,
          [SLOTS_CHILD, path.join(fsys.dir, 'data'), path.join(fsys.dir, 'ballast')],
          { stdio: ['ignore', 'pipe', 'pipe'] },
        );
        children.add(proc);
        let out = '';
        let err = '';
        proc.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
        proc.stderr.on('data', (chunk: Buffer) => (err = (err + chunk.toString()).slice(-4000)));
        const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
          proc.on('close', (c, s) => resolve([c, s])),
        );
        children.delete(proc);
        expect({ code, signal, err: code === 0 ? '' : err }).toEqual({ code: 0, signal: null, err: '' });
        expect(JSON.parse(out.trim())).toEqual({ type: 'readers', count: 100 });
      },
      120_000,
    );
  },
);
