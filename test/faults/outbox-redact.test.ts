/**
 * Found by the SIGKILL durability suite: `startMonitoring` hands the outbox
 * `channelRedactor(config.alerting).redact` as a plain function, and the first failed delivery
 * (a webhook answering 503) killed the host process: `redact` read `#needles` of the outbox
 * ("Cannot read private member #needles"), and it threw inside the delivery loop's own error
 * handler, so the rejection was unhandled. Both halves are covered here.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { channelRedactor } from '../../src/notify/create-channels.js';
import { Outbox, type OutboxRecord } from '../../src/notify/outbox.js';
import { Redactor } from '../../src/notify/redact.js';
import { loadConfig } from '../../src/config/index.js';
import { memoryLogger, until } from '../helpers.js';
import { makeNotification, ScriptedChannel } from '../notify/notify-fixture.js';
import { tempStores } from '../store/store-fixture.js';

let stores: ReturnType<typeof tempStores>;
let outboxes: Outbox[];

beforeEach(() => {
  stores = tempStores();
  outboxes = [];
});

afterEach(async () => {
  for (const outbox of outboxes.splice(0)) await outbox.close();
  await stores.cleanup();
});

const FAST = { initialMs: 2, maxMs: 4, jitter: 0 };

describe('outbox error redaction', () => {
  it('a Redactor redacts when its redact is passed on detached', () => {
    const { redact } = new Redactor(['hunter2-secret']);
    expect(redact('failed at https://h/hunter2-secret?x')).toBe('failed at https://h/[redacted]?x');
    const { redact: fromConfig } = channelRedactor(
      loadConfig({ env: {}, overrides: { alerting: { channels: { webhook: { enabled: true, url: 'https://hooks.example.com/T0/sekret-path' } } } } }).alerting,
    );
    expect(fromConfig('POST https://hooks.example.com/T0/sekret-path: 503')).toBe('POST [redacted]: 503');
  });

  it('a failed delivery is recorded with the redacted error when the redactor is handed over as startMonitoring does', async () => {
    const store = stores.open();
    const webhook = new ScriptedChannel('webhook', ['fail']);
    const redactor = new Redactor(['answered']);
    const outbox = Outbox.open({ store, channels: [webhook], logger: memoryLogger(), backoff: FAST, redact: redactor.redact });
    outboxes.push(outbox);
    const n = makeNotification();
    await outbox.enqueue(n, ['webhook']);
    await until(() => expect(webhook.accepted).toEqual([n.id]));
    expect(webhook.calls).toHaveLength(2);
  });

  it('a redact option that throws costs the error text, never the host: the delivery is retried and the text withheld', async () => {
    const store = stores.open();
    const webhook = new ScriptedChannel('webhook', ['fail', 'hang']);
    const logger = memoryLogger();
    const outbox = Outbox.open({
      store,
      channels: [webhook],
      logger,
      backoff: FAST,
      redact: () => {
        throw new Error('redactor bug');
      },
    });
    outboxes.push(outbox);
    const n = makeNotification();
    await outbox.enqueue(n, ['webhook']);
    await until(() => expect(webhook.calls).toHaveLength(2));
    const record = store.records<OutboxRecord>('outbox').get([n.id, 'webhook']);
    expect(record).toMatchObject({ attempts: 1, lastError: '[error text withheld: the redact option threw Error]' });
    expect(JSON.stringify(logger.records)).not.toContain('answered 500');
    webhook.release();
    await until(() => expect(outbox.pending()).toBe(0));
  });
});
