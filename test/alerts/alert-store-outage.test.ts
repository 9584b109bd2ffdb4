import { describe, expect, it } from 'vitest';
import type { Alert } from '../../src/alerts/alert.js';
import { AlertStore } from '../../src/alerts/alert-store.js';
import { ErrorCode, MonitorError } from '../../src/errors.js';
import type { MetricStore } from '../../src/store/lmdb-store.js';
import { type RecordKey, RecordWriteFailed } from '../../src/store/record-db.js';
import { WRITE_FAILURES_METRIC, WriteOutage } from '../../src/store/write-outage.js';
import { memoryLogger } from '../helpers.js';
import { newRegistry } from '../metrics/table-fixture.js';

/** Record collections in memory whose writes fail like a full disk (or a closed store) on demand. */
function fakeStore() {
  const data = new Map<string, Map<RecordKey, unknown>>();
  const disk = { mode: 'ok' as 'ok' | 'full' | 'closed', attempts: 0 };
  const write = (name: string, apply: () => void): Promise<void> => {
    disk.attempts++;
    if (disk.mode === 'closed')
      return Promise.reject(new MonitorError(ErrorCode.StoreFailed, `${name}.put: the metric store is closed`));
    if (disk.mode === 'full')
      return Promise.reject(
        new RecordWriteFailed(
          `${name}.put: the commit failed: No space left on device`,
          new Error('No space left on device'),
        ),
      );
    apply();
    return Promise.resolve();
  };
  const store = {
    records(name: string) {
      const records = data.get(name) ?? new Map<RecordKey, unknown>();
      data.set(name, records);
      return {
        put: (key: RecordKey, value: unknown) => write(name, () => records.set(key, structuredClone(value))),
        remove: (key: RecordKey) => write(name, () => records.delete(key)),
        range: () => [...records],
      };
    },
  } as unknown as MetricStore;
  return { store, data, disk };
}

function setup() {
  const { store, data, disk } = fakeStore();
  const { registry } = newRegistry();
  const log = memoryLogger();
  const clock = { now: 0 };
  const outage = new WriteOutage({
    registry,
    log,
    what: 'alert records',
    now: () => clock.now,
    retryMs: 100,
    maxRetryMs: 400,
  });
  const alerts = new AlertStore(store, outage);
  const failures = () => registry.getMetric(WRITE_FAILURES_METRIC, { reason: 'ENOSPC' })?.value ?? 0;
  const lines = (prefix: string) => log.records.filter((r) => String(r.msg).startsWith(prefix)).length;
  return { alerts, data, disk, clock, outage, failures, lines };
}

const alert = (id: string, value: number): Alert => ({
  id,
  status: 'firing',
  value,
  fingerprint: id,
  severity: 'warning',
  title: id,
  message: `v=${value}`,
  source: 'rule:x',
  labels: {},
  annotations: {},
  startedAt: 0,
  lastSeenAt: 0,
  notifications: 0,
  channels: [],
});

describe('AlertStore on a failing store', () => {
  it('keeps failed records staged, backs off, counts and logs once, and writes the latest state when writes commit again', async () => {
    const { alerts, data, disk, clock, outage, failures, lines } = setup();
    const hot = alert('a1', 1);
    const gone = alert('a2', 1);
    disk.mode = 'full';
    alerts.saveAlert(hot);
    alerts.saveAlert(gone);
    await alerts.flush();
    expect(outage.failing).toBe(true);
    expect(failures()).toBe(1);
    expect(alerts.unwritten).toBe(2);

    // Changed while failing: nothing is tried before the backoff has passed.
    hot.value = 2;
    alerts.saveAlert(hot);
    alerts.removeAlert(gone.id);
    const attempts = disk.attempts;
    clock.now = 50;
    await alerts.flush();
    expect(disk.attempts).toBe(attempts);

    clock.now = 100;
    await alerts.flush();
    expect(disk.attempts).toBe(attempts + 2);
    expect(failures()).toBe(2);
    expect(lines('alert records: store writes are failing')).toBe(1);

    // Space returns: the next due flush writes the latest value, and the removal.
    disk.mode = 'ok';
    hot.value = 3;
    clock.now = 400;
    await alerts.flush();
    expect(outage.failing).toBe(false);
    expect(alerts.unwritten).toBe(0);
    expect(data.get('alerts')!.get('a1')).toMatchObject({ value: 3 });
    expect(data.get('alerts')!.has('a2')).toBe(false);
    expect(lines('alert records: store writes recovered')).toBe(1);
  });

  it('a forced flush tries at once despite the backoff', async () => {
    const { alerts, data, disk } = setup();
    disk.mode = 'full';
    alerts.saveAlert(alert('a1', 1));
    await alerts.flush();
    disk.mode = 'ok';
    await alerts.flush();
    expect(data.get('alerts')?.has('a1') ?? false).toBe(false);
    await alerts.flush(true);
    expect(data.get('alerts')!.has('a1')).toBe(true);
  });

  it('still throws when the store is closed (not a disk failure)', async () => {
    const { alerts, disk, failures } = setup();
    disk.mode = 'closed';
    alerts.saveAlert(alert('a1', 1));
    await expect(alerts.flush()).rejects.toMatchObject({ code: ErrorCode.StoreFailed });
    expect(() => failures()).toThrow(/unknown metric "monitor.store.write_failures"/);
  });
});
