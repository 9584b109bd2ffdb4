/**
 * The live-feed bench's clients, run in their own process: `node feed-clients.js <ws url> <n> <metric>`.
 * Opens `n` ws connections (permessage-deflate off, as the server has it), each subscribing to
 * `metric` directly, and timestamps every frame on arrival, before any parsing: delivery latency
 * is arrival minus the frame's `at` (the server's high-resolution wall clock when the tick began;
 * both processes read the same system clock through `performance.timeOrigin + performance.now()`).
 *
 * IPC: sends `{ ready: { connected, failed } }` once every connection is subscribed; on
 * `{ type: 'report' }` answers `{ report: { latencies, ats, frameBytes } }` with the delivery
 * latencies (ms) since the last report and each frame's `at` (which tick it belongs to); on `{ type: 'close' }` terminates every connection and exits. Exits
 * too if the parent goes away.
 */
import { performance } from 'node:perf_hooks';
import { WebSocket } from 'ws';

const [url, nArg, metric] = process.argv.slice(2);
const n = Number(nArg);
if (url === undefined || !Number.isInteger(n) || n < 1 || metric === undefined) {
  console.error('usage: feed-clients.js <ws url> <clients> <metric>');
  process.exit(2);
}

/** How many handshakes run at once: more only makes the listen backlog overflow. */
const CONCURRENT_CONNECTS = 100;
const AT = /"at":([0-9.e+]+)/;

const sockets: WebSocket[] = [];
/** Delivery latency (ms) of every frame since the last report, with the frame's `at`. */
let latencies: number[] = [];
let ats: number[] = [];
let frameBytes = 0;
let failed = 0;

function connect(): Promise<void> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url!, { perMessageDeflate: false });
    let subscribed = false;
    ws.on('message', (data: Buffer) => {
      const arrived = performance.timeOrigin + performance.now();
      if (!subscribed) {
        if (data.toString('latin1', 0, 24).includes('"subscribed"')) {
          subscribed = true;
          sockets.push(ws);
          resolve();
        }
        return;
      }
      const head = AT.exec(data.toString('latin1', 0, 48));
      if (head === null) return;
      const at = Number(head[1]);
      latencies.push(arrived - at);
      ats.push(at);
      frameBytes = data.length;
    });
    ws.once('open', () => ws.send(JSON.stringify({ type: 'subscribe', metrics: [metric] })));
    ws.once('error', () => {
      failed++;
      resolve();
    });
  });
}

let next = 0;
async function worker(): Promise<void> {
  while (next < n) {
    next++;
    await connect();
  }
}
await Promise.all(Array.from({ length: Math.min(CONCURRENT_CONNECTS, n) }, worker));
process.send!({ ready: { connected: sockets.length, failed } });

process.on('message', (msg: { type?: string }) => {
  if (msg?.type === 'report') {
    process.send!({ report: { latencies, ats, frameBytes } });
    latencies = [];
    ats = [];
  } else if (msg?.type === 'close') {
    for (const ws of sockets) ws.terminate();
    process.exit(0);
  }
});
process.on('disconnect', () => process.exit(0));
