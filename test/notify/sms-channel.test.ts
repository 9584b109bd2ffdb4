import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode, MonitorError } from '../../src/errors.js';
import { SmsChannel } from '../../src/notify/sms-channel.js';
import { DeliveryError } from '../../src/notify/types.js';
import { makeNotification, type Receiver, startReceiver } from './notify-fixture.js';

const receivers: Receiver[] = [];
afterEach(async () => {
  for (const r of receivers.splice(0)) await r.close();
});

async function twilio(): Promise<Receiver> {
  const r = await startReceiver({
    status: 201,
    headers: { 'Content-Type': 'application/json' },
    body: '{"sid":"SM123","status":"queued"}',
  });
  receivers.push(r);
  return r;
}

const SID = 'AC0123456789abcdef0123456789abcdef';
const TOKEN = 'twilio-auth-TOKEN-0123';

function sms(r: Receiver, to = ['+15550001111', '+15550002222']): SmsChannel {
  return new SmsChannel({ accountSid: SID, authToken: TOKEN, from: '+15559990000', to, baseUrl: r.url });
}

describe('SmsChannel', () => {
  it('POSTs a form-encoded To/From/Body with Basic auth to the Messages resource, once per recipient', async () => {
    const r = await twilio();
    await sms(r).send(makeNotification({ alert: { title: 'Disk full', message: 'disk 97%' } }));

    expect(r.requests).toHaveLength(2);
    r.requests.forEach((req, i) => {
      expect(req.method).toBe('POST');
      expect(req.url).toBe(`/2010-04-01/Accounts/${SID}/Messages.json`);
      expect(req.headers.authorization).toBe(`Basic ${Buffer.from(`${SID}:${TOKEN}`).toString('base64')}`);
      expect(req.headers['content-type']).toBe('application/x-www-form-urlencoded');
      expect(req.headers.accept).toBe('application/json');
      const form = new URLSearchParams(req.body);
      expect([...form.keys()]).toEqual(['To', 'From', 'Body']);
      expect(form.get('To')).toBe(['+15550001111', '+15550002222'][i]);
      expect(form.get('From')).toBe('+15559990000');
      expect(form.get('Body')).toBe('[CRITICAL] Disk full: disk 97%');
    });
  });

  it('carries <script>, quotes and newlines in a plain body, cut to 1600 characters', async () => {
    const r = await twilio();
    const message = `<script>alert("x")</script> & 'q'\nline2`;
    await sms(r, ['+15550001111']).send(makeNotification({ alert: { title: 'T', message } }));
    expect(new URLSearchParams(r.requests[0]!.body).get('Body')).toBe(`[CRITICAL] T: ${message}`);
    await sms(r, ['+15550001111']).send(makeNotification({ alert: { message: 'y'.repeat(2000) } }));
    expect(Array.from(new URLSearchParams(r.requests[1]!.body).get('Body')!)).toHaveLength(1600);
  });

  it('skips recipients an earlier attempt reached and marks each one reached', async () => {
    const r = await twilio();
    r.script.push({ status: 201 }, { status: 500, body: '{"code":20500}' });
    const marked: string[] = [];
    const context = {
      delivered: new Set<string>(),
      markDelivered: async (p: string) => void marked.push(p),
      signal: new AbortController().signal,
    };
    const err = (await sms(r)
      .send(makeNotification(), context)
      .catch((e: unknown) => e)) as DeliveryError;
    expect(err.retryable).toBe(true);
    expect(marked).toEqual(['+15550001111']);

    await sms(r).send(makeNotification(), { ...context, delivered: new Set(marked) });
    expect(r.requests.map((req) => new URLSearchParams(req.body).get('To'))).toEqual([
      '+15550001111',
      '+15550002222',
      '+15550002222',
    ]);
  });

  it('dead-letters an invalid number (400) and refused credentials (401) without the token', async () => {
    const r = await twilio();
    r.script.push(
      { status: 400, body: '{"code":21211,"message":"Invalid \'To\' Phone Number"}' },
      { status: 401, body: `{"message":"Authenticate ${TOKEN}"}` },
    );
    const invalid = (await sms(r, ['+15550001111'])
      .send(makeNotification())
      .catch((e: unknown) => e)) as DeliveryError;
    expect(invalid.retryable).toBe(false);
    expect(invalid.message).toContain('answered 400');
    expect(invalid.message).toContain('21211');
    const auth = (await sms(r, ['+15550001111'])
      .send(makeNotification())
      .catch((e: unknown) => e)) as DeliveryError;
    expect(auth.retryable).toBe(false);
    expect(auth.message).not.toContain(TOKEN);
    expect(auth.message).toContain('[redacted]');
  });

  it('does not send resolved notifications, and refuses bad numbers', () => {
    expect(
      new SmsChannel({ accountSid: SID, authToken: TOKEN, from: '+15559990000', to: ['+15550001111'] }).sendsResolved,
    ).toBe(false);
    expect(() => new SmsChannel({ accountSid: SID, authToken: TOKEN, from: '+15559990000', to: ['555-1234'] })).toThrow(
      new MonitorError(ErrorCode.InvalidOption, 'invalid sms to[0] "555-1234" (expected E.164 phone numbers)'),
    );
    expect(
      () => new SmsChannel({ accountSid: SID, authToken: '', from: '+15559990000', to: ['+15550001111'] }),
    ).toThrow('invalid sms authToken an empty string (expected a non-empty string)');
  });
});
