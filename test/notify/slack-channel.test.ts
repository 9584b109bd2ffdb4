import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode, MonitorError } from '../../src/errors.js';
import { SlackChannel } from '../../src/notify/slack-channel.js';
import { DeliveryError } from '../../src/notify/types.js';
import { makeNotification, type Receiver, startReceiver } from './notify-fixture.js';

const receivers: Receiver[] = [];
afterEach(async () => {
  for (const r of receivers.splice(0)) await r.close();
});

async function receiver(...args: Parameters<typeof startReceiver>): Promise<Receiver> {
  const r = await startReceiver(...args);
  receivers.push(r);
  return r;
}

const HOOK_PATH = '/services/T000/B000/XXXXsecretXXXX';

describe('SlackChannel', () => {
  it('POSTs { text, blocks } as JSON to the webhook path, per the incoming-webhook format', async () => {
    const r = await receiver();
    const slack = new SlackChannel({ webhookUrl: `${r.url}${HOOK_PATH}` });
    const n = makeNotification({
      id: 'n-slack-1',
      alert: {
        id: 'a-1',
        title: 'High latency',
        message: 'p95 250 ms',
        source: 'rule:high_latency',
        labels: { service: 'api' },
        generatorUrl: 'http://127.0.0.1:8080/#alerts',
      },
    });
    await slack.send(n);

    expect(r.requests).toHaveLength(1);
    const req = r.requests[0]!;
    expect(req.method).toBe('POST');
    expect(req.url).toBe(HOOK_PATH);
    expect(req.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(Number(req.headers['content-length'])).toBe(Buffer.byteLength(req.body));
    expect(req.headers.authorization).toBeUndefined();
    expect(JSON.parse(req.body)).toEqual({
      text: '[CRITICAL] High latency: p95 250 ms',
      blocks: [
        { type: 'header', text: { type: 'plain_text', text: '[CRITICAL] High latency', emoji: false } },
        {
          type: 'section',
          text: { type: 'mrkdwn', text: 'p95 250 ms\n<http://127.0.0.1:8080/#alerts|Open in dashboard>' },
          fields: [
            { type: 'mrkdwn', text: '*Severity*\ncritical' },
            { type: 'mrkdwn', text: '*Status*\nfiring' },
            { type: 'mrkdwn', text: '*Source*\nrule:high_latency' },
            { type: 'mrkdwn', text: `*Started*\n${new Date(n.alert.startedAt).toISOString()}` },
            { type: 'mrkdwn', text: '*Labels*\nservice=api' },
          ],
        },
        { type: 'context', elements: [{ type: 'mrkdwn', text: 'notification n-slack-1 · alert a-1' }] },
      ],
    });
  });

  it('escapes & < > in mrkdwn, keeps quotes and newlines as JSON escapes, and respects Block Kit limits', async () => {
    const r = await receiver();
    const slack = new SlackChannel({ webhookUrl: `${r.url}${HOOK_PATH}` });
    const message = `<script>alert("x")</script> & <!channel> 'q'\nline2`;
    await slack.send(
      makeNotification({
        alert: { title: 'x'.repeat(300), message, labels: { path: '<@U123>' }, generatorUrl: 'javascript:alert(1)' },
      }),
    );

    const body = JSON.parse(r.requests[0]!.body) as {
      text: string;
      blocks: { type: string; text?: { text: string }; fields?: { text: string }[] }[];
    };
    expect(r.requests[0]!.body).toContain('\\"x\\"');
    expect(r.requests[0]!.body).toContain('\\n');
    const section = body.blocks[1]!;
    expect(section.text!.text).toBe(`&lt;script&gt;alert("x")&lt;/script&gt; &amp; &lt;!channel&gt; 'q'\nline2`);
    expect(section.fields!.at(-1)!.text).toBe('*Labels*\npath=&lt;@U123&gt;');
    expect(body.text).not.toMatch(/[<>]/);
    expect(body.blocks[0]!.text!.text).toHaveLength(150);
    expect(r.requests[0]!.body).not.toContain('javascript:');
  });

  it('never sends an empty section text, which Slack refuses', async () => {
    const r = await receiver();
    await new SlackChannel({ webhookUrl: `${r.url}${HOOK_PATH}` }).send(makeNotification({ alert: { message: '  ' } }));
    const blocks = (JSON.parse(r.requests[0]!.body) as { blocks: { text?: { text: string } }[] }).blocks;
    expect(blocks[1]!.text!.text).toBe('_(no message)_');
  });

  it('cuts a long message to 3000 characters without splitting an escape', async () => {
    const r = await receiver();
    await new SlackChannel({ webhookUrl: `${r.url}${HOOK_PATH}` }).send(
      makeNotification({ alert: { message: '<'.repeat(5000) } }),
    );
    const text = (JSON.parse(r.requests[0]!.body) as { blocks: { text?: { text: string } }[] }).blocks[1]!.text!.text;
    expect(text.length).toBeLessThanOrEqual(3000);
    expect(text).toMatch(/^(&lt;)+…$/);
  });

  it('dead-letters a 404 no_service and retries a 429, never showing the webhook path', async () => {
    const r = await receiver();
    const slack = new SlackChannel({ webhookUrl: `${r.url}${HOOK_PATH}` });
    r.script.push(
      { status: 404, body: 'no_service' },
      { status: 429, headers: { 'Retry-After': '3' }, body: 'rate_limited' },
    );
    const gone = (await slack.send(makeNotification()).catch((e: unknown) => e)) as DeliveryError;
    expect(gone.retryable).toBe(false);
    expect(gone.message).toBe(`slack: POST ${r.url}/[webhook path redacted]: answered 404: no_service`);
    const limited = (await slack.send(makeNotification()).catch((e: unknown) => e)) as DeliveryError;
    expect([limited.retryable, limited.retryAfterMs]).toEqual([true, 3000]);
    expect(`${gone.message} ${limited.message}`).not.toContain('XXXXsecretXXXX');
  });

  it('refuses a webhook that is not an http(s) URL without echoing it', () => {
    expect(() => new SlackChannel({ webhookUrl: 'ftp://hooks.example/secret-path' })).toThrow(
      new MonitorError(
        ErrorCode.InvalidOption,
        'invalid slack webhookUrl (a string, not shown: it is a secret) (expected an absolute http(s) URL)',
      ),
    );
  });
});
