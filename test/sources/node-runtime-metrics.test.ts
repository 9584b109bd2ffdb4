import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import client from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { renderPrometheusText } from '../../src/exposition/prometheus-text.js';
import { ProcessSource } from '../../src/sources/process-source.js';
import { until } from '../helpers.js';
import { newRegistry } from '../metrics/table-fixture.js';

let source: ProcessSource | undefined;
let promRegistry: client.Registry | undefined;
afterEach(() => {
  source?.stop();
  promRegistry?.clear();
  source = promRegistry = undefined;
});

/**
 * Family name → TYPE of a text exposition, for families with at least one sample (prom-client
 * prints the header of an empty family, e.g. nodejs_active_requests with no request in flight;
 * this library prints a family once it has a series).
 */
function families(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)\n(?=[a-zA-Z_:])/gm)) out.set(m[1]!, m[2]!);
  return out;
}

function sample(text: string, name: string, labels = ''): number | undefined {
  const escaped = `${name}${labels}`.replace(/[{}"()[\].*+?^$|\\]/g, '\\$&');
  const m = new RegExp(`^${escaped} (\\S+)$`, 'm').exec(text);
  return m === null ? undefined : Number(m[1]);
}

describe('NodeRuntimeMetrics', () => {
  it("exposes every family of prom-client's collectDefaultMetrics() under the same name and TYPE", async () => {
    const { registry } = newRegistry();
    source = new ProcessSource(registry);
    source.start();
    promRegistry = new client.Registry();
    client.collectDefaultMetrics({ register: promRegistry });
    // A GC of each process: both observe the same PerformanceObserver stream.
    const garbage: unknown[] = [];
    for (let i = 0; i < 200_000; i++) garbage.push({ i });
    garbage.length = 0;
    await sleep(50);
    source.collect();
    await sleep(50); // the setImmediate lag reading lands after the collection
    source.collect();
    const ours = families(await renderPrometheusText(registry));
    const theirs = families(await promRegistry.metrics());
    expect(theirs.size).toBeGreaterThan(20);
    const missing = [...theirs]
      .filter(([name, type]) => ours.get(name) !== type)
      .map(([name, type]) => `${name} (${type}; ours: ${ours.get(name) ?? 'absent'})`);
    expect(missing).toEqual([]);
  });

  it('measures the values for real: CPU counters, RSS, fds, start time, version, heap spaces', async () => {
    const { registry } = newRegistry();
    source = new ProcessSource(registry);
    const cpu0 = process.cpuUsage();
    source.start();
    source.collect();
    const cpu1 = process.cpuUsage();
    const text = await renderPrometheusText(registry);
    // Counted from process start, between two readings taken around the collection.
    const total = sample(text, 'process_cpu_seconds_total')!;
    expect(total).toBeGreaterThanOrEqual((cpu0.user + cpu0.system) / 1e6);
    expect(total).toBeLessThanOrEqual((cpu1.user + cpu1.system) / 1e6);
    expect(
      sample(text, 'process_cpu_user_seconds_total')! + sample(text, 'process_cpu_system_seconds_total')!,
    ).toBeCloseTo(total, 9);
    const rss = sample(text, 'process_resident_memory_bytes')!;
    expect(rss).toBe(sample(text, 'system_memory_bytes'));
    expect(sample(text, 'process_virtual_memory_bytes')!).toBeGreaterThan(rss);
    expect(sample(text, 'process_open_fds')!).toBeGreaterThan(2);
    expect(sample(text, 'process_max_fds')!).toBeGreaterThanOrEqual(sample(text, 'process_open_fds')!);
    const start = sample(text, 'process_start_time_seconds')!;
    expect(Math.abs(start - (Date.now() - process.uptime() * 1000) / 1000)).toBeLessThan(2);
    const [major, minor, patch] = process.version.slice(1).split('.');
    expect(
      sample(
        text,
        'nodejs_version_info',
        `{version="${process.version}",major="${major}",minor="${minor}",patch="${patch}"}`,
      ),
    ).toBe(1);
    expect(sample(text, 'nodejs_heap_space_size_used_bytes', '{space="old"}')!).toBeGreaterThan(0);
    expect(sample(text, 'nodejs_heap_size_used_bytes')).toBe(sample(text, 'system_memory_heap_used_bytes'));
    expect(sample(text, 'nodejs_active_resources_total')).toBe(sample(text, 'system_processes'));
  });

  it('counts only the CPU used since the last collection into the counters (no double counting)', async () => {
    const { registry } = newRegistry();
    source = new ProcessSource(registry);
    source.start();
    source.collect();
    const first = registry.counter('process.cpu', { unit: 'seconds' }).get()!;
    const before = process.cpuUsage();
    const end = performance.now() + 200;
    while (performance.now() < end) {
      // bounded busy loop
    }
    source.collect();
    const used = process.cpuUsage(before);
    const grown = registry.counter('process.cpu', { unit: 'seconds' }).get()! - first;
    expect(grown).toBeGreaterThanOrEqual(((used.user + used.system) / 1e6) * 0.5);
    expect(grown).toBeLessThan((used.user + used.system) / 1e6 + 0.1);
  });

  it('reads the event-loop lag as the wait of a callback queued at collection time', async () => {
    const { registry } = newRegistry();
    source = new ProcessSource(registry);
    source.start();
    source.collect();
    // The queued callback cannot run before this block ends: its wait is at least 60 ms.
    const end = performance.now() + 60;
    while (performance.now() < end) {
      // bounded busy loop
    }
    await new Promise((resolve) => setImmediate(resolve));
    expect(sample(await renderPrometheusText(registry), 'nodejs_eventloop_lag_seconds')!).toBeGreaterThanOrEqual(0.06);
  });

  it('counts handles by class, and a class that is gone reads 0 rather than its last count', async () => {
    const { registry } = newRegistry();
    source = new ProcessSource(registry);
    source.start();
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const before = process as unknown as { _getActiveHandles(): unknown[] };
    const servers = before._getActiveHandles().filter((h) => h instanceof net.Server).length;
    source.collect();
    expect(sample(await renderPrometheusText(registry), 'nodejs_active_handles', '{type="Server"}')).toBe(servers);
    await new Promise((resolve) => server.close(resolve));
    // libuv lets go of the closed handle a little after the close callback.
    await until(() =>
      expect(before._getActiveHandles().filter((h) => h instanceof net.Server)).toHaveLength(servers - 1),
    );
    source.collect();
    expect(sample(await renderPrometheusText(registry), 'nodejs_active_handles', '{type="Server"}')).toBe(servers - 1);
  });
});
