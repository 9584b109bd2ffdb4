/**
 * One HTTP(S) POST with a body and a deadline: the transport of remote write and of every
 * notification channel (each judges the status itself). Credentials in the URL (`http://user:pass@host/`) become a Basic
 * Authorization header and never appear in an error message: errors name the endpoint by its
 * redacted form (scheme, host, path).
 */
import http from 'node:http';
import https from 'node:https';
import { markOwnRequest } from './own-requests.js';

/** Any HTTP answer: the caller judges the status. */
export interface PostResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The first 4 KiB of the response body, as text (error answers explain themselves there). */
  body: string;
}

/** A network-level failure (refused, reset, DNS, timeout, aborted): worth a retry. `code` is the socket error's, e.g. `ECONNREFUSED`. */
export class PostNetworkError extends Error {
  readonly code: string | undefined;
  constructor(
    message: string,
    readonly reason: 'network' | 'timeout' | 'aborted',
    options?: { cause?: unknown; code?: string },
  ) {
    super(message, options);
    this.name = 'PostNetworkError';
    this.code = options?.code;
  }
}

const MAX_BODY = 4096;

/** `scheme://host:port/path` without credentials, query or fragment: safe to log. */
export function redactUrl(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}`;
}

/** An agent per endpoint so `destroy()` on close leaves no keep-alive socket behind. */
export function agentFor(url: URL): http.Agent {
  return url.protocol === 'https:'
    ? new https.Agent({ keepAlive: true, maxSockets: 4 })
    : new http.Agent({ keepAlive: true, maxSockets: 4 });
}

/**
 * POSTs `body` to `url`; resolves with any HTTP answer (the caller judges the status).
 * @throws {PostNetworkError} when no answer came (connection failure, or `timeoutMs` elapsed, or `signal` aborted)
 */
export function post(
  url: URL,
  body: Uint8Array | string,
  options: { headers: Record<string, string>; agent: http.Agent | false; timeoutMs: number; signal?: AbortSignal },
): Promise<PostResult> {
  const headers: Record<string, string | number> = { ...options.headers, 'content-length': Buffer.byteLength(body) };
  if (url.username !== '' || url.password !== '') {
    headers.authorization = `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}`;
  }
  const where = redactUrl(url);
  const send = url.protocol === 'https:' ? https.request : http.request;
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (err: PostNetworkError) => {
      if (settled) return;
      settled = true;
      cleanup();
      reject(err);
    };
    const req = send(
      {
        protocol: url.protocol,
        hostname: url.hostname,
        port: url.port,
        path: `${url.pathname}${url.search}`,
        method: 'POST',
        headers,
        agent: options.agent,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          if (size < MAX_BODY) chunks.push(chunk);
          size += chunk.length;
        });
        res.on('end', () => {
          if (settled) return;
          settled = true;
          cleanup();
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8').slice(0, MAX_BODY),
          });
        });
        res.on('error', (err) =>
          fail(new PostNetworkError(`POST ${where}: response failed: ${err.message}`, 'network', { cause: err })),
        );
      },
    );
    markOwnRequest(req);
    const timer = setTimeout(() => {
      fail(new PostNetworkError(`POST ${where}: no answer within ${options.timeoutMs} ms`, 'timeout'));
      req.destroy();
    }, options.timeoutMs);
    const onAbort = () => {
      fail(new PostNetworkError(`POST ${where}: aborted`, 'aborted'));
      req.destroy();
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    function cleanup() {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
    }
    req.on('error', (err: NodeJS.ErrnoException) =>
      fail(
        new PostNetworkError(
          `POST ${where}: ${err.code ?? 'network error'}: ${err.message.replace(url.href, where)}`,
          'network',
          { cause: err, ...(err.code === undefined ? {} : { code: err.code }) },
        ),
      ),
    );
    if (options.signal?.aborted) onAbort();
    else req.end(body);
  });
}
