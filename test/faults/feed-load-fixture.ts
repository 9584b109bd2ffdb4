/**
 * The feed-load fault test's parts: many ws clients in a child process (feed-load-clients.mjs),
 * one client that completes the upgrade, subscribes, and then never reads again (a raw TCP
 * socket, paused), and samples of this process's memory and TCP sockets.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';
import { onCleanup } from './tree-fixture.js';

/** What the client process reports at the end of the counting window. */
export interface ClientsReport {
  windowMs: number;
  /** Frames each client received in the window. */
  counts: number[];
  /** Distinct frames (by their `at`) that any client received in the window. */
  distinctFrames: number;
  /** Connections still open. */
  open: number;
  /** Gaps between consecutive frames of a client, ms, over all clients. */
  gaps: { n: number; p50: number | null; p99: number | null; max: number | null };
}

/** The client process. */
export interface Clients {
  ready: { connected: number; failed: number };
  start(): Promise<void>;
  report(): Promise<ClientsReport>;
  close(): Promise<number>;
}

/**
 * Forks feed-load-clients.mjs with `n` clients of `wsUrl` and waits until they are connected.
 * Killed at cleanup if still running.
 */
export async function forkClients(wsUrl: string, n: number): Promise<Clients> {
  const child: ChildProcess = fork(
    fileURLToPath(new URL('./feed-load-clients.mjs', import.meta.url)),
    [wsUrl, String(n)],
    { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  onCleanup(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });
  const answer = <T>(key: string): Promise<T> =>
    new Promise((resolve, reject) => {
      const onMessage = (msg: Record<string, unknown>) => {
        if (!(key in msg)) return;
        child.off('message', onMessage);
        child.off('exit', onExit);
        resolve(msg[key] as T);
      };
      const onExit = (code: number | null) =>
        reject(new Error(`feed-load-clients exited (${code}) before answering ${key}`));
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
  const ready = await answer<Clients['ready']>('ready');
  return {
    ready,
    async start() {
      const started = answer<boolean>('started');
      child.send({ type: 'start' });
      await started;
    },
    report() {
      const report = answer<ClientsReport>('report');
      child.send({ type: 'report' });
      return report;
    },
    async close() {
      const closed = answer<number>('closed');
      child.send({ type: 'close' });
      const n = await closed;
      await exited;
      return n;
    },
  };
}

/** A client text frame (clients must mask). */
function maskedTextFrame(text: string): Buffer {
  const payload = Buffer.from(text, 'utf8');
  if (payload.length >= 65_536) throw new Error('frame too long for this helper');
  const head =
    payload.length < 126
      ? Buffer.from([0x81, 0x80 | payload.length])
      : Buffer.from([0x81, 0x80 | 126, payload.length >> 8, payload.length & 0xff]);
  const mask = randomBytes(4);
  const masked = Buffer.alloc(payload.length);
  for (let i = 0; i < payload.length; i++) masked[i] = payload[i]! ^ mask[i & 3]!;
  return Buffer.concat([head, mask, masked]);
}

/**
 * Opens the feed on a raw TCP socket, sends `subscribe` (with `subscribe`'s fields), and from
 * then on never reads (nor answers pings): the server's send buffer to it fills. Destroyed at
 * cleanup.
 * @param url the feed's `ws://` URL
 */
export async function neverReadingClient(
  url: string,
  subscribe: { dashboards?: string[]; metrics?: string[] },
): Promise<Socket> {
  const u = new URL(url);
  const socket = connect(Number(u.port), u.hostname);
  onCleanup(() => void socket.destroy());
  socket.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.write(
    `GET ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
  );
  let head = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      socket.off('data', onData);
      socket.pause();
      resolve();
    };
    socket.on('data', onData);
    socket.once('close', () => reject(new Error(`feed closed the raw socket: ${head.slice(0, 200)}`)));
  });
  if (!head.startsWith('HTTP/1.1 101')) throw new Error(`feed refused the raw socket: ${head.slice(0, 200)}`);
  socket.write(maskedTextFrame(JSON.stringify({ type: 'subscribe', ...subscribe })));
  return socket;
}

/** Memory of this process, MB. */
export interface MemorySample {
  rss: number;
  heapUsed: number;
  /** Off-heap buffers (socket and frame Buffers live here). */
  external: number;
}

let gc: (() => void) | undefined;

/** Collects garbage (when V8 lets us expose `gc`), then samples memory. */
export function sampleMemory(collect = true): MemorySample {
  if (collect) {
    if (gc === undefined) {
      v8.setFlagsFromString('--expose-gc');
      gc = vm.runInNewContext('gc') as () => void;
    }
    gc();
  }
  const m = process.memoryUsage();
  const mb = (bytes: number) => Math.round((bytes / 1048576) * 10) / 10;
  return { rss: mb(m.rss), heapUsed: mb(m.heapUsed), external: mb(m.external) };
}

/** TCP sockets open in this process (the server's side of every feed connection, and the raw client). */
export function tcpSockets(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;
}
