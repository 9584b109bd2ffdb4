/**
 * A scripted HTTP receiver on 127.0.0.1 for export and channel tests: records every request (path,
 * headers, raw body) and answers each with the next scripted reply (the last one repeats).
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** A status with optional headers, or `'hang'` (never answer until the server closes). */
export type Reply = { status: number; headers?: Record<string, string>; body?: string } | 'hang';

export interface Receiver {
  readonly url: string;
  readonly requests: Received[];
  /** Replaces the remaining script. */
  script(replies: Reply[]): void;
  close(): Promise<void>;
}

export async function startReceiver(replies: Reply[] = [{ status: 204 }]): Promise<Receiver> {
  let script = [...replies];
  const requests: Received[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests.push({ path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) });
      const reply = script.length > 1 ? script.shift()! : script[0]!;
      if (reply === 'hang') return;
      res.writeHead(reply.status, reply.headers).end(reply.body ?? '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    script: (r) => void (script = [...r]),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
