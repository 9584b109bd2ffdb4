/**
 * One HTTP POST for the HTTP channels (Slack, Twilio, webhook, Alertmanager), with the outcome
 * classified for the outbox: 2xx delivered; 429, 408, 5xx, connection errors and timeouts
 * retryable (with `Retry-After`); anything else dead-lettered.
 *
 * One deadline covers the whole exchange, every request has a fresh connection, and the reply
 * body is read to at most 4 KiB. Failure messages never show the full URL (a webhook's path is its
 * secret) and pass the reply through the caller's `Redactor`. Details: docs/design-notes.md.
 */
import { post, PostNetworkError, type PostResult } from '../net/post.js';
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
  /** The body as text (at most 4 KiB). */
  body: string;
}

/** Characters of a failed response's body quoted in the error message. */
const QUOTED_BODY_CHARS = 200;

/**
 * POSTs `request.body` to `request.url`.
 * @returns the 2xx response
 * @throws {DeliveryError} (rejects) for any other outcome, classified as in the module header
 */
export async function httpPost(request: HttpPostRequest): Promise<HttpPostResponse> {
  const { target, redactor } = request;
  let res: PostResult;
  try {
    res = await post(request.url, request.body, {
      headers: request.headers,
      agent: false,
      timeoutMs: request.timeoutMs,
      ...(request.signal ? { signal: request.signal } : {}),
    });
  } catch (err) {
    if (!(err instanceof PostNetworkError)) throw err;
    const what =
      err.reason === 'timeout'
        ? `no complete answer within ${request.timeoutMs} ms`
        : err.reason === 'aborted'
          ? 'aborted (the outbox is closing)'
          : `request failed (${err.code ?? redactor.redact(err.cause instanceof Error ? err.cause.message : 'network error')})`;
    throw new DeliveryError(`${target}: ${what}`, { retryable: true });
  }
  if (res.status >= 200 && res.status < 300) return { status: res.status, body: res.body };
  const retryAfter = res.headers['retry-after'];
  throw statusError(request, res.status, res.body, retryAfter);
}

function statusError(
  request: HttpPostRequest,
  status: number,
  body: string,
  retryAfter: string | string[] | undefined,
): DeliveryError {
  const quoted = request.redactor.redact(body.replace(/\s+/g, ' ').trim()).slice(0, QUOTED_BODY_CHARS);
  const reply = quoted === '' ? '' : `: ${quoted}`;
  const retryable = status === 429 || status === 408 || (status >= 500 && status < 600);
  if (!retryable) {
    const why = status >= 300 && status < 400 ? ' (redirects are not followed)' : '';
    return new DeliveryError(`${request.target}: answered ${status}${why}${reply}`, { retryable: false });
  }
  const retryAfterMs = parseRetryAfter(
    Array.isArray(retryAfter) ? retryAfter[0] : retryAfter,
    (request.now ?? Date.now)(),
  );
  const hint = retryAfterMs === undefined ? '' : ` (Retry-After ${Math.ceil(retryAfterMs / 1000)} s)`;
  return new DeliveryError(
    `${request.target}: answered ${status}${hint}${reply}`,
    retryAfterMs === undefined ? { retryable: true } : { retryable: true, retryAfterMs },
  );
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
