/**
 * Requests for the access fault suite: plain GETs and WebSocket upgrades with exactly the headers
 * given (no client adds its own `Authorization` or `Origin`), and a "leaky" HTTP service that
 * answers every request with an error whose body echoes the request line and headers, so a
 * channel that put a server's reply into an error or a log would carry its own secret with it.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { onCleanup } from './tree-fixture.js';

/** An HTTP answer. */
export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/**
 * GET `url` with exactly `headers` (plus `Host`, unless given) on a fresh connection.
 * @param url e.g. `http://127.0.0.1:8080/api/alerts?token=x`
 */
export function get(url: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

/**
 * Asks for a WebSocket upgrade of `url` with `headers`; resolves with the status (101 when the
 * server accepted, then the socket is closed at once) and any refusal body.
 */
export function upgrade(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, {
      agent: false,
      headers: {
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
        'sec-websocket-version': '13',
        ...headers,
      },
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode ?? 0, body: '' });
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * An HTTP service on 127.0.0.1:0 that answers every request with `status` and a body echoing the
 * request's method, URL, headers and body (a misbehaving server, or a proxy's debug page).
 * Records the requests; closed at cleanup.
 */
export async function echoService(
  status: number,
): Promise<{ url: string; requests: { url: string; headers: http.IncomingHttpHeaders }[] }> {
  const requests: { url: string; headers: http.IncomingHttpHeaders }[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      requests.push({ url: req.url ?? '', headers: req.headers });
      const echo = JSON.stringify({
        error: 'rejected',
        method: req.method,
        url: req.url,
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8').slice(0, 500),
      });
      res.writeHead(status, { 'content-type': 'application/json' }).end(echo);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onCleanup(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests };
}

/**
 * An SMTP server on 127.0.0.1:0 that refuses every login with a 535 whose text repeats the user
 * name and password it was given (as a careless server might). Closed at cleanup.
 */
export async function leakySmtp(): Promise<{ port: number; logins: () => number }> {
  let logins = 0;
  const server = new SMTPServer({
    logger: false,
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    closeTimeout: 100,
    onAuth(auth, _session, callback) {
      logins++;
      callback(
        Object.assign(new Error(`login refused for ${auth.username} with password ${auth.password}`), {
          responseCode: 535,
        }),
      );
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onCleanup(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { port: (server.server.address() as AddressInfo).port, logins: () => logins };
}

/** JSON of `value` with every Error spelled out (message, stack, cause, own fields), for scanning. */
export function dump(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v instanceof Error) {
      const out: Record<string, unknown> = { name: v.name, message: v.message, stack: v.stack, cause: v.cause };
      for (const key of Object.keys(v)) out[key] = (v as unknown as Record<string, unknown>)[key];
      return out;
    }
    return typeof v === 'bigint' ? String(v) : v;
  });
}
