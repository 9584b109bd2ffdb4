import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../src/errors.js';
import { type ExitReason, startMonitoring } from '../src/index.js';
import { type Behaviour, crashOf, type Protocol } from '../src/otp/index.js';
import { memoryLogger, until } from './helpers.js';

interface CrashProtocol extends Protocol {
  call: never;
  replies: Record<string, never>;
  cast: never;
  info: { type: 'crash' };
}

/** Crashes a few ms after every start: a crash loop. */
const crashLoop: Behaviour<null, CrashProtocol> = {
  name: 'crash-loop',
  messages: { call: {}, cast: {}, info: { crash: {} } },
  init(_a, ctx) {
    ctx.sendAfter(1, { type: 'crash' });
    return null;
  },
  handleInfo() {
    throw new Error('always failing');
  },
};

describe('startMonitoring', () => {
  it('stops the tree, logs one line and calls onStop when the root gives up; nothing is thrown', async () => {
    const logger = memoryLogger();
    const stops: ExitReason[] = [];
    const { startServer } = await import('../src/otp/index.js');
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'erlmcp-monitor-test-'));
    const mon = await startMonitoring({
      logger,
      dataDir,
      env: { ERLMCP_DASHBOARD_PORT: '0' },
      processMetrics: false,
      onStop: (r) => stops.push(r),
      extraChildren: [{ id: 'looper', start: (sys) => startServer(sys, crashLoop, undefined) }],
    });
    const reason = await mon.stopped;
    expect(crashOf(reason)?.code).toBe(ErrorCode.MaxRestartIntensity);
    expect(stops).toEqual([reason]);
    const treeLines = logger.records.filter((r) => r.msg.startsWith('monitoring tree stopped'));
    expect(treeLines).toHaveLength(1);
    expect(treeLines[0]!.fields.reason).toMatch(/more than 10 restart\(s\) within 60000 ms/);
    await mon.stop(); // idempotent after the tree is gone
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("learns of a give-up from the supervisor's report: a transient nested supervisor that gives up stays down and the tree runs on", async () => {
    const logger = memoryLogger();
    const { startServer, startSupervisor } = await import('../src/otp/index.js');
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'erlmcp-monitor-test-'));
    const mon = await startMonitoring({
      logger,
      dataDir,
      env: { ERLMCP_DASHBOARD_PORT: '0' },
      processMetrics: false,
      extraChildren: [
        {
          id: 'plugin_sup',
          type: 'supervisor',
          restart: 'transient',
          start: (sys) =>
            startSupervisor(
              sys,
              {
                flags: { intensity: 0 },
                children: [{ id: 'looper', start: (s) => startServer(s, crashLoop, undefined) }],
              },
              { name: 'plugin_sup' },
            ),
        },
      ],
    });
    const reports = () => logger.records.filter((r) => r.msg === 'supervisor gave up: reached_max_restart_intensity');
    // Its parent sees it exit shutdown: a transient child, so not restarted (its spec is kept).
    await until(async () =>
      expect((await mon.supervisor.call({ type: 'which_children' })).find((c) => c.id === 'plugin_sup')).toMatchObject({
        pid: undefined,
      }),
    );
    expect(reports().map((r) => [r.fields.supervisor, r.fields.offender])).toEqual([['plugin_sup', 'looper']]);
    expect(mon.supervisor.alive).toBe(true);
    expect(logger.records.filter((r) => r.msg.startsWith('monitoring tree stopped'))).toEqual([]);
    await mon.stop();
    expect(await mon.stopped).toBe('shutdown');
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('lets a host process exit on its own after stop(): nothing keeps the event loop alive', async () => {
    const dist = fileURLToPath(new URL('../dist/src/index.js', import.meta.url));
    const otp = fileURLToPath(new URL('../dist/src/otp/index.js', import.meta.url));
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'erlmcp-monitor-test-'));
    const script = `
      import { startMonitoring } from ${JSON.stringify(dist)};
      import { startServer } from ${JSON.stringify(otp)};
      const ticker = {
        name: 'ticker',
        messages: { call: { ticks: {} }, cast: {}, info: { tick: {} } },
        init(_a, ctx) { ctx.interval(5, { type: 'tick' }); ctx.sendAfter(600000, { type: 'tick' }); return 0; },
        handleInfo(_m, n) { return { state: n + 1 }; },
        handleCall(_m, n) { return { reply: n, state: n }; },
      };
      const mon = await startMonitoring({
        logger: { debug() {}, info() {}, warn() {}, error() {} },
        dataDir: ${JSON.stringify(dataDir)},
        env: { ERLMCP_DASHBOARD_PORT: '0' },
        extraChildren: [{ id: 'ticker', start: (sys) => startServer(sys, ticker, undefined, { name: 'ticker' }) }],
      });
      while ((await mon.system.ref('ticker').call({ type: 'ticks' })) < 3) await new Promise((r) => setImmediate(r));
      await mon.stop();
      console.log('stopped');
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    // A generous bound on a process that should exit in well under a second.
    const bound = setTimeout(() => child.kill('SIGKILL'), 20_000);
    const [code, signal] = await new Promise<[number | null, string | null]>((resolve) =>
      child.on('exit', (c, s) => resolve([c, s])),
    );
    clearTimeout(bound);
    expect(out.trim()).toBe('stopped');
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    rmSync(dataDir, { recursive: true, force: true });
  });
});
