/**
 * Notification faults through the WHOLE tree (`startMonitoring`): alerts raised with
 * `mon.alerting.sendAlert` and by a rule go through alerting and the LMDB outbox to a real SMTP
 * server and real HTTP receivers on 127.0.0.1, which refuse, time out, drop, rate-limit, fail,
 * answer too slowly and reset. Each case is bounded in time.
 *
 * Secrets in play: the SMTP password, the webhook URL's path token, query token and Basic-auth
 * password, and the Slack webhook path. Receivers echo what they got in their error answers.
 *
 * What "delivered once" means here: a receiver counts a notification id each time it PROCESSED a
 * message carrying it (SMTP `250`; HTTP 2xx, or a request it took and then answered too late or
 * reset). Delivery is at least once: when a receiver processed a message but the answer never
 * reached the outbox (an answer slower than the channel timeout, a reset after reading), the
 * outbox cannot know and sends it again. Those are the only duplicates allowed, each carries the
 * same id and an identical payload, so the receiver can drop it.
 *
 * Retry policy in force (installed by `fastOutbox`: `startMonitoring` has no option for it):
 * 25 ms doubling to a 200 ms cap, 20 % jitter; a `Retry-After` lengthens a wait but is capped at
 * 1500 ms (`maxRetryAfterMs`).
 */
import fc from 'fast-check';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import type { DeepPartial } from '../../src/config/index.js';
import type { AlertingConfig } from '../../src/config/schema.js';
import type { Monitor } from '../../src/index.js';
import { activeResources, leakedAfterSettling, until } from '../helpers.js';
import {
  type FaultReceiver,
  type FaultSmtp,
  fastOutbox,
  type HttpFault,
  type LoggedRetry,
  loggedRetries,
  logText,
  slackId,
  startFaultReceiver,
  startFaultSmtp,
  watchHost,
  webhookId,
} from './notification-faults-fixture.js';
import { runCleanups, startTree, type Tree } from './tree-fixture.js';

afterEach(runCleanups);

const POLICY = {
  backoff: { initialMs: 25, maxMs: 200, factor: 2, jitter: 0.2, maxRetryAfterMs: 1500 },
  maxAttempts: 40,
};
const { initialMs, maxMs, jitter, maxRetryAfterMs } = POLICY.backoff;

const SMTP_USER = 'alerts';
const SECRETS = {
  smtpPass: 'smtp-Pa55-SECRET-9',
  webhookToken: 'hookSECRETtoken42',
  webhookPass: 'hook-Basic-PASS-31',
  slackToken: 'slackSECRETtoken77',
};
const HOOK_USER = 'hookuser';
/** Every form a secret could leak in. */
const FORBIDDEN = [
  SECRETS.smtpPass,
  Buffer.from(`\u0000${SMTP_USER}\u0000${SECRETS.smtpPass}`).toString('base64'),
  Buffer.from(SECRETS.smtpPass).toString('base64'),
  SECRETS.webhookToken,
  SECRETS.webhookPass,
  Buffer.from(`${HOOK_USER}:${SECRETS.webhookPass}`).toString('base64'),
  SECRETS.slackToken,
];

/** Numbers for the report (printed with REPORT_NUMBERS=1). */
const numbers: Record<string, unknown> = {};
afterAll(() => {
  if (process.env.REPORT_NUMBERS === '1') console.log(JSON.stringify({ notificationFaults: numbers }, null, 1));
});

interface Channels {
  smtp?: FaultSmtp;
  hook?: FaultReceiver;
  slack?: FaultReceiver;
  /** Channel timeouts, ms. */
  timeoutMs: { email?: number; http?: number };
}

/** The alerting section: the given channels enabled, critical alerts routed to all of them, no re-notify. */
function alertingFor(c: Channels): DeepPartial<AlertingConfig> {
  const route = [...(c.smtp ? ['email'] : []), ...(c.slack ? ['slack'] : []), ...(c.hook ? ['webhook'] : [])] as (
    'email' | 'slack' | 'webhook'
  )[];
  return {
    channels: {
      ...(c.smtp && {
        email: {
          enabled: true,
          host: '127.0.0.1',
          port: c.smtp.port,
          from: 'alerts@erlmcp.test',
          to: ['ops@example.com'],
          user: SMTP_USER,
          pass: SECRETS.smtpPass,
          timeout: c.timeoutMs.email ?? 1000,
        },
      }),
      ...(c.slack && {
        slack: {
          enabled: true,
          webhook: `${c.slack.url}/services/T0/B0/${SECRETS.slackToken}`,
          timeout: c.timeoutMs.http ?? 1000,
        },
      }),
      ...(c.hook && {
        webhook: {
          enabled: true,
          url: `${c.hook.url.replace('//', `//${HOOK_USER}:${SECRETS.webhookPass}@`)}/hook/${SECRETS.webhookToken}?token=${SECRETS.webhookToken}`,
          timeout: c.timeoutMs.http ?? 1000,
        },
      }),
    },
    routing: { info: [], warning: route, error: route, critical: route },
    escalation_policy: {},
  };
}

async function treeWith(c: Channels, dataDir?: string): Promise<Tree> {
  return startTree({ ...(dataDir === undefined ? {} : { dataDir }), config: { alerting: alertingFor(c) } });
}

/**
 * Raises `apiAlerts` critical alerts through `sendAlert` and one through a rule on a gauge; returns
 * the ids of their firing notifications.
 */
async function raiseAlerts(mon: Monitor, apiAlerts: number, tag: string): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < apiAlerts; i++) {
    const alert = await mon.alerting.sendAlert('critical', `${tag}: disk ${i} full`, { disk: `d${i}` });
    ids.push(`${alert.id}:firing`);
  }
  const metric = `faults.${tag}_queue_depth`;
  mon.metrics.gauge(metric).set(50);
  await mon.alerting.addRule({
    name: `${tag}_queue_deep`,
    metric,
    condition: 'gt',
    threshold: 10,
    severity: 'critical',
  });
  const ruleAlert = await vi.waitFor(
    async () => {
      const found = (await mon.alerting.getActiveAlerts()).find((a) => a.source === `rule:${tag}_queue_deep`);
      if (found === undefined) throw new Error('rule alert not raised yet');
      return found;
    },
    { timeout: 5000, interval: 10 },
  );
  ids.push(`${ruleAlert.id}:firing`);
  return ids;
}

/** Each id exactly once. */
const once = (ids: readonly string[]) => new Map(ids.map((id) => [id, 1]));

/** Retries of `channel` that the outbox logged, per notification. */
function retriesOf(tree: Tree, channel: string): LoggedRetry[] {
  return loggedRetries(tree.logger.records).filter((r) => r.channel === channel);
}

/**
 * The backoff law, checked on every logged retry: without a `Retry-After`, the wait after attempt n
 * is `min(maxMs, initialMs * 2^(n-1))` less at most 20 % jitter; with one, the hint is honoured
 * up to `maxRetryAfterMs`.
 */
function expectBoundedBackoff(retries: readonly LoggedRetry[]): void {
  for (const r of retries) {
    const base = Math.min(maxMs, initialMs * 2 ** (r.attempts - 1));
    const hint = /Retry-After (\d+) s/.exec(r.error);
    if (hint === null) {
      expect(r.delayMs, `${r.channel} ${r.notificationId} attempt ${r.attempts}`).toBeGreaterThanOrEqual(
        Math.floor(base * (1 - jitter)),
      );
      expect(r.delayMs).toBeLessThanOrEqual(base);
    } else {
      expect(r.delayMs, r.error).toBe(Math.min(Number(hint[1]) * 1000, maxRetryAfterMs));
    }
    expect(r.delayMs).toBeLessThanOrEqual(maxRetryAfterMs);
  }
}

/** Node may fire a timer up to a millisecond before its delay by `performance.now()`. */
const TIMER_SLACK_MS = 5;

/** ms between the `nth` request `receiver` answered `reply` and the next request for the same id. */
function gapAfter(receiver: FaultReceiver, reply: string, nth = 0): number {
  const hinted = receiver.hits.filter((h) => h.reply === reply)[nth]!;
  const next = receiver.hits.slice(receiver.hits.indexOf(hinted) + 1).find((h) => h.id === hinted.id)!;
  return next.at - hinted.at;
}

/** Retries per notification id. */
function retriesById(retries: readonly LoggedRetry[]): Map<string, LoggedRetry[]> {
  const by = new Map<string, LoggedRetry[]>();
  for (const r of retries) by.set(r.notificationId, [...(by.get(r.notificationId) ?? []), r]);
  return by;
}

describe('notification faults through the whole tree', () => {
  it('rides out SMTP refusing, never greeting, answering 421 and 451, dropping and stalling mid-message and at its end: each notification delivered once', async () => {
    const host = watchHost();
    const outboxes = fastOutbox(POLICY);
    const smtp = await startFaultSmtp({ auth: { user: SMTP_USER, pass: SECRETS.smtpPass } });
    await smtp.stop(); // port closed: connection refused
    const tree = await treeWith({ smtp, timeoutMs: { email: 1000 } });
    const ids = await raiseAlerts(tree.mon, 3, 'smtp');

    await until(() => {
      const byId = retriesById(retriesOf(tree, 'email'));
      for (const id of ids) expect(byId.get(id)?.length ?? 0).toBeGreaterThanOrEqual(3);
    }, 10_000);
    expect(retriesOf(tree, 'email').every((r) => r.error.includes('ECONNREFUSED'))).toBe(true);

    // The port opens, but the first sessions meet every other fault before any is accepted.
    smtp.connectScript = ['silent', { code: 421, message: '4.3.2 too busy, come back later' }];
    smtp.dataScript = ['drop', 'stall-body', 'stall-reply', { code: 451, message: '4.3.0 local error, try again' }];
    await smtp.start();
    await until(() => expect(smtp.accepted().size).toBe(ids.length), 20_000);
    await until(() => expect(outboxes[0]!.pending()).toBe(0));

    expect(
      smtp.events
        .filter((e) => e.kind !== 'accept')
        .map((e) => (e.code === undefined ? e.kind : `${e.kind} ${e.code}`))
        .sort(),
    ).toEqual(['drop', 'refused 421', 'rejected 451', 'silent', 'stall-body', 'stall-reply']);
    expect(smtp.accepted()).toEqual(once(ids));
    expect(smtp.users).toEqual(ids.map(() => SMTP_USER));
    const retries = retriesOf(tree, 'email');
    const errors = retries.map((r) => r.error.replace(/^email: SMTP 127\.0\.0\.1:\d+: /, ''));
    for (const kind of [
      /^ESOCKET: connect ECONNREFUSED 127\.0\.0\.1:\d+$/,
      /^ETIMEDOUT: Greeting never received$/,
      /^EPROTOCOL 421: Invalid greeting\. response=421 4\.3\.2 too busy/,
      // the drop: a clean close, or a reset if nodemailer was still writing
      /^(ECONNECTION: Connection closed unexpectedly|ESOCKET: (read ECONNRESET|write EPIPE))$/,
      /^ETIMEDOUT: Timeout$/,
      /^EMESSAGE 451: Message failed: 451 4\.3\.0 local error/,
    ]) {
      expect(
        errors.some((e) => kind.test(e)),
        `an email retry matching ${kind}`,
      ).toBe(true);
    }
    expectBoundedBackoff(retries);
    expect(await tree.mon.alerting.deadLetters()).toEqual([]);
    expect(host).toEqual([]);
    numbers.smtp = {
      notifications: ids.length,
      retries: retries.length,
      maxBackoffMs: Math.max(...retries.map((r) => r.delayMs)),
      accepted: Object.fromEntries(smtp.accepted()),
      faults: smtp.events.length - ids.length,
    };
  }, 40_000);

  it('rides out webhooks answering 429 (with and without Retry-After), 500, 503, too slowly and resetting: every id delivered, duplicates only where the answer was lost', async () => {
    const host = watchHost();
    const outboxes = fastOutbox(POLICY);
    const hook = await startFaultReceiver(webhookId, { status: 500 });
    const slack = await startFaultReceiver(slackId, { status: 503 });
    const tree = await treeWith({ hook, slack, timeoutMs: { http: 800 } });
    const ids = await raiseAlerts(tree.mon, 3, 'http');

    // An outage long enough for the waits to reach the cap (25, 50, 100, 200, 200 ms).
    await until(() => {
      for (const channel of ['webhook', 'slack']) {
        const byId = retriesById(retriesOf(tree, channel));
        for (const id of ids) expect(byId.get(id)?.length ?? 0, `${channel} ${id}`).toBeGreaterThanOrEqual(5);
      }
    }, 10_000);
    // Then every other fault once (in arrival order, whichever notification meets it), then 200.
    const answerLost = 2000; // a 200 after 2 s, when the channel gave up at 800 ms
    hook.script = [
      { status: 429 },
      { status: 429, retryAfter: '1' },
      { status: 503, retryAfter: '120' },
      { slowMs: answerLost },
      'reset',
    ];
    hook.fallback = { status: 200 };
    slack.script = [{ status: 429, retryAfter: '1' }, 'reset', { slowMs: answerLost }, { status: 500 }];
    slack.fallback = { status: 200 };

    await until(() => {
      expect([...hook.processed().keys()].sort()).toEqual([...ids].sort());
      expect([...slack.processed().keys()].sort()).toEqual([...ids].sort());
      expect(outboxes[0]!.pending()).toBe(0);
    }, 20_000);

    for (const [receiver, channel] of [
      [hook, 'webhook'],
      [slack, 'slack'],
    ] as const) {
      for (const id of ids) {
        const hits = receiver.hits.filter((h) => h.id === id);
        const lost = hits.filter((h) => h.reply === 'slow' || h.reply === 'reset').length;
        // Exactly once, plus one repeat per message whose answer never reached the outbox ...
        expect(receiver.processed().get(id), `${channel} ${id}`).toBe(1 + lost);
        // ... which the receiver can drop: same id, same payload.
        expect(new Set(hits.filter((h) => h.processed).map((h) => h.body)).size).toBe(1);
        // Status faults are never processed; the last hit is the 200 the outbox saw.
        expect(hits.filter((h) => /^[45]\d\d$/.test(h.reply)).every((h) => !h.processed)).toBe(true);
        expect(hits.at(-1)!.reply).toBe('200');
      }
    }
    expect(hook.hits.map((h) => h.reply).filter((r) => r !== '500' && r !== '200')).toEqual([
      '429',
      '429',
      '503',
      'slow',
      'reset',
    ]);
    expect(slack.hits.map((h) => h.reply).filter((r) => r !== '503' && r !== '200')).toEqual([
      '429',
      'reset',
      'slow',
      '500',
    ]);

    const retries = [...retriesOf(tree, 'webhook'), ...retriesOf(tree, 'slack')];
    expectBoundedBackoff(retries);
    // As the receivers saw it: each failed request was followed by exactly one logged retry, and the
    // next request of that id came no sooner than the wait logged for it.
    let maxLateMs = 0;
    for (const [receiver, channel] of [
      [hook, 'webhook'],
      [slack, 'slack'],
    ] as const) {
      for (const id of ids) {
        const hits = receiver.hits.filter((h) => h.id === id);
        const logged = retriesOf(tree, channel).filter((r) => r.notificationId === id);
        expect(logged.map((r) => r.attempts)).toEqual(hits.slice(1).map((_, i) => i + 1));
        hits.slice(1).forEach((next, i) => {
          const gap = next.at - hits[i]!.at;
          expect(gap, `${channel} ${id} retry ${i + 1}`).toBeGreaterThanOrEqual(logged[i]!.delayMs - TIMER_SLACK_MS);
          if (hits[i]!.reply !== 'slow') maxLateMs = Math.max(maxLateMs, gap - logged[i]!.delayMs);
        });
      }
    }
    // Retry-After honoured (1 s, beyond maxMs) and capped (120 s asked, 1.5 s waited), in the log ...
    expect(
      retries
        .filter((r) => r.error.includes('Retry-After'))
        .map((r) => [r.channel, r.delayMs])
        .sort(),
    ).toEqual([
      ['slack', 1000],
      ['webhook', 1000],
      ['webhook', 1500],
    ]);
    // ... and as the receiver saw it: the next request of that id came no sooner, and not 120 s later.
    const gaps = {
      'webhook 429': gapAfter(hook, '429', 1),
      'webhook 503': gapAfter(hook, '503'),
      'slack 429': gapAfter(slack, '429'),
    };
    expect(gaps['webhook 429']).toBeGreaterThanOrEqual(1000 - TIMER_SLACK_MS);
    expect(gaps['slack 429']).toBeGreaterThanOrEqual(1000 - TIMER_SLACK_MS);
    expect(gaps['webhook 503']).toBeGreaterThanOrEqual(maxRetryAfterMs - TIMER_SLACK_MS);
    expect(gaps['webhook 503']).toBeLessThan(maxRetryAfterMs + 10_000);

    expect(await tree.mon.alerting.deadLetters()).toEqual([]);
    expect(host).toEqual([]);
    const counts = (r: FaultReceiver) => Object.fromEntries(r.processed());
    numbers.http = {
      notifications: ids.length,
      retries: { webhook: retriesOf(tree, 'webhook').length, slack: retriesOf(tree, 'slack').length },
      maxBackoffMs: Math.max(...retries.map((r) => r.delayMs)),
      maxRetryLaterThanLoggedWaitMs: Math.round(maxLateMs),
      maxBackoffWithoutHintMs: Math.max(
        ...retries.filter((r) => !r.error.includes('Retry-After')).map((r) => r.delayMs),
      ),
      receiverGapsAfterHintMs: Object.fromEntries(Object.entries(gaps).map(([k, v]) => [k, Math.round(v)])),
      processed: { webhook: counts(hook), slack: counts(slack) },
      requests: { webhook: hook.hits.length, slack: slack.hits.length },
    };
  }, 40_000);

  it('makes final failures dead letters, visible through mon.alerting and after a restart, with no secret in them or in any log line', async () => {
    const host = watchHost();
    fastOutbox({ ...POLICY, maxAttempts: 4 });
    const smtp = await startFaultSmtp({ auth: { user: SMTP_USER, pass: SECRETS.smtpPass } });
    // Each email notification meets one final refusal: at the greeting, at the login, or after DATA.
    smtp.connectScript = [{ code: 554, message: '5.7.1 no SMTP service here' }];
    smtp.authScript = ['check', { code: 535, message: '5.7.8 Authentication credentials invalid' }];
    smtp.dataScript = [{ code: 554, message: '5.6.0 message refused' }];
    // Each HTTP receiver fails and echoes what it got (URL with the token, Authorization, body) in its answer.
    const hook = await startFaultReceiver(webhookId, { status: 503, echo: true });
    const slack = await startFaultReceiver(slackId, { status: 400, echo: true });
    const tree = await treeWith({ smtp, hook, slack, timeoutMs: {} });
    const ids = await raiseAlerts(tree.mon, 2, 'dead');

    // SMTP 5xx and HTTP 400 are final at once; the 503s after maxAttempts (4).
    const expectedDead = 3 * ids.length;
    await until(async () => expect(await tree.mon.alerting.deadLetters()).toHaveLength(expectedDead), 10_000);
    const dead = await tree.mon.alerting.deadLetters();
    const deadEmail = dead.filter((d) => d.channel === 'email');
    expect(deadEmail.map((d) => d.notificationId).sort()).toEqual([...ids].sort());
    expect(deadEmail.map((d) => d.attempts)).toEqual([1, 1, 1]);
    expect(deadEmail.map((d) => d.lastError.replace(/127\.0\.0\.1:\d+/, 'HOST')).sort()).toEqual([
      'email: SMTP HOST: EAUTH 535: Invalid login: 535 5.7.8 Authentication credentials invalid',
      'email: SMTP HOST: EMESSAGE 554: Message failed: 554 5.6.0 message refused',
      'email: SMTP HOST: EPROTOCOL 554: Invalid greeting. response=554 5.7.1 no SMTP service here: 554 5.7.1 no SMTP service here',
    ]);
    expect(smtp.accepted().size).toBe(0);
    for (const [channel, attempts, status] of [
      ['slack', 1, 400],
      ['webhook', 4, 503],
    ] as const) {
      const letters = dead.filter((d) => d.channel === channel);
      expect(letters.map((d) => d.notificationId).sort(), channel).toEqual([...ids].sort());
      for (const letter of letters) {
        expect(letter).toMatchObject({
          attempts,
          reason: 'firing',
          alertId: letter.notificationId.replace(/:firing$/, ''),
        });
        expect(letter.lastError).toContain(`answered ${status}: `);
        expect(letter.deadAt).toBeGreaterThanOrEqual(letter.firstAttemptAt);
      }
    }
    expect(hook.hits).toHaveLength(ids.length * 4);
    expect(slack.hits).toHaveLength(ids.length);
    // The receivers did get the secrets, and echoed them, so there was something to leak ...
    expect(hook.hits[0]!.url).toBe(`/hook/${SECRETS.webhookToken}?token=${SECRETS.webhookToken}`);
    expect(hook.hits[0]!.authorization).toBe(
      `Basic ${Buffer.from(`${HOOK_USER}:${SECRETS.webhookPass}`).toString('base64')}`,
    );
    expect(slack.hits[0]!.url).toBe(`/services/T0/B0/${SECRETS.slackToken}`);
    expect(smtp.events.filter((e) => e.kind === 'rejected')).toHaveLength(1); // a login with the password got as far as DATA
    // ... and none of it reached a dead letter or a log line.
    const seen = `${JSON.stringify(dead)}\n${logText(tree.logger.records)}`;
    for (const secret of FORBIDDEN) expect(seen).not.toContain(secret);
    expect(JSON.stringify(dead)).toContain('[redacted]');
    expect(tree.logger.records.filter((r) => r.msg === 'notification dead-lettered')).toHaveLength(expectedDead);

    // Once the receivers recover, a new alert goes through and no dead letter is sent after all.
    hook.fallback = { status: 200 };
    slack.fallback = { status: 200 };
    const sentinel = `${(await tree.mon.alerting.sendAlert('critical', 'dead: sentinel')).id}:firing`;
    await until(() => {
      expect([...hook.processed().keys()]).toEqual([sentinel]);
      expect([...slack.processed().keys()]).toEqual([sentinel]);
      expect(smtp.accepted().get(sentinel)).toBe(1);
    }, 10_000);
    expect([...smtp.accepted().keys()]).toEqual([sentinel]);
    expect(smtp.users).toEqual([SMTP_USER]);

    // Dead letters are durable: the same list after a restart on the same data dir.
    await tree.mon.stop();
    const again = await treeWith({ smtp, hook, slack, timeoutMs: {} }, tree.dataDir);
    expect(await again.mon.alerting.deadLetters()).toEqual(dead);
    expect(host).toEqual([]);
    numbers.deadLetters = {
      notifications: ids.length + 1,
      deadLetters: dead.length,
      webhookRequests: hook.hits.length,
      byChannel: { email: ids.length, slack: ids.length, webhook: ids.length },
    };
  }, 40_000);

  it('stopping the tree mid-retry (sends in flight) leaves no timer or socket, and a restart on the same data dir delivers each pending notification once', async () => {
    const host = watchHost();
    const outboxes = fastOutbox({ ...POLICY, closeTimeoutMs: 300 });
    const smtp = await startFaultSmtp({ auth: { user: SMTP_USER, pass: SECRETS.smtpPass } });
    await smtp.stop(); // refused
    const hook = await startFaultReceiver(webhookId, { status: 500 });
    const slack = await startFaultReceiver(slackId, 'hang'); // sends stay in flight until the stop aborts them
    const channels: Channels = { smtp, hook, slack, timeoutMs: { email: 1000, http: 5000 } };
    const before = activeResources();
    const first = await treeWith(channels);
    const ids = await raiseAlerts(first.mon, 2, 'restart');
    await until(() => {
      for (const channel of ['email', 'webhook']) {
        const byId = retriesById(retriesOf(first, channel));
        for (const id of ids) expect(byId.get(id)?.length ?? 0, `${channel} ${id}`).toBeGreaterThanOrEqual(2);
      }
      expect(slack.hits.length).toBeGreaterThanOrEqual(2);
    }, 10_000);
    const retriedBeforeStop = loggedRetries(first.logger.records).length;

    const stopStarted = performance.now();
    await first.mon.stop();
    const stopMs = Math.round(performance.now() - stopStarted);
    expect(await leakedAfterSettling(before)).toEqual([]);
    expect(outboxes[0]!.pending()).toBe(ids.length * 3);
    expect(first.logger.records.some((r) => r.msg === 'outbox close: aborting sends still in flight')).toBe(true);
    expect(slack.processed().size + hook.processed().size + smtp.accepted().size).toBe(0);

    // The faults clear; a new tree on the same data dir resumes the outbox.
    await smtp.start();
    hook.fallback = { status: 200 };
    slack.fallback = { status: 200 };
    const second = await treeWith(channels, first.dataDir);
    await until(() => {
      for (const id of ids) {
        expect(smtp.accepted().get(id), `email ${id}`).toBe(1);
        expect(hook.processed().get(id), `webhook ${id}`).toBe(1);
        expect(slack.processed().get(id), `slack ${id}`).toBe(1);
      }
      expect(outboxes[1]!.pending()).toBe(0);
    }, 10_000);
    expect(second.logger.records.find((r) => r.msg === 'outbox resumed queued notifications')?.fields).toMatchObject({
      resumed: ids.length * 3,
    });
    // Exactly once, including anything the restart itself sent (e.g. a resolved notification).
    for (const counts of [smtp.accepted(), hook.processed(), slack.processed()]) {
      for (const [id, n] of counts) expect(n, id).toBe(1);
    }
    expect(await second.mon.alerting.deadLetters()).toEqual([]);
    await second.mon.stop();
    expect(await leakedAfterSettling(before)).toEqual([]);
    expect(host).toEqual([]);
    numbers.restart = {
      notifications: ids.length,
      pendingAtStop: ids.length * 3,
      retriedBeforeStop,
      stopMs,
      slackRequestsInFlightAtStop: slack.hits.filter((h) => h.reply === 'hang').length,
      deliveredAfterRestart: {
        email: Object.fromEntries(smtp.accepted()),
        webhook: Object.fromEntries(hook.processed()),
        slack: Object.fromEntries(slack.processed()),
      },
    };
  }, 40_000);

  it('delivers every notification, resolved after firing, through any sequence of HTTP faults (property, seed 42)', async () => {
    const fault = fc.constantFrom<HttpFault>(
      { status: 429 },
      { status: 408 },
      { status: 500 },
      { status: 503 },
      { slowMs: 1500 },
      'reset',
      'hang',
    );
    const runs: {
      alerts: number;
      faults: number;
      requests: number;
      duplicates: number;
      retries: number;
      ms: number;
    }[] = [];
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.array(fault, { maxLength: 6 }),
        fc.array(fault, { maxLength: 6 }),
        async (apiAlerts, hookFaults, slackFaults) => {
          const started = performance.now();
          try {
            const host = watchHost();
            const outboxes = fastOutbox(POLICY);
            const hook = await startFaultReceiver(webhookId);
            const slack = await startFaultReceiver(slackId);
            hook.script = [...hookFaults];
            slack.script = [...slackFaults];
            const tree = await treeWith({ hook, slack, timeoutMs: { http: 1000 } });
            const firing = await raiseAlerts(tree.mon, apiAlerts, 'prop');
            // Resolve the first alert at once: its resolved notification queues behind its firing one.
            const cleared = firing[0]!.replace(/:firing$/, '');
            await tree.mon.alerting.clearAlert(cleared);
            const ids = [...firing, `${cleared}:resolved`];

            await until(() => {
              for (const receiver of [hook, slack])
                expect([...receiver.processed().keys()].sort()).toEqual([...ids].sort());
              expect(outboxes[0]!.pending()).toBe(0);
            }, 20_000);
            for (const receiver of [hook, slack]) {
              for (const id of ids) {
                const hits = receiver.hits.filter((h) => h.id === id);
                const lost = hits.filter((h) => h.reply === 'slow' || h.reply === 'reset').length;
                expect(receiver.processed().get(id), id).toBe(1 + lost);
                expect(hits.at(-1)!.reply).toBe('200');
              }
              // Every scripted fault was met, and the resolved notification never overtook its firing one.
              expect(receiver.script).toEqual([]);
              const firstProcessed = (id: string) => receiver.hits.findIndex((h) => h.id === id && h.processed);
              expect(firstProcessed(`${cleared}:firing`)).toBeLessThan(firstProcessed(`${cleared}:resolved`));
            }
            const retries = loggedRetries(tree.logger.records);
            expectBoundedBackoff(retries);
            expect(await tree.mon.alerting.deadLetters()).toEqual([]);
            expect(host).toEqual([]);
            const duplicates = [hook, slack].reduce(
              (sum, r) => sum + [...r.processed().values()].reduce((a, n) => a + n - 1, 0),
              0,
            );
            runs.push({
              alerts: ids.length,
              faults: hookFaults.length + slackFaults.length,
              requests: hook.hits.length + slack.hits.length,
              duplicates,
              retries: retries.length,
              ms: Math.round(performance.now() - started),
            });
          } finally {
            await runCleanups();
          }
        },
      ),
      { seed: 42, numRuns: 6, endOnFailure: true },
    );
    expect(runs).toHaveLength(6);
    numbers.property = { numRuns: runs.length, runs };
  }, 120_000);
});
