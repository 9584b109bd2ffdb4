/**
 * `node dist/bench/e2e-alloc.js [--requests N] [mode...]`: heap bytes each service of the end-to-end
 * bench allocates per request, read from V8 itself: every service process runs under
 * `--trace-gc-nvp` (each collection prints `allocated=<bytes since the previous one>`) and
 * `--expose-gc`; after a warm-up, the bench marks the start with a full collection, sends exactly
 * N requests (autocannon `amount`, 10 connections), marks the end with another, and sums the
 * `allocated=` of the collections in between. The load generator is this process, so nothing it
 * allocates counts. The library's share is a mode's figure minus its plain twin's (`http-only`,
 * `http-route` against `plain`; `fastify-route` against `fastify-plain`).
 *
 * Default modes: plain, http-only, http-route, fastify-plain, fastify-route; N = 100,000.
 */
import autocannon from 'autocannon';
import os from 'node:os';
import { CONNECTIONS, startService, stopService, type Service } from './e2e-control.js';

const WARM_UP_REQUESTS = 20_000;

/** Sends exactly `amount` requests to the service and resolves once all are answered. */
function send(port: number, amount: number): Promise<number> {
  return new Promise((resolve, reject) => {
    autocannon({ url: `http://127.0.0.1:${port}/`, connections: CONNECTIONS, amount }, (err, result) =>
      err ? reject(err) : resolve(result['2xx']),
    );
  });
}

/** Asks the service for a full collection; resolves once it is done (its nvp line is then written). */
function mark(service: Service): Promise<void> {
  return new Promise((resolve) => {
    const on = (m: { gcDone?: boolean }) => {
      if (!m?.gcDone) return;
      service.child.off('message', on);
      resolve();
    };
    service.child.on('message', on);
    service.child.send({ type: 'gc' });
  });
}

/** Bytes the service in `mode` allocates per request over `requests` requests, and how many collections that took. */
export async function allocationPerRequest(
  mode: string,
  requests: number,
): Promise<{ bytesPerRequest: number; collections: number; answered: number }> {
  const service = await startService(mode, ['--expose-gc', '--trace-gc-nvp'], true);
  // Each nvp line ends with a newline; `allocated=` is the bytes allocated since the previous collection.
  const allocations: number[] = [];
  let partial = '';
  service.child.stdout!.setEncoding('utf8');
  service.child.stdout!.on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      const m = / allocated=(\d+)/.exec(line);
      if (m !== null) allocations.push(Number(m[1]));
    }
  });
  try {
    await send(service.port, WARM_UP_REQUESTS);
    await mark(service);
    await new Promise((r) => setImmediate(r)); // the mark's own line, written before its reply
    const from = allocations.length;
    const answered = await send(service.port, requests);
    await mark(service);
    await new Promise((r) => setTimeout(r, 50));
    const between = allocations.slice(from); // the collections during the burst, then the end mark
    return { bytesPerRequest: between.reduce((a, b) => a + b, 0) / answered, collections: between.length, answered };
  } finally {
    await stopService(service.child);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const at = args.indexOf('--requests');
  const requests = at >= 0 ? Number(args.splice(at, 2)[1]) : 100_000;
  const modes = args.length > 0 ? args : ['plain', 'http-only', 'http-route', 'fastify-plain', 'fastify-route'];
  const found = new Map<string, number>();
  for (const mode of modes) {
    const r = await allocationPerRequest(mode, requests);
    found.set(mode, r.bytesPerRequest);
    const twin = mode.startsWith('fastify-') ? 'fastify-plain' : 'plain';
    const base = found.get(twin);
    const extra = base !== undefined && twin !== mode ? `, library +${(r.bytesPerRequest - base).toFixed(0)} B` : '';
    console.log(
      `${mode}: ${r.bytesPerRequest.toFixed(0)} B/request over ${r.answered} requests (${r.collections} collections)${extra}; load average ${os.loadavg()[0]!.toFixed(2)}`,
    );
  }
}
