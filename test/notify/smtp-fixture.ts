/**
 * A real SMTP server on 127.0.0.1 (the `smtp-server` package) that stores what it receives and
 * follows a script per message: accept, reject with a code, or drop the connection mid-message.
 * Plus a small MIME reader for the messages nodemailer writes (headers, text and HTML parts).
 */
import type { AddressInfo, Socket } from 'node:net';
import { SMTPServer } from 'smtp-server';

/** What the server does with one message's DATA. */
export type SmtpBehaviour = 'accept' | 'drop' | { code: number; message: string };

/** A received message. */
export interface ReceivedMail {
  from: string;
  to: string[];
  /** Who logged in, if anyone. */
  user: string | undefined;
  raw: string;
  headers: Map<string, string>;
  text: string;
  html: string;
}

export interface SmtpStub {
  readonly port: number;
  readonly mails: ReceivedMail[];
  /** DATA commands begun (including dropped and rejected ones). */
  readonly attempts: () => number;
  script: SmtpBehaviour[];
  close(): Promise<void>;
}

/**
 * Starts the server. With `auth`, only that user/password may log in (PLAIN/LOGIN over plain TCP:
 * STARTTLS is disabled, as the test has no certificate the client would trust).
 */
export async function startSmtp(
  options: { auth?: { user: string; pass: string }; port?: number } = {},
): Promise<SmtpStub> {
  const mails: ReceivedMail[] = [];
  const sockets = new Set<Socket>();
  let attempts = 0;
  const stub: SmtpStub = {
    port: 0,
    mails,
    attempts: () => attempts,
    script: [],
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
  const server = new SMTPServer({
    logger: false,
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    authOptional: options.auth === undefined,
    onAuth(auth, _session, callback) {
      if (options.auth !== undefined && auth.username === options.auth.user && auth.password === options.auth.pass) {
        callback(null, { user: auth.username });
      } else {
        callback(Object.assign(new Error('Authentication credentials invalid'), { responseCode: 535 }));
      }
    },
    onData(stream, session, callback) {
      attempts++;
      const behaviour = stub.script.shift() ?? 'accept';
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        if (behaviour === 'drop') {
          for (const socket of sockets) if (socket.remotePort === session.remotePort) socket.destroy();
        }
      });
      stream.on('end', () => {
        if (behaviour === 'drop') return;
        if (behaviour !== 'accept') {
          callback(Object.assign(new Error(behaviour.message), { responseCode: behaviour.code }));
          return;
        }
        const raw = Buffer.concat(chunks).toString('utf8');
        mails.push({
          from: session.envelope.mailFrom === false ? '' : session.envelope.mailFrom.address,
          to: session.envelope.rcptTo.map((r) => r.address),
          user: session.user as string | undefined,
          raw,
          ...parseMime(raw),
        });
        callback(null);
      });
    },
  });
  server.server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  (stub as { port: number }).port = (server.server.address() as AddressInfo).port;
  return stub;
}

/** Headers (unfolded, lower-case names, encoded words decoded) and the decoded text/html parts. */
export function parseMime(raw: string): { headers: Map<string, string>; text: string; html: string } {
  const { headers, body } = splitEntity(raw);
  const parts: { headers: Map<string, string>; body: string }[] = [];
  const collect = (entity: { headers: Map<string, string>; body: string }): void => {
    const type = entity.headers.get('content-type') ?? 'text/plain';
    const boundary = /boundary="?([^";]+)"?/i.exec(type)?.[1];
    if (type.startsWith('multipart/') && boundary !== undefined) {
      for (const piece of entity.body.split(`--${boundary}`).slice(1, -1))
        collect(splitEntity(piece.replace(/^\r\n/, '')));
    } else {
      parts.push(entity);
    }
  };
  collect({ headers, body });
  const decoded = (mime: string) => {
    const part = parts.find((p) => (p.headers.get('content-type') ?? 'text/plain').startsWith(mime));
    return part === undefined ? '' : decodeBody(part.body, part.headers.get('content-transfer-encoding') ?? '7bit');
  };
  return { headers, text: decoded('text/plain'), html: decoded('text/html') };
}

function splitEntity(raw: string): { headers: Map<string, string>; body: string } {
  const end = raw.indexOf('\r\n\r\n');
  const head = raw.slice(0, end).replace(/\r\n[ \t]/g, ' ');
  const headers = new Map<string, string>();
  for (const line of head.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) headers.set(line.slice(0, colon).toLowerCase(), decodeWords(line.slice(colon + 1).trim()));
  }
  return { headers, body: raw.slice(end + 4) };
}

function decodeWords(value: string): string {
  return value
    .replace(/\?=\s+=\?/g, '?==?')
    .replace(/=\?utf-8\?([QB])\?([^?]*)\?=/gi, (_m, enc: string, text: string) =>
      enc.toUpperCase() === 'B' ? Buffer.from(text, 'base64').toString('utf8') : decodeQp(text.replace(/_/g, ' ')),
    );
}

function decodeBody(body: string, encoding: string): string {
  const trimmed = body.replace(/\r\n$/, '');
  if (/base64/i.test(encoding)) return Buffer.from(trimmed.replace(/\s+/g, ''), 'base64').toString('utf8');
  if (/quoted-printable/i.test(encoding)) return decodeQp(trimmed.replace(/=\r\n/g, '')).replace(/\r\n/g, '\n');
  return trimmed.replace(/\r\n/g, '\n');
}

function decodeQp(text: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '=' && /^[0-9A-F]{2}$/i.test(text.slice(i + 1, i + 3))) {
      bytes.push(parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(text[i]!, 'utf8'));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}
