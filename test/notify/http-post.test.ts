import { afterEach, describe, expect, it } from 'vitest';
import { httpPost, type HttpPostRequest, parseRetryAfter } from '../../src/notify/http-post.js';
import { Redactor } from '../../src/notify/redact.js';
import { DeliveryError } from '../../src/notify/types.js';
import { activeResources, leakedAfterSettling, until } from '../helpers.js';
import { type Receiver, startReceiver } from './notify-fixture.js';

const receivers: Receiver[] = [];
afterEach(async () => {
  for (const r of receivers.splice(0)) await r.close();
});

async function receiver(...args: Parameters<typeof startReceiver>): Promise<Receiver> {
  const r = await startReceiver(...args);
  receivers.push(r);
  return r;
}

function post(url: string, extra: Partial<HttpPostRequest> = {}) {
  return httpPost({
    url: new URL(url),
    headers: { 'Content-Type': 'application/json' },
    body: '{"a":1}',
    timeoutMs: 2000,
    target: 'test: POST receiver',
    redactor: new Redactor(['tok-SECRET-123']),
    now: () => Date.parse('2026-01-01T00:00:00Z'),
    ...extra,
  });
}

async function failure(promise: Promise<unknown>): Promise<DeliveryError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DeliveryError);
  return err as DeliveryError;
}

describe('httpPost', () => {
  it('sends the body with its headers and a Content-Length, and returns a 2xx answer', async () => {
    const r = await receiver({ status: 201, body: '{"sid":"SM1"}' });
    const response = await post(`${r.url}/hook/path?x=1`);
    expect(response).toEqual({ status: 201, body: '{"sid":"SM1"}' });
    expect(r.requests).toHaveLength(1);
    expect(r.requests[0]).toMatchObject({ method: 'POST', url: '/hook/path?x=1', body: '{"a":1}' });
    expect(r.requests[0]!.headers['content-type']).toBe('application/json');
    expect(r.requests[0]!.headers['content-length']).toBe('7');
  });

  it('classifies statuses: 429/408/5xx retryable, other 4xx and 3xx final', async () => {
    const r = await receiver();
    const cases: [number, boolean][] = [
      [429, true],
      [408, true],
      [500, true],
      [503, true],
      [400, false],
      [401, false],
      [404, false],
      [301, false],
    ];
    for (const [status, retryable] of cases) {
      r.script.push({ status, body: `error ${status}` });
      const err = await failure(post(r.url));
      expect([status, err.retryable]).toEqual([status, retryable]);
      expect(err.message).toBe(
        `test: POST receiver: answered ${status}${status === 301 ? ' (redirects are not followed)' : ''}: error ${status}`,
      );
    }
  });

  it('reads a Retry-After in seconds or as a date, and quotes the reply with secrets redacted', async () => {
    const r = await receiver();
    r.script.push({ status: 429, headers: { 'Retry-After': '7' }, body: 'slow down, tok-SECRET-123' });
    r.script.push({ status: 503, headers: { 'Retry-After': 'Thu, 01 Jan 2026 00:00:30 GMT' } });
    const first = await failure(post(r.url));
    expect(first.retryAfterMs).toBe(7000);
    expect(first.message).toBe('test: POST receiver: answered 429 (Retry-After 7 s): slow down, [redacted]');
    const second = await failure(post(r.url));
    expect(second.retryAfterMs).toBe(30_000);
  });

  it('times out a server that never answers, and reports a refused connection, both retryable', async () => {
    const r = await receiver('hang');
    const started = performance.now();
    const slow = await failure(post(r.url, { timeoutMs: 100 }));
    expect(slow.retryable).toBe(true);
    expect(slow.message).toBe('test: POST receiver: no complete answer within 100 ms');
    expect(performance.now() - started).toBeLessThan(1500);

    const gone = await receiver();
    const url = gone.url;
    await gone.close();
    const refused = await failure(post(url));
    expect(refused.retryable).toBe(true);
    expect(refused.message).toBe('test: POST receiver: request failed (ECONNREFUSED)');
  });

  it('stops when its signal aborts, and leaves no sockets or timers', async () => {
    const r = await receiver('hang');
    const before = activeResources();
    const controller = new AbortController();
    const pending = failure(post(r.url, { signal: controller.signal, timeoutMs: 60_000 }));
    await until(() => expect(r.requests).toHaveLength(1));
    controller.abort();
    const err = await pending;
    expect(err.message).toBe('test: POST receiver: aborted (the outbox is closing)');
    expect(await leakedAfterSettling(before)).toEqual([]);
  });

  it('parseRetryAfter reads seconds and dates and ignores anything else', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:01:00 GMT', now)).toBe(60_000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 00:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter('-5', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });
});
