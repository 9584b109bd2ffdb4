/**
 * Alerting and the performance monitor on a full disk: an 8 MiB tmpfs made here as root (see
 * small-fs-fixture.ts), the tree in a child process (`fixtures/disk-full-alerting-child.mjs`)
 * with both checking every 100 ms, a rule alert, and the performance monitor's memory alert whose
 * value (and so its text) changes at every check, so every check has an alert record to write. Before, each failed write crashed alerting
 * (EMON_STORE_FAILED) and at 10 restarts in 60 s the whole tree stopped. Now, while the disk is
 * full: no process restarts, the alerts keep following their values in memory, a `send_alert`
 * is answered with its alert and notified through the webhook, `/health` says degraded, failures
 * are counted and logged once per outage; once space is freed the writes catch up, and after
 * stop + reopen the store holds the firing alerts, the memory one with a value from after the outage, and the
 * alert sent during it.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { Alert } from '../../src/alerts/alert.js';
import { MetricStore } from '../../src/store/lmdb-store.js';
import { assertBuilt } from './sigkill-fixture.js';
import { cannotMount, health, type Health, mountTmpfs, unmountAll, until } from './small-fs-fixture.js';

const CHILD = fileURLToPath(new URL('./fixtures/disk-full-alerting-child.mjs', import.meta.url));
const skipReason = cannotMount();

interface Status {
  type: 'status';
  rejections: number;
  tempValue: number;
  pids: Record<string, number | undefined>;
  hot: { id: string; value: number } | null;
  mem: { id: string; value: number; message: string } | null;
  received: string[];
  logged: Record<string, number>;
}

type Line = { type: string } & Record<string, unknown>;

const children = new Set<ChildProcessWithoutNullStreams>();

/** The child, and its answers one at a time per type (each `next(type)` takes the next unread one). */
function startChild(dataDir: string) {
  const proc = spawn(process.execPath, [CHILD], { stdio: ['pipe', 'pipe', 'pipe'] });
  children.add(proc);
  let err = '';
  // Each LMDB page write that fails prints this (mdb.c) and overflows a heap buffer: the store's
  // headroom (src/store/headroom.ts) must refuse such a write before LMDB sees it.
  let lmdbWriteErrors = 0;
  proc.stderr.on('data', (chunk: Buffer) => {
    const text = chunk.toString();
    lmdbWriteErrors += (err.slice(-11) + text).split('Write error: ').length - 1;
    err = (err + text).slice(-20_000);
  });
  const unread: Line[] = [];
  const waiters: { type: string; resolve: (line: Line) => void; reject: (e: Error) => void }[] = [];
  proc.on('close', (code, signal) => {
    children.delete(proc);
    for (const w of waiters.splice(0))
      w.reject(
        new Error(`child exited (code ${code}, signal ${signal}) before "${w.type}"; stderr: ${err.slice(-3000)}`),
      );
  });
  createInterface({ input: proc.stdout }).on('line', (text) => {
    const line = JSON.parse(text) as Line;
    const waiter = waiters.find((w) => w.type === line.type);
    if (waiter === undefined) unread.push(line);
    else {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve(line);
    }
  });
  proc.stdin.write(`${JSON.stringify({ dataDir })}\n`);
  const next = (type: string): Promise<Line> => {
    const at = unread.findIndex((l) => l.type === type);
    if (at >= 0) return Promise.resolve(unread.splice(at, 1)[0]!);
    if (proc.exitCode !== null || proc.signalCode !== null)
      return Promise.reject(new Error(`child already exited; stderr: ${err.slice(-3000)}`));
    return new Promise((resolve, reject) => waiters.push({ type, resolve, reject }));
  };
  const ask = async (command: string, type: string): Promise<Line> => {
    proc.stdin.write(`${command}\n`);
    return next(type);
  };
  return {
    proc,
    next,
    ask,
    status: async () => (await ask('status', 'status')) as unknown as Status,
    stderr: () => err,
    lmdbWriteErrors: () => lmdbWriteErrors,
  };
}

/** Log lines whose message starts with `prefix`. */
function logCount(status: Status, prefix: string): number {
  return Object.entries(status.logged)
    .filter(([msg]) => msg.startsWith(prefix))
    .reduce((n, [, count]) => n + count, 0);
}

describe.skipIf(skipReason !== undefined)(
  `Alerting on a full disk${skipReason === undefined ? '' : ` (skipped: ${skipReason})`}`,
  () => {
    afterAll(async () => {
      for (const proc of [...children]) {
        const closed = new Promise((resolve) => proc.once('close', resolve));
        proc.kill('SIGKILL');
        await closed;
      }
      expect(unmountAll()).toEqual([]);
    });

    it('keeps alerts firing, changing and notified with no restart while writes fail, and writes them once space is freed', async () => {
      assertBuilt();
      const fsys = mountTmpfs();
      const ballast = path.join(fsys.dir, 'ballast');
      fs.writeFileSync(ballast, Buffer.alloc(fsys.ballast, 1));
      const dataDir = path.join(fsys.dir, 'data');
      const child = startChild(dataDir);
      const { port } = (await child.next('ready')) as Line & { port: number };
      const before = await child.status();
      const alertingPid = before.pids.erlmcp_alerting;
      expect(alertingPid).toBeDefined();

      // The disk fills; filling stops at once, so that what the collector still has to write fits
      // in the space freed later. Then alert records and performance reports fail too.
      let last: Status | undefined;
      await until(
        async () => {
          last = await child.status();
          return Object.keys(last.logged).some((msg) => msg.includes('store writes are failing'));
        },
        {
          timeoutMs: 90_000,
          intervalMs: 100,
          message: () =>
            `the store never failed; last status ${JSON.stringify(last)}; stderr ${child.stderr().slice(-2000)}`,
        },
      );
      await child.ask('pause', 'paused');
      await until(
        async () => {
          last = await child.status();
          return (
            logCount(last, 'alert records: store writes are failing') > 0 &&
            logCount(last, 'performance history: store writes are failing') > 0
          );
        },
        {
          timeoutMs: 60_000,
          intervalMs: 200,
          message: () =>
            `alert and performance writes never failed; last status ${JSON.stringify(last)}; stderr ${child.stderr().slice(-2000)}`,
        },
      );

      // 50 more evaluations (each with a changed rule alert to write) while the disk stays full:
      // before the fix each failed write restarted alerting, and the 11th within 60 s stopped the tree.
      // The memory alert's text (one decimal) changes every 100 values: wait for two changes.
      const fullFrom = last!.tempValue;
      const memFrom = last!.mem?.value ?? 0;
      await until(
        async () => {
          last = await child.status();
          return (
            last.hot !== null &&
            last.hot.value >= fullFrom + 50 &&
            last.mem !== null &&
            last.mem.value >= memFrom + 0.15
          );
        },
        {
          timeoutMs: 60_000,
          intervalMs: 200,
          message: () => `the alerts stopped following their values; last status ${JSON.stringify(last)}`,
        },
      );
      expect(last!.pids).toEqual(before.pids);
      expect(last!.rejections).toBe(0);

      // A caller is told success when its alert was raised, and the alert is notified from memory.
      const sent = (await child.ask('send', 'sent')) as Line & { id: string | null; error: string | null };
      expect(sent.error).toBeNull();
      await until(
        async () => {
          last = await child.status();
          return last.received.includes(`${sent.id}:firing`);
        },
        {
          timeoutMs: 30_000,
          intervalMs: 200,
          message: () => `the alert sent during the outage was not notified; last status ${JSON.stringify(last)}`,
        },
      );

      let seen: Health | undefined;
      await until(
        async () => {
          seen = await health(port);
          return seen.store?.status === 'failing';
        },
        {
          timeoutMs: 30_000,
          intervalMs: 200,
          message: () => `/health did not say the store is failing; last ${JSON.stringify(seen)}`,
        },
      );
      expect(seen!.status).toBe('degraded');
      expect(Object.values(seen!.processes)).toEqual(['running', 'running', 'running', 'running']);
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(metrics).toMatch(/monitor_store_write_failures\S*\{reason="(ENOSPC|EIO)"\} [1-9]/);

      // Space returns: the alert records are written again with their latest state.
      fs.rmSync(ballast);
      await until(
        async () => {
          last = await child.status();
          return (
            logCount(last, 'alert records: store writes recovered') >=
            logCount(last, 'alert records: store writes are failing')
          );
        },
        {
          timeoutMs: 60_000,
          intervalMs: 200,
          message: () => `alert writes did not recover after space was freed; last status ${JSON.stringify(last)}`,
        },
      );
      const afterFree = last!;
      expect(afterFree.pids).toEqual(before.pids);
      expect(afterFree.pids.erlmcp_alerting).toBe(alertingPid);
      // One line per change of state (a small write may fit now and then: a change each way), not
      // one per failed write: at least 10 evaluations a second wanted to write.
      for (const what of ['alert records', 'performance history']) {
        const failing = logCount(afterFree, `${what}: store writes are failing`);
        expect(failing, what).toBeLessThanOrEqual(10);
        expect(logCount(afterFree, `${what}: store writes recovered`), what).toBeGreaterThanOrEqual(failing - 1);
      }
      const mem = afterFree.mem!;

      const stopped = (await child.ask('stop', 'stopped')) as Line & { rejections: number };
      expect(stopped.rejections).toBe(0);
      await new Promise((resolve) =>
        child.proc.exitCode === null ? child.proc.once('close', resolve) : resolve(undefined),
      );
      expect(child.lmdbWriteErrors(), 'LMDB page writes that failed').toBe(0);

      const store = MetricStore.open({ dataDir, readOnly: true });
      try {
        const alerts = new Map(
          store
            .records<Alert>('alerts')
            .range()
            .map(([, a]) => [a.id, a]),
        );
        expect(
          [...alerts.values()].some((a) => a.status === 'firing' && a.source === 'rule:hot'),
          'the rule alert is stored',
        ).toBe(true);
        expect(alerts.get(mem.id), 'the memory alert is stored').toMatchObject({ status: 'firing' });
        expect(alerts.get(mem.id)!.value, 'with a value from after the outage').toBeGreaterThanOrEqual(mem.value);
        expect(alerts.get(sent.id!), 'the alert sent during the outage is stored').toMatchObject({
          status: 'firing',
          severity: 'critical',
        });
        expect(alerts.get(sent.id!)!.notifiedAt).toBeDefined();
      } finally {
        await store.close();
      }
    }, 240_000);
  },
);
