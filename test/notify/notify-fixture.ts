/**
 * Helpers for the notification tests: notifications, a scripted in-process channel, and local
 * HTTP receivers that record every request and answer as told.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type ChannelName,
  type DeliveryContext,
  DeliveryError,
  type Notification,
  type NotificationChannel,
} from '../../src/notify/types.js';

let counter = 0;

/** A valid notification; `overrides.alert` is merged into the default alert. */
export function makeNotification(
  overrides: Partial<Omit<Notification, 'alert'>> & { alert?: Partial<Notification['alert']> } = {},
): Notification {
  const n = ++counter;
  const { alert, ...rest } = overrides;
  return {
    id: `n-${n}`,
    reason: 'firing',
    createdAt: 1_700_000_000_000,
    ...rest,
    alert: {
      id: `a-${n}`,
      fingerprint: `fp-${n}`,
      severity: 'critical',
      status: 'firing',
      title: 'High latency',
      message: 'p95 latency 250 ms above 100 ms',
      source: 'rule:high_latency',
      labels: { service: 'api' },
      annotations: {},
      startedAt: 1_700_000_000_000,
      ...alert,
    },
  };
}

/** What a scripted send does: succeed, fail (retryable or not), or wait for a release. */
export type Outcome = 'ok' | 'fail' | 'final' | { retryAfterMs: number } | 'hang';

/** A channel that follows a script of outcomes (then `ok`) and records every call. */
export class ScriptedChannel implements NotificationChannel {
  readonly name: ChannelName;
  readonly sendsResolved: boolean;
  readonly calls: { id: string; at: number; delivered: string[] }[] = [];
  /** Ids whose send succeeded, in order. */
  readonly accepted: string[] = [];
  script: Outcome[];
  closed = false;
  #hung: (() => void)[] = [];

  constructor(name: ChannelName, script: Outcome[] = [], sendsResolved = true) {
    this.name = name;
    this.script = script;
    this.sendsResolved = sendsResolved;
  }

  async send(notification: Notification, context?: DeliveryContext): Promise<void> {
    this.calls.push({ id: notification.id, at: performance.now(), delivered: [...(context?.delivered ?? [])] });
    const outcome = this.script.shift() ?? 'ok';
    if (outcome === 'hang') {
      await new Promise<void>((resolve, reject) => {
        this.#hung.push(resolve);
        context?.signal.addEventListener('abort', () => reject(new DeliveryError('aborted', { retryable: true })), {
          once: true,
        });
      });
    } else if (outcome === 'fail') {
      throw new DeliveryError(`${this.name}: answered 500`, { retryable: true });
    } else if (outcome === 'final') {
      throw new DeliveryError(`${this.name}: answered 400`, { retryable: false });
    } else if (outcome !== 'ok') {
      throw new DeliveryError(`${this.name}: answered 429`, { retryable: true, retryAfterMs: outcome.retryAfterMs });
    }
    this.accepted.push(notification.id);
  }

  /** Lets every hung send succeed. */
  release(): void {
    for (const resolve of this.#hung.splice(0)) resolve();
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

/** A request a {@link Receiver} got. */
export interface ReceivedRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** The status answered (undefined while hanging). */
  status?: number;
}

/** How a {@link Receiver} answers: status, headers, body (or a function of the request, e.g. to echo it); or `hang` (never answers). */
export type Reply =
  { status: number; headers?: Record<string, string>; body?: string | ((request: ReceivedRequest) => string) } | 'hang';

/** A local HTTP server on 127.0.0.1 that records requests and answers from a script (then `fallback`). */
export interface Receiver {
  readonly url: string;
  readonly port: number;
  readonly requests: ReceivedRequest[];
  script: Reply[];
  fallback: Reply;
  close(): Promise<void>;
}

/**
 * Starts a {@link Receiver}.
 * @param port listen on this port (default 0: any free one), e.g. to come back after an outage
 */
export async function startReceiver(fallback: Reply = { status: 200, body: 'ok' }, port = 0): Promise<Receiver> {
  const requests: ReceivedRequest[] = [];
  const hung = new Set<http.ServerResponse>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const request: ReceivedRequest = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      requests.push(request);
      const reply = receiver.script.shift() ?? receiver.fallback;
      if (reply === 'hang') {
        hung.add(res);
        return;
      }
      const body = typeof reply.body === 'function' ? reply.body(request) : (reply.body ?? '');
      request.status = reply.status;
      res.writeHead(reply.status, reply.headers);
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const actual = (server.address() as AddressInfo).port;
  const receiver: Receiver = {
    url: `http://127.0.0.1:${actual}`,
    port: actual,
    requests,
    script: [],
    fallback,
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of hung) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return receiver;
}
