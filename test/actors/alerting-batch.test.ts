import { describe, expect, it } from 'vitest';
import { alerting, type AlertingArgs } from '../../actors/alerting.js';
import { AlertStore } from '../../src/alerts/alert-store.js';
import { alertingClient } from '../../actors/alerting-client.js';
import { ErrorCode, MonitorError } from '../../src/errors.js';
import { DerivedValues } from '../../src/metrics/derived-values.js';
import { OtpSystem, startServer } from '../../src/otp/index.js';
import type { MetricStore } from '../../src/store/lmdb-store.js';
import { alertingConfig, onCleanup, openStore, RecordingOutbox, tempDir } from '../alerts/alerting-fixture.js';
import { memoryLogger } from '../helpers.js';
import { newRegistry } from '../metrics/table-fixture.js';

async function start(store: MetricStore, limits: Record<string, number> = {}) {
  const system = new OtpSystem({ logger: memoryLogger() });
  onCleanup(() => system.close());
  const outbox = new RecordingOutbox();
  const args: AlertingArgs = {
    registry: newRegistry().registry,
    store,
    config: alertingConfig({ alert_limits: limits }),
    derived: new DerivedValues(),
    outbox,
  };
  const pid = await startServer(system, alerting, args);
  onCleanup(() => pid.stop('shutdown', 1000).then(() => undefined));
  return { pid, client: alertingClient(pid), outbox };
}

describe('alerting actor: send_alert batches', () => {
  it('answers every caller of a burst with its own alert once the burst is durable, and refuses past the limit at once', async () => {
    const dir = tempDir();
    const store = openStore(dir);
    const { client, outbox } = await start(store, { manual: 300 });
    const outcomes = await Promise.allSettled(
      Array.from({ length: 320 }, (_, i) => client.sendAlert('critical', `burst ${i}`)),
    );
    const raised = outcomes.slice(0, 300).map((o, i) => {
      expect(o).toMatchObject({ status: 'fulfilled', value: { message: `burst ${i}` } });
      return (o as PromiseFulfilledResult<{ id: string }>).value.id;
    });
    for (const o of outcomes.slice(300))
      expect(o).toMatchObject({ status: 'rejected', reason: { code: ErrorCode.AlertLimit } });
    const stored = new AlertStore(store).load().alerts;
    expect(new Set(stored.map((a) => a.id))).toEqual(new Set(raised));
    // The next call runs after the batch's commit pass, notifications included.
    expect(await client.getActiveAlerts()).toHaveLength(300);
    expect(new Set(outbox.queued.map((q) => q.notification.id))).toEqual(new Set(raised.map((id) => `${id}:firing`)));
  });

  it('rejects every caller of a batch whose commit fails, and keeps none of its alerts', async () => {
    const dir = tempDir();
    const store = openStore(dir);
    const { client, pid } = await start(store);
    const calls = Array.from({ length: 50 }, (_, i) => client.sendAlert('info', `lost ${i}`).catch((e: unknown) => e));
    // Closed before the alerting process handles the first call, so the batch's commit fails.
    await store.close();
    for (const err of await Promise.all(calls)) {
      expect(err).toBeInstanceOf(MonitorError);
      expect([ErrorCode.StoreFailed, ErrorCode.ServerExited]).toContain((err as MonitorError).code);
    }
    expect(typeof (await pid.exited)).toBe('object');
    const reopened = openStore(dir);
    expect(new AlertStore(reopened).load().alerts).toEqual([]);
  });
});
