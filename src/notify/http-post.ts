/**
 * One HTTP POST for the HTTP channels (Slack, Twilio, webhook, Alertmanager), with the outcome
 * classified for the outbox:
 *
 * - 2xx: delivered.
 * - 429, 408 and 5xx: retryable; a `Retry-After` (seconds or an HTTP date) becomes `retryAfterMs`.
 * - connection errors and timeouts: retryable (the request may or may not have arrived; the
 *   receiver dedupes by the notification id the payload carries).
 * - any other status (other 4xx, 3xx: redirects are not followed): not retryable, the request
 *   itself is wrong and sending it again will not help, so the outbox dead-letters it.
 *
 * Each request has one deadline covering connect, upload and the whole response (`timeoutMs`), a
 * fresh connection (no keep-alive pool to leak or close) and a response body read to at most
 * 64 KiB. Failure messages name the target as the caller describes it (never the full URL: a
 * webhook's path is its secret) and pass the server's reply through the caller's `Redactor`.
 */
import http from 'node:http';
import https from 'node:https';
import { DeliveryError } from './types.js';
import type { Redactor } from './redact.js';

/** One POST. */
export interface HttpPostRequest {
  url: URL;
  headers: Record<string, string>;
  body: string;
  /** Deadline for the whole exchange (connect, send, response), ms. */
  timeoutMs: number;
  /** The request as messages name it, e.g. `'POST http://127.0.0.1:9093 (webhook)'`; no secrets. */
  target: string;
  /** Cleans server replies and socket errors before they go into an error message. */
  redactor: Redactor;
  /** Aborts the request (e.g. the outbox closing). */
  signal?: AbortSignal;
  /** Clock for `Retry-After` dates. Default `Date.now`. */
  now?: () => number;
}

/** A 2xx answer. */
export interface HttpPostResponse {
  status: number;
  /** The body as text (at most 64 KiB). */
  body: string;
}

/** Most response bytes read: enough for any error document, bounded against a hostile server. */
const MAX_RESPONSE_BYTES = 64 * 1024;
/** Characters of a failed response's body quoted in the error message. */
const QUOTED_BODY_CHARS = 200;

/**
 * POSTs `request.body` to `request.url`.
 * @returns the 2xx response
 * @throws {DeliveryError} (rejects) for any other outcome, classified as in the module header
 */
export function httpPost(request: HttpPostRequest): Promise<HttpPostResponse> {
  const { url, target, redactor } = request;
  const transport = url.protocol === 'https:' ? https : http;
  const body = Buffer.from(request.body, 'utf8');
  return new Promise<HttpPostResponse>((resolve, reject) => {
    let settled = false;
    const finish = (outcome: HttpPostResponse | DeliveryError): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      request.signal?.removeEventListener('abort', onAbort);
      if (outcome instanceof DeliveryError) reject(outcome);
      else resolve(outcome);
    };
    const req = transport.request(url, {
      method: 'POST',
      agent: false,
      headers: { ...request.headers, 'Content-Length': String(body.length) },
    });
    const timer = setTimeout(() => {
      finish(new DeliveryError(`${target}: no complete answer within ${request.timeoutMs} ms`, { retryable: true }));
      req.destroy();
    }, request.timeoutMs);
    const onAbort = (): void => {
      finish(new DeliveryError(`${target}: aborted (the outbox is closing)`, { retryable: true }));
      req.destroy();
    };
    if (request.signal?.aborted) {
      onAbort();
      return;
    }
    request.signal?.addEventListener('abort', onAbort, { once: true });

    req.on('error', (err: NodeJS.ErrnoException) => {
      const what = err.code ?? redactor.redact(err.message);
      finish(new DeliveryError(`${target}: request failed (${what})`, { retryable: true }));
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        if (size >= MAX_RESPONSE_BYTES) return;
        chunks.push(chunk);
        size += chunk.length;
      });
      res.on('error', () => finish(new DeliveryError(`${target}: the response broke off (status ${res.statusCode})`, { retryable: true })));
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        const text = Buffer.concat(chunks).subarray(0, MAX_RESPONSE_BYTES).toString('utf8');
        if (status >= 200 && status < 300) {
          finish({ status, body: text });
          return;
        }
        finish(statusError(request, status, text, res.headers['retry-after']));
      });
    });
    req.end(body);
  });
}

function statusError(request: HttpPostRequest, status: number, body: string, retryAfter: string | string[] | undefined): DeliveryError {
  const quoted = request.redactor.redact(body.replace(/\s+/g, ' ').trim()).slice(0, QUOTED_BODY_CHARS);
  const reply = quoted === '' ? '' : `: ${quoted}`;
  const retryable = status === 429 || status === 408 || (status >= 500 && status < 600);
  if (!retryable) {
    const why = status >= 300 && status < 400 ? ' (redirects are not followed)' : '';
    return new DeliveryError(`${request.target}: answered ${status}${why}${reply}`, { retryable: false });
  }
  const retryAfterMs = parseRetryAfter(Array.isArray(retryAfter) ? retryAfter[0] : retryAfter, (request.now ?? Date.now)());
  const hint = retryAfterMs === undefined ? '' : ` (Retry-After ${Math.ceil(retryAfterMs / 1000)} s)`;
  return new DeliveryError(`${request.target}: answered ${status}${hint}${reply}`, retryAfterMs === undefined ? { retryable: true } : { retryable: true, retryAfterMs });
}

/**
 * Reads a `Retry-After` header: delay-seconds (`"120"`) or an HTTP date.
 * @param value the header value, if any
 * @param nowMs the current time, for a date
 * @returns milliseconds from now (at least 0), or undefined when absent or unreadable
 */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  if (Number.isNaN(at) || !/[a-z]/i.test(text)) return undefined;
  return Math.max(0, at - nowMs);
}
