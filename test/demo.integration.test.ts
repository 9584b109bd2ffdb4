/**
 * `npm start` stays true: the built demo starts, serves real measurements of its loopback load on
 * /metrics, and stops cleanly on SIGINT (last flush written, process exits 0).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { MetricStore } from '../src/store/lmdb-store.js';
import { until } from './helpers.js';

describe('the demo (npm start)', () => {
  it('serves measured metrics for its loopback load and stops cleanly on SIGINT', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'erlmcp-demo-test-'));
    const main = fileURLToPath(new URL('../dist/src/demo/main.js', import.meta.url));
    const child = spawn(process.execPath, [main], {
      env: { ...process.env, ERLMCP_DATA_DIR: dataDir, ERLMCP_DASHBOARD_PORT: '0', DEMO_LOAD_SECONDS: '60' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const bound = setTimeout(() => child.kill('SIGKILL'), 60_000);
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<[number | null, string | null]>((resolve) =>
      child.on('exit', (c, s) => resolve([c, s])),
    );
    try {
      await until(() => expect(out).toMatch(/metrics\s+http:\/\/127\.0\.0\.1:\d+\/metrics/), 20_000);
      const url = /metrics\s+(http:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(out)![1]!;
      let text = '';
      await until(async () => {
        text = await (await fetch(url)).text();
        expect(text).toMatch(
          /^http_server_requests_total\{server="demo",method="GET",route="\/api\/items",code="200"\} \d+$/m,
        );
        expect(text).toMatch(
          /^http_server_errors_total\{server="demo",method="GET",route="\/api\/flaky",code="503"\} \d+$/m,
        );
        expect(text).toMatch(
          /^http_server_duration_seconds_count\{server="demo",method="GET",route="\/api\/slow"\} \d+$/m,
        );
        expect(text).toMatch(
          /^http_server_requests_total\{server="demo",method="GET",route="unmatched",code="404"\} \d+$/m,
        );
        // CPU % is a delta of two readings: the series exists from the second collection on.
        expect(text).toMatch(/^system_cpu_percent \d/m);
        expect(text).toMatch(/^http_server_sent_bytes_total\{server="demo"\} [1-9]\d*$/m);
      }, 30_000);
      child.kill('SIGINT');
      const [code, signal] = await exited;
      expect(out).toMatch(/stopped cleanly/);
      expect({ code, signal }).toEqual({ code: 0, signal: null });
      const store = MetricStore.open({ dataDir, readOnly: true });
      try {
        const id = store.seriesId('http.server.requests{server="demo",method="GET",route="/api/items",code="200"}');
        expect(id).toBeDefined();
        expect(store.latest(id!)![1]).toBeGreaterThan(0);
      } finally {
        await store.close();
      }
    } finally {
      clearTimeout(bound);
      child.kill('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
