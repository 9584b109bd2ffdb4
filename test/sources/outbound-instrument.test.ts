import { createServer, request, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import { post } from '../../src/net/post.js';
import {
  failureKind,
  instrumentOutbound,
  OTHER_HOST,
  OUTBOUND_METRICS,
} from '../../src/sources/outbound-instrument.js';
import { expectMonitorError } from '../helpers.js';
import { newRegistry } from '../metrics/table-fixture.js';

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function listen(handler: RequestListener): Promise<{ server: Server; port: number; host: string }> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  );
  const port = (server.address() as AddressInfo).port;
  return { server, port, host: `127.0.0.1:${port}` };
}

/** A port nothing listens on: one a server had a moment ago. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/**
 * Answers by path: 200, 500, a slow 200 (after `slowMs`), or a reset before any answer.
 * `onSlow` is told when a slow request has arrived (so a test can abort it then, not at a guess).
 */
function statusServer(slowMs = 300, onSlow: () => void = () => {}) {
  return listen((req, res) => {
    if (req.url?.startsWith('/ok')) res.end('ok');
    else if (req.url?.startsWith('/fail')) res.writeHead(500).end('boom');
    else if (req.url?.startsWith('/slow')) {
      onSlow();
      const timer = setTimeout(() => res.end('late'), slowMs);
      res.on('close', () => clearTimeout(timer));
    } else if (req.url?.startsWith('/reset')) req.socket.destroy();
    else res.writeHead(404).end();
  });
}

function httpGet(port: number, path: string, options: { timeoutMs?: number } = {}): Promise<number | string> {
  return new Promise((resolve) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        agent: false,
        ...(options.timeoutMs === undefined ? {} : { timeout: options.timeoutMs }),
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode!));
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
    req.end();
  });
}

async function fetchStatus(url: string, init?: RequestInit): Promise<number | string> {
  try {
    const res = await fetch(url, init);
    await res.arrayBuffer();
    return res.status;
  } catch (err) {
    return (err as Error).name;
  }
}

function instrumented(options?: Parameters<typeof instrumentOutbound>[1]) {
  const fixture = newRegistry();
  const remove = instrumentOutbound(fixture.registry, options, fixture.logger);
  cleanups.push(remove);
  const requests = fixture.registry.require(OUTBOUND_METRICS.requests, 'counter');
  const errors = fixture.registry.require(OUTBOUND_METRICS.errors, 'counter');
  const duration = fixture.registry.require(OUTBOUND_METRICS.duration, 'histogram');
  return { ...fixture, remove, requests, errors, duration };
}

describe('instrument.outbound', () => {
  it('counts fetch against local servers answering 200/500/slow/reset by status, and its errors by kind, exactly', async () => {
    let slowArrived = () => {};
    const { host } = await statusServer(300, () => slowArrived());
    const refused = await closedPort();
    const { requests, errors, duration } = instrumented();
    // Aborts a slow request once the server has it (the request has started), with `reason`.
    const abortedOnArrival = (reason?: unknown) => {
      const aborter = new AbortController();
      slowArrived = () => aborter.abort(reason);
      return fetchStatus(`${base}/slow`, { signal: aborter.signal });
    };
    const base = `http://${host}`;
    const outcomes: (number | string)[] = [];
    for (let i = 0; i < 3; i++) outcomes.push(await fetchStatus(`${base}/ok?user=${i}`));
    for (let i = 0; i < 2; i++) outcomes.push(await fetchStatus(`${base}/fail`, { method: 'POST', body: 'x' }));
    outcomes.push(await fetchStatus(`${base}/slow`));
    // What AbortSignal.timeout(ms) aborts with, at a moment the test controls.
    outcomes.push(await abortedOnArrival(new DOMException('The operation was aborted due to timeout', 'TimeoutError')));
    outcomes.push(await abortedOnArrival());
    slowArrived = () => {};
    outcomes.push(await fetchStatus(`${base}/reset`));
    outcomes.push(await fetchStatus(`http://127.0.0.1:${refused}/ok`));
    expect(outcomes).toEqual([200, 200, 200, 500, 500, 200, 'TimeoutError', 'AbortError', 'TypeError', 'TypeError']);

    const get = { client: 'fetch', method: 'GET', host };
    expect(requests.get({ ...get, status: '2xx' })).toBe(4);
    expect(requests.get({ client: 'fetch', method: 'POST', host, status: '5xx' })).toBe(2);
    expect(requests.get({ ...get, status: 'error' })).toBe(3);
    expect(requests.get({ client: 'fetch', method: 'GET', host: `127.0.0.1:${refused}`, status: 'error' })).toBe(1);
    expect(requests.series().reduce((n, s) => n + s.value, 0)).toBe(10);

    expect(errors.get({ client: 'fetch', method: 'POST', host, error: '5xx' })).toBe(2);
    expect(errors.get({ ...get, error: 'timeout' })).toBe(1);
    expect(errors.get({ ...get, error: 'aborted' })).toBe(1);
    expect(errors.get({ ...get, error: 'reset' })).toBe(1);
    expect(errors.get({ client: 'fetch', method: 'GET', host: `127.0.0.1:${refused}`, error: 'refused' })).toBe(1);
    expect(errors.series().reduce((n, s) => n + s.value, 0)).toBe(6);

    expect(duration.get(get)!.count).toBe(7);
    // The slow answer came after its 300 ms timer (libuv may fire a timer a few ms "early" on a loaded machine).
    expect(duration.get(get)!.max!).toBeGreaterThanOrEqual(250);
    // No path or query string became a label value.
    const labelValues = [requests, errors, duration].flatMap((m) => m.series().flatMap((s) => Object.values(s.labels)));
    expect(labelValues.filter((v) => v.includes('/') || v.includes('?'))).toEqual([]);
  });

  it('counts node:http client requests by status and errors exactly', async () => {
    const { host, port } = await statusServer();
    const refused = await closedPort();
    const { requests, errors, duration } = instrumented();
    const outcomes = [
      await httpGet(port, '/ok'),
      await httpGet(port, '/ok?token=secret'),
      await httpGet(port, '/fail'),
      await httpGet(port, '/nothing-here'),
      await httpGet(port, '/slow'),
      await httpGet(port, '/slow', { timeoutMs: 30 }),
      await httpGet(port, '/reset'),
      await httpGet(refused, '/ok'),
    ];
    expect(outcomes).toEqual([200, 200, 500, 404, 200, 'ECONNRESET', 'ECONNRESET', 'ECONNREFUSED']);
    const get = { client: 'http', method: 'GET', host };
    expect(requests.get({ ...get, status: '2xx' })).toBe(3);
    expect(requests.get({ ...get, status: '4xx' })).toBe(1);
    expect(requests.get({ ...get, status: '5xx' })).toBe(1);
    expect(requests.get({ ...get, status: 'error' })).toBe(2);
    expect(requests.get({ ...get, host: `127.0.0.1:${refused}`, status: 'error' })).toBe(1);
    expect(errors.get({ ...get, error: '5xx' })).toBe(1);
    // A destroyed request (the timeout above) and a reset connection both end in "socket hang up".
    expect(errors.get({ ...get, error: 'reset' })).toBe(2);
    expect(errors.get({ ...get, host: `127.0.0.1:${refused}`, error: 'refused' })).toBe(1);
    expect(errors.series().reduce((n, s) => n + s.value, 0)).toBe(4);
    expect(duration.get(get)!.count).toBe(7);
  });

  it("leaves out the monitor's own requests (src/net/post.ts)", async () => {
    const { port, host } = await statusServer();
    const { requests, errors } = instrumented();
    const own = await post(new URL(`http://${host}/fail`), 'alert', { headers: {}, agent: false, timeoutMs: 5000 });
    expect(own.status).toBe(500);
    await expect(
      post(new URL(`http://${host}/reset`), 'alert', { headers: {}, agent: false, timeoutMs: 5000 }),
    ).rejects.toThrow(/ECONNRESET/);
    expect(await httpGet(port, '/ok')).toBe(200);
    expect(requests.series().map((s) => [s.labels, s.value])).toEqual([
      [{ client: 'http', method: 'GET', host, status: '2xx' }, 1],
    ]);
    expect(errors.series()).toEqual([]);
  });

  it('counts hosts past maxHosts as "other", warning once', async () => {
    const servers = await Promise.all([0, 1, 2, 3].map(() => statusServer()));
    const { requests, logger } = instrumented({ maxHosts: 2 });
    for (const { host } of servers) {
      expect(await fetchStatus(`http://${host}/ok`)).toBe(200);
      expect(await fetchStatus(`http://${host}/ok`)).toBe(200);
    }
    const byHost = Object.fromEntries(requests.series().map((s) => [s.labels.host, s.value]));
    expect(byHost).toEqual({ [servers[0]!.host]: 2, [servers[1]!.host]: 2, [OTHER_HOST]: 4 });
    expect(logger.records.filter((r) => r.level === 'warn').map((r) => r.msg)).toEqual([
      expect.stringContaining('more than 2 distinct hosts'),
    ]);
  });

  it('counts nothing once removed, and can then be added again', async () => {
    const { host } = await statusServer();
    const { registry, requests, remove, logger } = instrumented({ http: false });
    expect(await fetchStatus(`http://${host}/ok`)).toBe(200);
    expect(await httpGet(Number(host.split(':')[1]), '/ok')).toBe(200); // http: false
    remove();
    expect(await fetchStatus(`http://${host}/ok`)).toBe(200);
    expect(requests.series().map((s) => [s.labels.client, s.value])).toEqual([['fetch', 1]]);
    const again = instrumentOutbound(registry, {}, logger);
    cleanups.push(again);
    expect(await fetchStatus(`http://${host}/ok`)).toBe(200);
    expect(requests.series().map((s) => s.value)).toEqual([2]);
  });

  it('uses isError for status errors, and survives one that throws', async () => {
    const { host } = await statusServer();
    const { errors, logger } = instrumented({
      isError: (status) => {
        if (status === 404) throw new Error('judge broke');
        return status >= 400;
      },
    });
    expect(await fetchStatus(`http://${host}/fail`)).toBe(500);
    expect(await fetchStatus(`http://${host}/missing`)).toBe(404);
    expect(await fetchStatus(`http://${host}/missing`)).toBe(404);
    expect(errors.series().map((s) => [s.labels.error, s.value])).toEqual([['5xx', 1]]);
    expect(logger.records.filter((r) => r.level === 'warn')).toHaveLength(1);
  });

  it('refuses bad options and a second instrumentation of one table, naming them', () => {
    const { registry } = newRegistry();
    expectMonitorError(
      () => instrumentOutbound(registry, { maxHosts: 0 }),
      ErrorCode.InvalidOption,
      /maxHosts must be a positive integer, got 0/,
    );
    expectMonitorError(
      () => instrumentOutbound(registry, { fetch: 'yes' as unknown as boolean }),
      ErrorCode.InvalidOption,
      /fetch must be a boolean/,
    );
    expectMonitorError(
      () => instrumentOutbound(registry, { isError: 5 as unknown as () => boolean }),
      ErrorCode.InvalidOption,
      /isError must be a function/,
    );
    const remove = instrumentOutbound(registry);
    cleanups.push(remove);
    expectMonitorError(() => instrumentOutbound(registry), ErrorCode.InvalidOption, /instrumented already/);
    expectMonitorError(
      () => registry.counter(OUTBOUND_METRICS.requests),
      ErrorCode.MetricConflict,
      /owned by instrument.outbound/,
    );
  });

  it('names failure kinds from codes and causes', () => {
    expect(
      failureKind(
        Object.assign(new TypeError('fetch failed'), {
          cause: Object.assign(new Error('x'), { code: 'ECONNREFUSED' }),
        }),
      ),
    ).toBe('refused');
    expect(failureKind(Object.assign(new Error('x'), { code: 'ENOTFOUND' }))).toBe('dns');
    expect(failureKind(Object.assign(new Error('x'), { code: 'ERR_TLS_CERT_ALTNAME_INVALID' }))).toBe('tls');
    expect(failureKind(new DOMException('t', 'TimeoutError'))).toBe('timeout');
    expect(failureKind('weird')).toBe('other');
  });
});
