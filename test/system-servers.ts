/**
 * Real Prometheus and Alertmanager servers (Debian's binaries) for tests: each on 127.0.0.1, a free
 * port and a temporary data dir, ready when its `/-/ready` answers, and stopped (SIGTERM, then
 * SIGKILL after 5 s) with its dir removed.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const PROMETHEUS_BIN = '/usr/bin/prometheus';
export const PROMTOOL_BIN = '/usr/bin/promtool';
export const ALERTMANAGER_BIN = '/usr/bin/prometheus-alertmanager';

/** A port free right now on 127.0.0.1 (the OS picks it; it is released before returning). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface RunningServer {
  readonly url: string;
  readonly dir: string;
  /** What the server wrote, for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

async function waitReady(url: string, proc: ChildProcess, output: () => string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`server exited before ready: ${output()}`);
    try {
      const res = await fetch(`${url}/-/ready`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`server at ${url} not ready within ${timeoutMs} ms: ${output()}`);
}

async function run(
  bin: string,
  args: (dir: string, port: number) => string[],
  setup: (dir: string) => void,
): Promise<RunningServer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'emon-sys-'));
  setup(dir);
  const port = await freePort();
  const proc = spawn(bin, args(dir, port), { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (chunk: Buffer) => {
    out = (out + chunk.toString('utf8')).slice(-20_000);
  };
  proc.stdout.on('data', keep);
  proc.stderr.on('data', keep);
  const closed = new Promise<void>((resolve) => proc.once('close', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM');
      const killer = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await closed;
      clearTimeout(killer);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitReady(url, proc, () => out, 20_000);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, dir, output: () => out, stop };
}

/**
 * Starts Prometheus scraping `targets` (host:port) every second, optionally with the remote-write
 * receiver on.
 */
export function startPrometheus(
  options: { targets?: string[]; remoteWriteReceiver?: boolean } = {},
): Promise<RunningServer> {
  return run(
    PROMETHEUS_BIN,
    (dir, port) => [
      `--config.file=${path.join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      ...(options.remoteWriteReceiver ? ['--web.enable-remote-write-receiver'] : []),
    ],
    (dir) => {
      const scrape =
        options.targets === undefined || options.targets.length === 0
          ? ''
          : `scrape_configs:\n  - job_name: emon\n    scrape_interval: 1s\n    scrape_timeout: 900ms\n    static_configs:\n      - targets: [${options.targets.map((t) => `'${t}'`).join(', ')}]\n`;
      fs.writeFileSync(
        path.join(dir, 'prometheus.yml'),
        `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n${scrape}`,
      );
    },
  );
}

/**
 * Starts a single Alertmanager with a receiver that sends nowhere; `extraConfig` (YAML, e.g.
 * `inhibit_rules:`) is appended to its config.
 */
export function startAlertmanager(extraConfig = ''): Promise<RunningServer> {
  return run(
    ALERTMANAGER_BIN,
    (dir, port) => [
      `--config.file=${path.join(dir, 'alertmanager.yml')}`,
      `--storage.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      // No HA peers: the cluster listener would otherwise bind 0.0.0.0:9094.
      '--cluster.listen-address=',
    ],
    (dir) => {
      fs.writeFileSync(
        path.join(dir, 'alertmanager.yml'),
        `route:\n  receiver: none\n  group_wait: 1s\n  group_interval: 1s\n  repeat_interval: 1h\nreceivers:\n  - name: none\n${extraConfig}`,
      );
    },
  );
}

/** Runs a PromQL instant query; returns the result vector. */
export async function promQuery(
  prometheusUrl: string,
  query: string,
): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  const res = await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(query)}`);
  const body = (await res.json()) as {
    status: string;
    data?: { result: { metric: Record<string, string>; value: [number, string] }[] };
    error?: string;
  };
  if (body.status !== 'success') throw new Error(`query ${query} failed: ${body.error}`);
  return body.data!.result;
}
