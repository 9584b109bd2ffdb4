/**
 * The feed-load fault test's clients, in their own process so their CPU does not stall the
 * server's event loop: `node feed-load-clients.mjs <ws url> <n>`.
 *
 * Opens `n` ws connections (permessage-deflate off, as the server has it; at most 100 handshakes
 * at a time), each staying on its initial subscription (the "main" dashboard), and counts the
 * `frame` messages each receives and the gaps between them (arrival times, this process's
 * monotonic clock), and the distinct frames (by `at`) any of them received. Plain JS so it runs without a build step.
 *
 * IPC: sends `{ ready: { connected, failed } }` once every connection is open; `{ type: 'start' }`
 * opens the counting window; `{ type: 'report' }` closes it and answers `{ report }` (per-client
 * frame counts, distinct frames, gap percentiles over all clients, the window's length); `{ type: 'close' }`
 * closes every connection (close handshake, terminate after 2 s) and answers `{ closed }`.
 * Exits when the parent goes away.
 */
import { performance } from 'node:perf_hooks';
import { WebSocket } from 'ws';

const [url, nArg] = process.argv.slice(2);
const n = Number(nArg);
if (url === undefined || !Number.isInteger(n) || n < 1) {
  console.error('usage: feed-load-clients.mjs <ws url> <clients>');
  process.exit(2);
}

const CONCURRENT_CONNECTS = 100;
const FRAME_HEAD = '{"type":"frame"';
const AT = /^\{"type":"frame","at":([0-9.e+]+)/;
/** The distinct frames (by their `at`) any client received in the window. */
const union = new Set();

/** @type {Array<{ ws: WebSocket, frames: number, last: number | undefined, gaps: number[] }>} */
const clients = [];
let failed = 0;
let counting = false;
let windowStart = 0;

function connect() {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    const client = { ws, frames: 0, last: undefined, gaps: [] };
    ws.on('message', (data) => {
      if (!counting || data.toString('latin1', 0, FRAME_HEAD.length) !== FRAME_HEAD) return;
      const now = performance.now();
      client.frames++;
      const at = AT.exec(data.toString('latin1', 0, 48));
      if (at !== null) union.add(at[1]);
      if (client.last !== undefined) client.gaps.push(now - client.last);
      client.last = now;
    });
    ws.once('open', () => {
      clients.push(client);
      resolve();
    });
    ws.once('error', () => {
      failed++;
      resolve();
    });
  });
}

let next = 0;
async function worker() {
  while (next < n) {
    next++;
    await connect();
  }
}
await Promise.all(Array.from({ length: Math.min(CONCURRENT_CONNECTS, n) }, worker));
process.send({ ready: { connected: clients.length, failed } });

function percentile(sorted, q) {
  return sorted.length === 0 ? null : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

process.on('message', async (msg) => {
  if (msg?.type === 'start') {
    for (const c of clients) {
      c.frames = 0;
      c.last = undefined;
      c.gaps = [];
    }
    union.clear();
    windowStart = performance.now();
    counting = true;
    process.send({ started: true });
  } else if (msg?.type === 'report') {
    counting = false;
    const windowMs = performance.now() - windowStart;
    const gaps = clients.flatMap((c) => c.gaps).sort((a, b) => a - b);
    process.send({
      report: {
        windowMs,
        counts: clients.map((c) => c.frames),
        distinctFrames: union.size,
        open: clients.filter((c) => c.ws.readyState === WebSocket.OPEN).length,
        gaps: { n: gaps.length, p50: percentile(gaps, 0.5), p99: percentile(gaps, 0.99), max: gaps.at(-1) ?? null },
      },
    });
  } else if (msg?.type === 'close') {
    const closed = clients.map(
      (c) => new Promise((resolve) => (c.ws.readyState === WebSocket.CLOSED ? resolve() : c.ws.once('close', resolve))),
    );
    for (const c of clients) c.ws.close(1000, 'done');
    const timer = setTimeout(() => {
      for (const c of clients) c.ws.terminate();
    }, 2000);
    await Promise.all(closed);
    clearTimeout(timer);
    process.send({ closed: clients.length }, () => process.exit(0));
  }
});
process.on('disconnect', () => process.exit(0));
