/**
 * Mail threading, end to end: the notifications the alert engine queues for one alert (firing,
 * a re-notify, the resolution, with the engine's own ids) sent through the email channel to a
 * local SMTP server. The raw headers must thread every later mail to the first, and the subject
 * must name the severity once.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { AlertEngine } from '../../src/alerts/alert-engine.js';
import { AlertStore } from '../../src/alerts/alert-store.js';
import { DerivedValues } from '../../src/metrics/derived-values.js';
import { EmailChannel } from '../../src/notify/email-channel.js';
import { alertingConfig, openStore, RecordingOutbox, tempDir } from '../alerts/alerting-fixture.js';
import { memoryLogger } from '../helpers.js';
import { newRegistry } from '../metrics/table-fixture.js';
import { startSmtp } from './smtp-fixture.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** The value of header `name` in a raw message (unfolded), or undefined. */
function rawHeader(raw: string, name: string): string | undefined {
  const head = raw.slice(0, raw.indexOf('\r\n\r\n')).replace(/\r\n[ \t]+/g, ' ');
  const line = head.split('\r\n').find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`));
  return line?.slice(name.length + 1).trim();
}

describe('email threading', () => {
  it('re-notified and resolved mails reply to the first mail of the alert; one severity in every subject', async () => {
    const dir = tempDir();
    const outbox = new RecordingOutbox();
    const { registry } = newRegistry();
    const open = (store: ReturnType<typeof openStore>, now: number) =>
      AlertEngine.open(
        {
          registry,
          derived: new DerivedValues(),
          config: alertingConfig({ suppression_enabled: false }),
          store: new AlertStore(store),
          outbox,
          log: memoryLogger(),
          dashboardUrl: 'http://127.0.0.1:8080',
        },
        [],
        now,
      );
    const store = openStore(dir);
    const engine = await open(store, 1_000_000);
    const alert = await engine.sendAlert('critical', 'database unreachable', undefined, 1_000_000);
    await engine.tick(1_060_000);
    // A restart between the re-notify and the resolution: the ids come from the persisted alert.
    await store.close();
    const reopened = await open(openStore(dir), 1_061_000);
    await reopened.clearAlert(alert.id, 1_062_000);
    const queued = outbox.queued.filter((q) => q.channels.includes('email')).map((q) => q.notification);
    expect(queued.map((n) => n.reason)).toEqual(['firing', 'renotify', 'resolved']);

    const smtp = await startSmtp();
    cleanups.push(() => smtp.close());
    const email = new EmailChannel({
      host: '127.0.0.1',
      port: smtp.port,
      from: 'alerts@erlmcp.test',
      to: ['ops@example.com'],
      timeoutMs: 5000,
    });
    cleanups.push(() => email.close());
    for (const n of queued) await email.send(n);

    const raws = smtp.mails.map((m) => m.raw);
    expect(raws).toHaveLength(3);
    const first = rawHeader(raws[0]!, 'Message-ID');
    expect(first).toMatch(/^<[^<>\s]+@erlmcp\.test>$/);
    expect(rawHeader(raws[0]!, 'In-Reply-To')).toBeUndefined();
    expect(rawHeader(raws[0]!, 'References')).toBeUndefined();
    for (const raw of raws.slice(1)) {
      expect(rawHeader(raw, 'Message-ID')).not.toBe(first);
      expect(rawHeader(raw, 'In-Reply-To')).toBe(first);
      expect(rawHeader(raw, 'References')).toBe(first);
    }
    expect(raws.map((raw) => rawHeader(raw, 'Subject'))).toEqual([
      '[CRITICAL] database unreachable',
      '[CRITICAL] database unreachable (still firing)',
      '[RESOLVED] database unreachable',
    ]);
  }, 30_000);
});
