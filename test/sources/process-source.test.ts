import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { LOOP_DELAY_RESOLUTION_MS, memoryLimit, ProcessSource } from '../../src/sources/process-source.js';
import { newRegistry } from '../metrics/table-fixture.js';

let source: ProcessSource | undefined;
afterEach(() => source?.stop());

function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // bounded busy loop
  }
}

describe('ProcessSource', () => {
  it('measures CPU: it reads what the process really used, rises under a busy loop and falls after', async () => {
    const { registry } = newRegistry();
    source = new ProcessSource(registry);
    // Ground truth around the same span, so the check holds however loaded the machine is.
    const wall0 = process.hrtime.bigint();
    const cpu0 = process.cpuUsage();
    source.start();
    busy(300);
    source.collect();
    const used = process.cpuUsage(cpu0);
    const trueCores = (used.user + used.system) / 1000 / (Number(process.hrtime.bigint() - wall0) / 1e6);
    const busyCores = registry.gauge('system.cpu.cores').get()!;
    const busyPercent = registry.gauge('system.cpu').get()!;
    await sleep(300); // idle: this process does nothing while waiting
    source.collect();
    const idleCores = registry.gauge('system.cpu.cores').get()!;
    expect(trueCores).toBeGreaterThan(0.1); // the busy loop got some CPU at all
    expect(Math.abs(busyCores - trueCores)).toBeLessThan(0.05 + 0.2 * trueCores);
    expect(busyPercent).toBeCloseTo((busyCores / os.availableParallelism()) * 100, 0);
    expect(busyPercent).toBeLessThanOrEqual(100);
    expect(idleCores).toBeLessThan(busyCores / 2);
  });

  it('has no CPU, memory or event-loop series before its first collection (no data, not 0)', () => {
    const { registry } = newRegistry();
    source = new ProcessSource(registry);
    source.start();
    for (const name of [
      'system.cpu',
      'system.cpu.cores',
      'system.memory',
      'system.memory.percent',
      'system.memory.heap_used',
      'system.event_loop.utilization',
    ]) {
      expect(registry.get(name)?.series(), name).toEqual([]);
    }
    expect(registry.get('system.event_loop.delay')?.series()).toEqual([]);
    // The limit is known from the start.
    expect(registry.gauge('system.memory.limit').get()).toBe(memoryLimit());
    source.collect();
    expect(registry.gauge('system.memory').get()).toBeGreaterThan(0);
    expect(registry.gauge('system.cpu').get()).toBeGreaterThanOrEqual(0);
  });

  it('measures memory against the real limit, and the event loop', async () => {
    const { registry } = newRegistry();
    source = new ProcessSource(registry);
    source.start();
    await sleep(3 * LOOP_DELAY_RESOLUTION_MS); // let the delay monitor take its first samples
    busy(60); // an event-loop block it must see
    await sleep(3 * LOOP_DELAY_RESOLUTION_MS);
    source.collect();
    const rss = registry.gauge('system.memory').get()!;
    expect(rss).toBeGreaterThan(10 * 2 ** 20);
    expect(rss).toBeLessThan(memoryLimit());
    expect(registry.gauge('system.memory.limit').get()).toBe(memoryLimit());
    expect(registry.gauge('system.memory.percent').get()).toBeCloseTo((rss / memoryLimit()) * 100, 5);
    expect(registry.gauge('system.memory.heap_used').get()).toBeGreaterThan(0);
    expect(registry.gauge('system.processes').get()).toBe(process.getActiveResourcesInfo().length);
    const delay = registry.gauge('system.event_loop.delay', { labels: ['percentile'] });
    expect(delay.get({ percentile: 'max' })).toBeGreaterThan(30);
    expect(delay.get({ percentile: 'p50' })).toBeLessThan(delay.get({ percentile: 'max' })!);
    const elu = registry.gauge('system.event_loop.utilization').get()!;
    expect(elu).toBeGreaterThan(0);
    expect(elu).toBeLessThanOrEqual(1);
  });
});
