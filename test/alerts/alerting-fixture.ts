import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach } from 'vitest';
import { alertingSchema, type AlertingConfig } from '../../src/config/schema.js';
import type { ChannelName, DeadLetter, Notification, OutboxPort } from '../../src/notify/types.js';
import { MetricStore } from '../../src/store/lmdb-store.js';

/** An OutboxPort that records what it is handed (deep copies), and can be told to fail. */
export class RecordingOutbox implements OutboxPort {
  readonly queued: { notification: Notification; channels: ChannelName[] }[] = [];
  readonly dead: DeadLetter[] = [];
  /** Enqueues to refuse before accepting again. */
  failures = 0;

  async enqueue(notification: Notification, channels: readonly ChannelName[]): Promise<void> {
    if (this.failures > 0) {
      this.failures--;
      throw new Error('outbox unavailable (test)');
    }
    this.queued.push({ notification: structuredClone(notification), channels: [...channels] });
  }

  pending(): number {
    return this.queued.length;
  }

  deadLetters(): DeadLetter[] {
    return this.dead;
  }

  /** `reason channels` per notification, e.g. `'firing email,sms,slack'`. */
  summary(): string[] {
    return this.queued.map((q) => `${q.notification.reason} ${q.channels.join(',')}`);
  }
}

/**
 * The alerting config with every channel enabled (valid loopback settings) and the source design's
 * re-notify intervals (60/300/600 s: short enough to step through; the defaults are 1 h / 4 h),
 * plus `overrides`.
 */
export function alertingConfig(overrides: Record<string, unknown> = {}): AlertingConfig {
  return alertingSchema.parse({
    escalation_policy: {
      critical: { channels: ['email', 'sms', 'slack'], interval: 60 },
      error: { channels: ['email', 'slack'], interval: 300 },
      warning: { channels: ['slack'], interval: 600 },
    },
    channels: {
      email: { enabled: true },
      slack: { enabled: true, webhook: 'http://127.0.0.1:9/slack' },
      sms: { enabled: true, to: ['+15551234567'], account_sid: 'AC-test', auth_token: 'token-test' },
      webhook: { enabled: true, url: 'http://127.0.0.1:9/hook' },
      alertmanager: { enabled: false },
    },
    ...overrides,
  });
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const clean of cleanups.splice(0).reverse()) await clean();
});

/** A temp data dir, removed after the test. */
export function tempDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'erlmcp-alerting-test-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Opens a store on `dir`, closed after the test unless closed before. */
export function openStore(dir: string): MetricStore {
  const store = MetricStore.open({ dataDir: dir });
  let closed = false;
  const close = store.close.bind(store);
  store.close = () => {
    closed = true;
    return close();
  };
  cleanups.push(() => (closed ? undefined : close()));
  return store;
}

/** Registers a cleanup to run after the test. */
export function onCleanup(clean: () => Promise<void> | void): void {
  cleanups.push(clean);
}
