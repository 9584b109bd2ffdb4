/**
 * Fault-injecting receivers for the notification fault suite, all on 127.0.0.1:
 *
 * - `startFaultSmtp`: a real SMTP server (`smtp-server`) whose connections and DATA commands follow
 *   scripts: greet, never greet, refuse with a reply code; refuse a login; accept, reject with a code, drop the
 *   connection mid-message, stall mid-message (stop reading the body) or stall at its end (read
 *   it all, never answer the final dot). `stop()` closes the port
 *   (connection refused) and `start()` opens it again on the same port.
 * - `startFaultReceiver`: an HTTP server answering per a script: a status (with or without
 *   `Retry-After`, optionally echoing what it got to tempt a leak), a 200 after a delay longer
 *   than the client's timeout, a reset after reading the request, or no answer at all.
 *
 * Both record, per notification id, what they did with each attempt and whether they PROCESSED it
 * (took the message as delivered: SMTP `250`, HTTP 2xx, a slow 200 or a reset after reading), so a
 * test can count deliveries the way a receiver that dedupes by id would.
 *
 * Plus `fastOutbox` (wraps `Outbox.open` to add a short policy and a SEEDED jitter source, which
 * `alerting.delivery` cannot set, so retry timings are reproducible), `watchHost` and `logText`.
 */
import type { AddressInfo, Socket } from 'node:net';
import http from 'node:http';
import { SMTPServer } from 'smtp-server';
import { vi } from 'vitest';
import type { BackoffOptions } from '../../src/notify/backoff.js';
import { Outbox, type OutboxOptions } from '../../src/notify/outbox.js';
import type { LogRecord } from '../helpers.js';
import { mulberry32 } from '../helpers.js';
import { parseMime } from '../notify/smtp-fixture.js';
import { onCleanup } from './tree-fixture.js';

/** What happens when a client connects. */
export type SmtpConnectFault = 'greet' | 'silent' | { code: number; message: string };
/** What happens to one message's DATA. */
export type SmtpDataFault = 'accept' | 'drop' | 'stall-body' | 'stall-reply' | { code: number; message: string };

/** One thing the SMTP server did. */
export interface SmtpEvent {
  at: number;
  kind: 'silent' | 'refused' | 'auth-refused' | 'accept' | 'drop' | 'stall-body' | 'stall-reply' | 'rejected';
  /** The notification id, when the message got far enough to carry one. */
  id?: string;
  code?: number;
}

export interface FaultSmtp {
  readonly port: number;
  connectScript: SmtpConnectFault[];
  /** Per login, consumed in order; then the credentials decide. */
  authScript: ('check' | { code: number; message: string })[];
  dataScript: SmtpDataFault[];
  readonly events: SmtpEvent[];
  /** Users who logged in (each accepted message's session). */
  readonly users: string[];
  /** How many times each notification id was accepted (`250`). */
  accepted(): Map<string, number>;
  /** Closes the port: new connections are refused. Destroys every open connection. */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
}

/**
 * Starts the SMTP server (authentication required when `auth` is given; PLAIN/LOGIN over plain TCP,
 * STARTTLS off). Closed at cleanup.
 */
export async function startFaultSmtp(options: { auth?: { user: string; pass: string } } = {}): Promise<FaultSmtp> {
  const events: SmtpEvent[] = [];
  const users: string[] = [];
  const sockets = new Set<Socket>();
  let server: SMTPServer | undefined;
  let port = 0;

  const build = (): SMTPServer =>
    new SMTPServer({
      logger: false,
      disabledCommands: ['STARTTLS'],
      disableReverseLookup: true,
      allowInsecureAuth: true,
      authOptional: options.auth === undefined,
      onConnect(_session, callback) {
        const fault = smtp.connectScript.shift() ?? 'greet';
        if (fault === 'silent') {
          events.push({ at: performance.now(), kind: 'silent' });
          return; // never greets; the client's greeting timeout must end it
        }
        if (fault !== 'greet') {
          events.push({ at: performance.now(), kind: 'refused', code: fault.code });
          callback(Object.assign(new Error(fault.message), { responseCode: fault.code }));
          return;
        }
        callback();
      },
      onAuth(auth, _session, callback) {
        const fault = smtp.authScript.shift() ?? 'check';
        if (fault !== 'check') {
          events.push({ at: performance.now(), kind: 'auth-refused', code: fault.code });
          callback(Object.assign(new Error(fault.message), { responseCode: fault.code }));
          return;
        }
        if (options.auth !== undefined && auth.username === options.auth.user && auth.password === options.auth.pass) {
          callback(null, { user: auth.username });
        } else {
          callback(Object.assign(new Error('Authentication credentials invalid'), { responseCode: 535 }));
        }
      },
      onData(stream, session, callback) {
        const fault = smtp.dataScript.shift() ?? 'accept';
        const chunks: Buffer[] = [];
        const idSoFar = () => parseMime(Buffer.concat(chunks).toString('utf8')).headers.get('x-erlmcp-notification-id');
        let cut = false;
        stream.on('data', (chunk: Buffer) => {
          chunks.push(chunk);
          if (cut) return;
          if (fault === 'drop') {
            cut = true;
            events.push({ at: performance.now(), kind: 'drop', ...optionalId(idSoFar()) });
            for (const socket of sockets) if (socket.remotePort === session.remotePort) socket.destroy();
          } else if (fault === 'stall-body') {
            cut = true;
            events.push({ at: performance.now(), kind: 'stall-body', ...optionalId(idSoFar()) });
            stream.pause(); // reads no more of the message, so it never sees the final dot
          }
        });
        stream.on('end', () => {
          if (fault === 'drop' || fault === 'stall-body') return;
          const id = idSoFar();
          if (fault === 'stall-reply') {
            events.push({ at: performance.now(), kind: 'stall-reply', ...optionalId(id) });
            return; // never answers the final dot
          }
          if (fault !== 'accept') {
            events.push({ at: performance.now(), kind: 'rejected', code: fault.code, ...optionalId(id) });
            callback(Object.assign(new Error(fault.message), { responseCode: fault.code }));
            return;
          }
          events.push({ at: performance.now(), kind: 'accept', ...optionalId(id) });
          users.push(String(session.user ?? ''));
          callback(null);
        });
      },
    });

  const smtp: FaultSmtp = {
    get port() {
      return port;
    },
    connectScript: [],
    authScript: [],
    dataScript: [],
    events,
    users,
    accepted: () => countIds(events.filter((e) => e.kind === 'accept')),
    async stop() {
      const closing = server;
      server = undefined;
      if (closing === undefined) return;
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => closing.close(() => resolve()));
    },
    async start() {
      if (server !== undefined) return;
      const next = build();
      next.server.on('connection', (socket: Socket) => {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
      });
      await new Promise<void>((resolve, reject) => {
        next.server.once('error', reject);
        next.listen(port, '127.0.0.1', () => {
          next.server.off('error', reject);
          resolve();
        });
      });
      server = next;
      port = (next.server.address() as AddressInfo).port;
    },
  };
  await smtp.start();
  onCleanup(() => smtp.stop());
  return smtp;
}

/** How the HTTP receiver answers one request. */
export type HttpFault =
  | { status: number; retryAfter?: string; echo?: boolean }
  /** 200, but only after `slowMs` (longer than the client's timeout): processed, answer too late. */
  | { slowMs: number }
  /** Reads the request, processes it, then resets the connection before answering. */
  | 'reset'
  /** Never answers and does not process. */
  | 'hang';

/** One request the receiver got. */
export interface Hit {
  at: number;
  /** The notification id the request carried. */
  id: string;
  /** What the receiver did: `200`, `429`, `slow`, `reset`, `hang`, ... */
  reply: string;
  /** Whether the receiver took the message as delivered. */
  processed: boolean;
  url: string;
  authorization: string | undefined;
  body: string;
}

export interface FaultReceiver {
  readonly url: string;
  readonly hits: Hit[];
  script: HttpFault[];
  fallback: HttpFault;
  /** How many times each notification id was processed. */
  processed(): Map<string, number>;
}

/**
 * Starts an HTTP receiver that reads the notification id of each request with `idOf`. Closed at cleanup.
 * @param idOf the id a request carries (from its headers or body)
 * @param fallback the answer once the script is used up (default 200)
 */
export async function startFaultReceiver(
  idOf: (headers: http.IncomingHttpHeaders, body: string) => string,
  fallback: HttpFault = { status: 200 },
): Promise<FaultReceiver> {
  const hits: Hit[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const hung = new Set<http.ServerResponse>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const fault = receiver.script.shift() ?? receiver.fallback;
      const hit: Hit = {
        at: performance.now(),
        id: idOf(req.headers, body),
        reply: '',
        processed: false,
        url: req.url ?? '',
        authorization: req.headers.authorization,
        body,
      };
      hits.push(hit);
      if (fault === 'hang') {
        hit.reply = 'hang';
        hung.add(res);
        return;
      }
      if (fault === 'reset') {
        hit.reply = 'reset';
        hit.processed = true;
        req.socket.destroy();
        return;
      }
      if ('slowMs' in fault) {
        hit.reply = 'slow';
        hit.processed = true;
        const timer = setTimeout(() => {
          timers.delete(timer);
          if (!res.destroyed) res.writeHead(200).end('ok');
        }, fault.slowMs);
        timers.add(timer);
        return;
      }
      hit.reply = String(fault.status);
      hit.processed = fault.status >= 200 && fault.status < 300;
      const headers: Record<string, string> = fault.retryAfter === undefined ? {} : { 'Retry-After': fault.retryAfter };
      res
        .writeHead(fault.status, headers)
        .end(
          fault.echo === true
            ? `${hit.url} ${String(hit.authorization)} ${body}`
            : fault.status < 300
              ? 'ok'
              : 'not now',
        );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const receiver: FaultReceiver = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hits,
    script: [],
    fallback,
    processed: () => countIds(hits.filter((h) => h.processed)),
  };
  onCleanup(
    () =>
      new Promise<void>((resolve) => {
        for (const timer of timers) clearTimeout(timer);
        for (const res of hung) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return receiver;
}

/** The webhook channel's notification id (its `X-Erlmcp-Notification-Id` header). */
export const webhookId = (headers: http.IncomingHttpHeaders): string =>
  decodeURIComponent(String(headers['x-erlmcp-notification-id'] ?? ''));

/** The Slack channel's notification id (its context line: `notification <id> · alert <alert id>`). */
export function slackId(_headers: http.IncomingHttpHeaders, body: string): string {
  const blocks = (JSON.parse(body) as { blocks: { type: string; elements?: { text: string }[] }[] }).blocks;
  const context = blocks.find((b) => b.type === 'context')?.elements?.[0]?.text ?? '';
  return /^notification (\S+) ·/.exec(context)?.[1] ?? '';
}

/** The retry policy `fastOutbox` installs. */
export interface FastOutboxPolicy {
  backoff: BackoffOptions;
  maxAttempts: number;
  /** Seed of the jitter source. Default 42. */
  seed?: number;
  /** How long closing waits for sends in flight before aborting them. Default: the outbox's (5000 ms). */
  closeTimeoutMs?: number;
}

/**
 * Makes every `Outbox.open` until cleanup use `policy` (everything else as the tree passes it), and
 * collects the outboxes opened, so a test can read `pending()`.
 */
export function fastOutbox(policy: FastOutboxPolicy): Outbox[] {
  const opened: Outbox[] = [];
  const realOpen = Outbox.open.bind(Outbox);
  const spy = vi.spyOn(Outbox, 'open').mockImplementation((options: OutboxOptions) => {
    const outbox = realOpen({
      ...options,
      backoff: policy.backoff,
      maxAttempts: policy.maxAttempts,
      random: mulberry32(policy.seed ?? 42),
      ...(policy.closeTimeoutMs === undefined ? {} : { closeTimeoutMs: policy.closeTimeoutMs }),
    });
    opened.push(outbox);
    return outbox;
  });
  onCleanup(() => spy.mockRestore());
  return opened;
}

/** Records every uncaught exception and unhandled rejection until cleanup. */
export function watchHost(): unknown[] {
  const escaped: unknown[] = [];
  const record = (err: unknown) => void escaped.push(err);
  process.on('uncaughtException', record);
  process.on('unhandledRejection', record);
  onCleanup(() => {
    process.off('uncaughtException', record);
    process.off('unhandledRejection', record);
  });
  return escaped;
}

/** Every log record as text, errors included with message, stack and cause. */
export function logText(records: readonly LogRecord[]): string {
  const expand = (_key: string, value: unknown): unknown =>
    value instanceof Error
      ? { ...value, name: value.name, message: value.message, stack: value.stack, cause: value.cause }
      : value;
  return records.map((r) => `${r.level} ${r.msg} ${JSON.stringify(r.fields, expand)}`).join('\n');
}

/** A retry the outbox logged. */
export interface LoggedRetry {
  channel: string;
  notificationId: string;
  attempts: number;
  delayMs: number;
  error: string;
}

/** The retries the outbox logged, in order. */
export function loggedRetries(records: readonly LogRecord[]): LoggedRetry[] {
  return records
    .filter((r) => r.msg === 'notification delivery failed; retrying')
    .map((r) => ({
      channel: String(r.fields.channel),
      notificationId: String(r.fields.notificationId),
      attempts: Number(r.fields.attempts),
      delayMs: Number(r.fields.delayMs),
      error: String(r.fields.error),
    }));
}

function countIds(items: readonly { id?: string }[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const { id } of items) if (id !== undefined) counts.set(id, (counts.get(id) ?? 0) + 1);
  return counts;
}

function optionalId(id: string | undefined): { id?: string } {
  return id === undefined ? {} : { id };
}
