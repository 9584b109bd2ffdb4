/**
 * The built `erlmcp-monitor` binary (dist/src/cli/main.js, package.json's `bin`) against the store
 * of a LIVE writer: a child process running the library's own table flush (fixtures/live-writer.mjs)
 * writes while every command reads. Then wrong paths, a store of another layout, a damaged one.
 */
import fs from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { open } from 'lmdb';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { probeWriter } from '../../src/cli/writer-probe.js';
import { MetricStore } from '../../src/store/lmdb-store.js';
import { until } from '../helpers.js';
import { assertBuilt, BIN, fixture, killChildren, type LineChild, runBin, spawnChild } from './cli-fixture.js';

const WRITER_TIMEOUT_MS = 180_000;

function lastFlushed(child: LineChild): number {
  for (let i = child.lines.length - 1; i >= 0; i--) {
    const m = /^flushed (\d+)$/.exec(child.lines[i]!);
    if (m !== null) return Number(m[1]);
  }
  return -1;
}

describe('erlmcp-monitor against a live writer', () => {
  let work: string;
  let dataDir: string;
  let writer: LineChild;
  let base: number;

  beforeAll(async () => {
    assertBuilt();
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'emon-cli-'));
    dataDir = path.join(work, 'data');
    writer = spawnChild(fixture('live-writer.mjs'), [dataDir, '20000'], WRITER_TIMEOUT_MS);
    await until(() => expect(lastFlushed(writer), writer.stderr()).toBeGreaterThanOrEqual(10), 60_000);
    base = Number(/^base (\d+)$/.exec(writer.lines[0]!)![1]);
  }, 90_000);

  afterAll(async () => {
    writer?.proc.stdin.end('stop\n');
    await writer?.exited;
    await killChildren();
    if (work !== undefined) fs.rmSync(work, { recursive: true, force: true });
  });

  it('inspect reports the series, the points and the running writer, as JSON and as a table', async () => {
    const flushed = lastFlushed(writer);
    const json = await runBin(['inspect', dataDir, '--json', '--series']);
    expect(json.code, json.stderr).toBe(0);
    const report = JSON.parse(json.stdout) as Record<string, any>;
    // cpu.usage{host="a"}, requests.total, http.latency and its five derived series.
    expect(report.series).toBe(8);
    // Every flush writes a point to each of the 7 series with history (the histogram's own state is no point).
    expect(report.points).toBeGreaterThanOrEqual(7 * (flushed + 1));
    expect(report.writer).toMatchObject({ alive: true, pid: writer.proc.pid });
    expect(report.fileBytes).toBe(fs.statSync(path.join(dataDir, 'data.mdb')).size);
    expect(report.bytesPerPoint.file).toBeCloseTo(report.fileBytes / report.points, 1);
    expect(report.databases.map((d: { name: string }) => d.name)).toEqual(
      expect.arrayContaining(['series', 'series_key', 'meta', 'current']),
    );
    expect(report.seriesList.map((s: { key: string }) => s.key)).toEqual(
      expect.arrayContaining(['cpu.usage{host="a"}', 'http.latency#p95']),
    );

    const table = await runBin(['inspect', dataDir]);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(new RegExp(`^writer +running: pid ${writer.proc.pid} holds the flock`, 'm'));
    expect(table.stdout).toMatch(/^series +8$/m);
    expect(table.stdout).toMatch(/^layout +\d+$/m);
  });

  it('query prints exactly the points the writer flushed, by key, by name{labels} and by id', async () => {
    const n = lastFlushed(writer);
    const to = String(base + n * 1000);
    const expected = Array.from({ length: n + 1 }, (_, i) => [base + i * 1000, i % 100]);
    const byKey = await runBin([
      'query',
      dataDir,
      'cpu.usage{host="a"}',
      '--from',
      String(base),
      '--to',
      to,
      '--format',
      'json',
    ]);
    expect(byKey.code, byKey.stderr).toBe(0);
    const parsed = JSON.parse(byKey.stdout) as { series: { key: string; id: number }; points: number[][] };
    expect(parsed.series.key).toBe('cpu.usage{host="a"}');
    expect(parsed.points).toEqual(expected);

    const byLabels = await runBin([
      'query',
      dataDir,
      'cpu.usage{host=a}',
      '--from',
      new Date(base).toISOString(),
      '--to',
      to,
    ]);
    expect(byLabels.code, byLabels.stderr).toBe(0);
    const rows = byLabels.stdout.trim().split('\n');
    expect(rows[0]).toBe('ts,time,value');
    expect(rows.slice(1)).toEqual(expected.map(([ts, v]) => `${ts},${new Date(ts!).toISOString()},${v}`));

    const byId = await runBin([
      'query',
      dataDir,
      String(parsed.series.id),
      '--from',
      String(base),
      '--to',
      to,
      '--points',
      '3',
      '--format',
      'json',
    ]);
    expect(byId.code, byId.stderr).toBe(0);
    expect((JSON.parse(byId.stdout) as { points: unknown[] }).points.length).toBeLessThanOrEqual(3);

    // Relative times: the writer's points are an hour old, so the last 10 minutes hold none of the first ones.
    const recent = await runBin([
      'query',
      dataDir,
      'requests.total',
      '--from',
      '-2h',
      '--to',
      'now',
      '--format',
      'json',
    ]);
    expect(recent.code, recent.stderr).toBe(0);
    expect((JSON.parse(recent.stdout) as { points: number[][] }).points[0]).toEqual([base, 1]);
  });

  it('query names the closest series for an unknown one, and the derived series of a histogram', async () => {
    const typo = await runBin(['query', dataDir, 'cpu.usag{host="a"}']);
    expect(typo.code).toBe(1);
    expect(typo.stderr).toContain(`no series "cpu.usag{host=\\"a\\"}" in ${dataDir}; closest:\n  cpu.usage{host="a"}`);
    expect(typo.stderr).not.toMatch(/\n\s+at /); // no stack trace

    const histogram = await runBin(['query', dataDir, 'http.latency']);
    expect(histogram.code).toBe(1);
    expect(histogram.stderr).toContain('http.latency is a histogram');
    expect(histogram.stderr).toContain('http.latency#p95');

    const badTime = await runBin(['query', dataDir, 'requests.total', '--from', 'yesterday']);
    expect(badTime.code).toBe(2);
    expect(badTime.stderr).toContain('--from: cannot read "yesterday" as a time');
  });

  it("serve answers /api/history with the writer's points, serves the page, and its live values follow the writer", async () => {
    const configDir = path.join(work, 'configs');
    fs.mkdirSync(configDir, { recursive: true });
    fs.writeFileSync(
      path.join(configDir, 'dashboard.json'),
      JSON.stringify({
        refresh_interval: 100,
        data_points: 10_000,
        dashboards: [
          {
            name: 'cli',
            title: 'CLI',
            charts: [
              { id: 'cpu', title: 'CPU', series: [{ label: 'cpu', metric: 'cpu.usage', labels: { host: 'a' } }] },
            ],
          },
        ],
      }),
    );
    const serve = spawnChild(BIN, ['serve', dataDir, '--port', '0', '--config', configDir], 120_000);
    try {
      await until(
        () => expect(serve.lines.join('\n'), serve.stderr()).toMatch(/at http:\/\/127\.0\.0\.1:\d+$/m),
        30_000,
      );
      const url = /at (http:\/\/127\.0\.0\.1:\d+)$/m.exec(serve.lines.join('\n'))![1]!;

      const n = Math.min(lastFlushed(writer), 9_999);
      const labels = encodeURIComponent(JSON.stringify({ host: 'a' }));
      const res = await fetch(
        `${url}/api/history?metric=cpu.usage&labels=${labels}&from=${base}&to=${base + n * 1000}&points=10000`,
      );
      expect(res.status).toBe(200);
      const history = (await res.json()) as { series: { points: number[][] }[] };
      expect(history.series[0]!.points).toEqual(Array.from({ length: n + 1 }, (_, i) => [base + i * 1000, i % 100]));

      const page = await fetch(`${url}/`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('<html');
      expect((await fetch(`${url}/assets/app.js`)).status).toBe(200);
      const dashboards = (await (await fetch(`${url}/api/dashboards`)).json()) as {
        name: string;
        charts: { title: string }[];
      }[];
      expect(dashboards.map((d) => d.name)).toEqual(expect.arrayContaining(['cli', 'store']));
      // The "store" dashboard charts every metric the writer stored, and its history is the writer's.
      expect(dashboards.find((d) => d.name === 'store')!.charts.map((c) => c.title)).toEqual([
        'cpu.usage',
        'http.latency',
        'requests.total',
      ]);
      const stored = (await (
        await fetch(`${url}/api/history?dashboard=store&from=${base}&to=${base + n * 1000}&points=10000`)
      ).json()) as {
        series: { chart: string; label: string; points: number[][] }[];
      };
      expect(stored.series.find((s) => s.label === 'host=a')!.points).toEqual(
        Array.from({ length: n + 1 }, (_, i) => [base + i * 1000, i % 100]),
      );
      // requests.total goes up by 1 per flush, 1 s apart: a rate of 1/s throughout.
      const rates = stored.series.find((s) => s.label === 'requests.total')!.points;
      expect(rates.length).toBe(n);
      for (const [, rate] of rates) expect(rate).toBe(1);

      // Live: /api/realtime shows the newest committed value, which moves as the writer flushes.
      const seen = new Set<number>();
      await until(async () => {
        const live = (await (await fetch(`${url}/api/realtime?dashboard=cli`)).json()) as {
          charts: { cpu: { cpu: [number, number | null] } };
        };
        const value = live.charts.cpu.cpu[1];
        if (value !== null) seen.add(value);
        expect(
          seen.size,
          `live values seen: ${[...seen].join(', ')}; writer stderr: ${writer.stderr()}`,
        ).toBeGreaterThanOrEqual(3);
      }, 60_000);
      for (const value of seen) expect(Number.isInteger(value) && value >= 0 && value < 100).toBe(true);
      expect(lastFlushed(writer)).toBeGreaterThan(n); // the writer kept writing meanwhile

      serve.proc.kill('SIGTERM');
      expect(await serve.exited, serve.stderr()).toBe(0);
    } finally {
      serve.proc.kill('SIGKILL');
    }
  }, 120_000);

  it('exits 0 without a stack trace when its reader closes the pipe (| head)', async () => {
    const child = spawnChild(BIN, ['query', dataDir, 'cpu.usage{host="a"}', '--from', String(base)], 60_000);
    child.proc.stdout.destroy();
    expect(await child.exited).toBe(0);
    expect(child.stderr()).toBe('');
  });

  it('inspect says no writer once the writer has stopped', async () => {
    writer.proc.stdin.end('stop\n');
    expect(await writer.exited, writer.stderr()).toBe(0);
    const after = await runBin(['inspect', dataDir, '--json']);
    expect(after.code, after.stderr).toBe(0);
    expect((JSON.parse(after.stdout) as { writer: { alive: unknown } }).writer.alive).toBe(false);
  });
});

describe('erlmcp-monitor on wrong paths', () => {
  let work: string;
  beforeAll(() => {
    assertBuilt();
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'emon-cli-paths-'));
  });
  afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

  it('refuses a missing directory (creating nothing), a file, and a directory that is not a store, exit 1', async () => {
    const missing = path.join(work, 'nope');
    const a = await runBin(['inspect', missing]);
    expect([a.code, a.stderr]).toEqual([
      1,
      `erlmcp-monitor inspect: ${missing} does not exist: give the data dir of the application (monitoring.data_dir; default ./.erlmcp-monitor in the directory it runs in)\n`,
    ]);
    expect(fs.existsSync(missing)).toBe(false);

    const file = path.join(work, 'file');
    fs.writeFileSync(file, 'x');
    const b = await runBin(['query', file, 'x']);
    expect(b.code).toBe(1);
    expect(b.stderr).toContain(`${file} is not a directory`);

    const empty = path.join(work, 'empty');
    fs.mkdirSync(empty);
    const c = await runBin(['serve', empty, '--port', '0']);
    expect(c.code).toBe(1);
    expect(c.stderr).toContain(`${empty} is not a metric store (it has no data.mdb)`);
    expect(fs.readdirSync(empty)).toEqual([]);
  });

  it('serve: a port in use, and a non-loopback host without a token, are exit 1 with the reason; the store is left as it was', async () => {
    const dir = path.join(work, 'serve-store');
    const store = MetricStore.open({ dataDir: dir });
    store.defineSeries('a', { name: 'a', type: 'gauge' });
    await store.close();
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = blocker.address() as AddressInfo;
      const inUse = await runBin(['serve', dir, '--port', String(port)]);
      expect(inUse.code).toBe(1);
      expect(inUse.stderr).toMatch(
        new RegExp(`^erlmcp-monitor serve: the dashboard cannot listen on 127\\.0\\.0\\.1:${port}`),
      );
      expect(inUse.stderr).not.toMatch(/\n\s+at /);
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
    const open = await runBin(['serve', dir, '--host', '0.0.0.0', '--port', '0']);
    expect(open.code).toBe(1);
    expect(open.stderr).toContain('auth_token');
    const check = MetricStore.open({ dataDir: dir, readOnly: true });
    try {
      expect(check.seriesDefs().map((d) => d.key)).toEqual(['a']);
    } finally {
      await check.close();
    }
  });

  it("refuses a damaged store through the store's own check, without crashing", async () => {
    const damaged = path.join(work, 'damaged');
    fs.mkdirSync(damaged);
    fs.writeFileSync(path.join(damaged, 'data.mdb'), Buffer.alloc(8192, 7));
    const r = await runBin(['inspect', damaged]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`the metric store at ${damaged} is damaged: it is not an LMDB data file`);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('refuses a store of another layout, naming the layout and what to do', async () => {
    const other = path.join(work, 'other-layout');
    const store = MetricStore.open({ dataDir: other });
    store.defineSeries('a', { name: 'a', type: 'gauge' });
    await store.close();
    const env = open({ path: other, maxDbs: 64, useRecords: false, noSubdir: false } as Parameters<typeof open>[0]);
    await env.openDB({ name: 'meta' } as never).put('layout', 99);
    await env.close();
    for (const args of [
      ['inspect', other],
      ['query', other, 'a'],
    ]) {
      const r = await runBin(args);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(
        new RegExp(
          `^erlmcp-monitor ${args[0]}: ${other.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} holds metric store layout 99; this version reads only layout \\d`,
        ),
      );
    }
  });
});

describe('the writer probe', () => {
  afterEach(killChildren);

  it('never makes a writer that starts meanwhile fail: 30 opens while it probes without pause', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'emon-cli-probe-'));
    try {
      const child = spawnChild(fixture('open-close.mjs'), [dir, '30'], 120_000);
      let probes = 0;
      let exited = false;
      void child.exited.then(() => (exited = true));
      while (!exited) {
        probeWriter(dir);
        probes++;
        await new Promise((resolve) => setImmediate(resolve));
      }
      expect(child.lines, child.stderr()).toEqual(['ok']);
      expect(probes).toBeGreaterThan(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 150_000);
});
