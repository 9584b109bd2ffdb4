/**
 * Bad HTTP input against the real dashboard server, tried systematically with fast-check (fixed
 * seeds): every route with generated query parameters, path traversal on the static files, wrong
 * methods, bodies on GET, bad Accept headers, very long URLs, and raw-socket garbage (malformed
 * request lines, header floods, a slowloris client).
 *
 * Every answer must be a 4xx with a JSON `{ error }` naming what was wrong (or the documented
 * behaviour), never a 500, never a hang (each request has a deadline), and no state change: the
 * table and the LMDB store are compared before and after each batch, and a good request after
 * each batch answers 200.
 */
import { readFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { PAGE_HTML, runCleanups, startDashboard, type Fixture } from '../server/dashboard-fixture.js';
import { runCleanups as runTreeCleanups, startTree } from './tree-fixture.js';
import {
  dashboardState,
  get,
  rawRequest,
  requestText,
  seedTable,
  wireEncode,
  type RawResponse,
} from './wire-fixture.js';
import { PROMETHEUS_CONTENT_TYPE } from '../../src/exposition/prometheus-text.js';
import { OPENMETRICS_CONTENT_TYPE } from '../../src/exposition/openmetrics-text.js';
import { renderExposition } from '../../src/exposition/negotiate.js';
import { DEFAULT_HTTP_TIMEOUTS, MAX_URL_BYTES } from '../../src/server/request-guard.js';

afterEach(async () => {
  await runCleanups();
  await runTreeCleanups();
});

const T0 = 1_700_000_000_000;
const REPORT = { overall: 90, checked_at: T0 };

/** Each route and the query parameters it takes (`token` is taken everywhere). */
const ROUTES: Record<string, readonly string[]> = {
  '/api/dashboards': [],
  '/api/dashboards/main': [],
  '/api/realtime': ['dashboard'],
  '/api/history': ['metric', 'labels', 'stat', 'dashboard', 'from', 'to', 'points'],
  '/api/export': ['metric', 'labels', 'stat', 'dashboard', 'from', 'to', 'points', 'format'],
  '/api/alerts': [],
  '/api/slas': [],
  '/api/report': [],
  '/metrics': [],
  '/health': [],
};
const ALL_PARAMS = [...new Set(Object.values(ROUTES).flat()), 'token'];

/** Already on the wire: percent-encoding garbage, overlong UTF-8, encoded lone surrogates, traversal. */
const RAW_GARBAGE = [
  '%zz',
  '%',
  '%0',
  '%00',
  '%C0%AF',
  '%C0%AE%C0%AE',
  '%ED%A0%80',
  '%ED%BF%BF',
  '%FF%FE',
  '%E2%82',
  '%F4%90%80%80',
  '%252e',
  '%2e%2e%2f',
  '..%2f',
  '%5c',
  '+',
  '%20',
  '=',
  ';',
  '%3D',
  '%26',
];
const NUMBERS = [
  'NaN',
  'Infinity',
  '-Infinity',
  '1e309',
  '-1e309',
  '1e3',
  '0x10',
  '0b1',
  '1.5',
  '-0',
  '-1',
  '0',
  '00001',
  ' 1',
  '1 ',
  '9007199254740993',
  '99999999999999999999',
  '-9999999999999999',
  '',
  '1_000',
  String(T0),
  String(T0 + 5000),
  String(T0 - 1),
];
const WORDS = [
  'main',
  'perf.latency',
  'system.cpu',
  'http.requests',
  'response_time',
  'nope',
  'no.such.metric',
  '__proto__',
  'constructor',
  'toString',
  'prototype',
  'main2',
  'a'.repeat(300),
];
const JSONISH = [
  '{"percentile":"p95"}',
  '{"code":"200"}',
  '{}',
  '[]',
  'null',
  '1',
  '"x"',
  '{"a":1}',
  '{"__proto__":"x"}',
  '{"constructor":"x"}',
  '{"percentile":"p95","extra":"y"}',
  '{',
  '{"a":{"b":"c"}}',
];
const CHOICES = ['value', 'rate', 'p50', 'p95', 'p99', 'mean', 'count', 'p100', 'VALUE', 'json', 'csv', 'xml', 'JSON'];

/** Any UTF-16 string, lone surrogates included. */
const anyText = (maxLength: number) =>
  fc.array(fc.integer({ min: 0, max: 0xffff }), { maxLength }).map((codes) => String.fromCharCode(...codes));

const paramValue = fc.oneof(
  fc.constantFrom(...RAW_GARBAGE),
  fc.constantFrom(...NUMBERS, ...WORDS, ...JSONISH, ...CHOICES).map(wireEncode),
  fc.integer({ min: T0 - 2 * 86_400_000, max: T0 + 2 * 86_400_000 }).map(String),
  fc.oneof(fc.integer(), fc.double()).map((n) => wireEncode(String(n))),
  anyText(20).map(wireEncode),
  fc.integer({ min: 500, max: 1200 }).map((n) => 'x'.repeat(n)),
);
const paramName = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...ALL_PARAMS) },
  fc.constantFrom(...RAW_GARBAGE),
  anyText(8).map(wireEncode),
);
/** A query string: 0-6 `name=value` pairs (names repeat, so duplicates come up), some without `=`. */
const queryString = fc
  .array(fc.tuple(paramName, paramValue, fc.boolean()), { maxLength: 6 })
  .map((pairs) => pairs.map(([n, v, eq]) => (eq ? `${n}=${v}` : n)).join('&'));
/** A valid history query with one thing wrong: a value replaced, a parameter dropped or repeated. */
const VALID_HISTORY: Record<string, string> = {
  metric: 'perf.latency',
  labels: wireEncode('{"percentile":"p95"}'),
  stat: 'value',
  from: String(T0),
  to: String(T0 + 10_000),
  points: '5',
};
const mutatedHistory = fc
  .tuple(fc.constantFrom(...Object.keys(VALID_HISTORY)), fc.constantFrom('replace', 'drop', 'repeat'), paramValue)
  .map(([name, how, value]) => {
    const pairs = Object.entries(VALID_HISTORY).flatMap(([n, v]): [string, string][] =>
      n !== name
        ? [[n, v]]
        : how === 'drop'
          ? []
          : how === 'repeat'
            ? [
                [n, v],
                [n, value],
              ]
            : [[n, value]],
    );
    return pairs.map(([n, v]) => `${n}=${v}`).join('&');
  });
const route = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...Object.keys(ROUTES)) },
  fc
    .oneof(fc.constantFrom(...RAW_GARBAGE, ...WORDS.map(wireEncode)), anyText(10).map(wireEncode))
    .map((name) => `/api/dashboards/${name}`),
);

/** A route and a query: any query on any route, or a nearly valid one on the history routes. */
const requestTarget = fc.oneof(
  { weight: 3, arbitrary: fc.tuple(route, fc.oneof({ weight: 3, arbitrary: queryString }, fc.constant(''))) },
  fc.tuple(fc.constantFrom('/api/history', '/api/export'), mutatedHistory),
);

/** The query's parameter names as the server decodes them. */
function decodedNames(query: string): string[] {
  return [...new URLSearchParams(query).keys()];
}

/** Whether `message` names one of `names` (as sent back: the first 40 characters, maybe JSON-quoted). */
function namesOne(message: string, names: readonly string[]): boolean {
  return names.some((n) => {
    const shown = n.slice(0, 40);
    return message.includes(shown) || message.includes(JSON.stringify(shown).slice(1, -1));
  });
}

/** The checks every refused request must pass: a 4xx with a JSON error of bounded size. */
function expectJsonError(res: RawResponse, context: string): string {
  expect(res.status, context).toBeGreaterThanOrEqual(400);
  expect(res.status, context).toBeLessThan(500);
  expect(res.headers['content-type'], context).toMatch(/^application\/json/);
  const body = JSON.parse(res.body) as { error?: unknown };
  expect(typeof body.error, context).toBe('string');
  const error = body.error as string;
  expect(error.length, context).toBeGreaterThan(10);
  expect(error.length, context).toBeLessThan(600);
  return error;
}

async function startSeeded(): Promise<Fixture & { port: number; pageDir: string }> {
  const f = await startDashboard({
    config: { data_points: 50, historical_range: 3_600_000 },
    sources: { report: async () => REPORT },
  });
  f.clock.now = T0 + 60_000;
  await seedTable(f.registry, f.store, T0);
  const pageDir = path.join(path.dirname(f.store.dataDir), 'page');
  return { ...f, port: Number(new URL(f.url).port), pageDir };
}

async function expectStillServing(f: Fixture & { port: number }): Promise<void> {
  const res = await get(f.port, `/api/history?metric=system.cpu&from=${T0}&to=${T0 + 10_000}&points=5`);
  expect(res.status).toBe(200);
  expect((JSON.parse(res.body) as { series: unknown[] }).series).toHaveLength(1);
}

async function expectNo5xx(f: Fixture): Promise<void> {
  const stats = await f.pid.call({ type: 'stats' });
  expect(stats.requests['5xx'] ?? 0).toBe(0);
  expect(f.logger.records.filter((r) => r.level === 'error')).toEqual([]);
}

describe('bad HTTP input (property-based)', () => {
  it('answers every route with generated query parameters: 200 or a 4xx JSON error naming the parameter, never 5xx, no state change', async () => {
    const f = await startSeeded();
    const before = await dashboardState(f.registry, f.store, T0);
    const statuses: Record<number, number> = {};
    await fc.assert(
      fc.asyncProperty(requestTarget, async ([path, query]) => {
        const target = query === '' ? path : `${path}?${query}`;
        const res = await get(f.port, target);
        statuses[res.status] = (statuses[res.status] ?? 0) + 1;
        const context = `GET ${target} → ${res.status} ${res.body.slice(0, 200)}`;
        const names = decodedNames(query);
        if (new Set(names).size < names.length)
          expect(res.status, `${context}: a repeated parameter was accepted`).not.toBe(200);
        if (res.status === 200) {
          if (path === '/metrics') expect(res.headers['content-type'], context).toBe(PROMETHEUS_CONTENT_TYPE);
          else if (path === '/api/export' && (res.headers['content-type'] ?? '').includes('text/csv'))
            expect(res.body.split('\r\n')[0], context).toMatch(/^chart,/);
          else expect(() => JSON.parse(res.body), context).not.toThrow();
          return;
        }
        const error = expectJsonError(res, context);
        if (res.status === 400) {
          const named = [...names, ...(ROUTES[path] ?? ['dashboard']), 'dashboard name'];
          expect(namesOne(error, named), `${context}: the error names no parameter`).toBe(true);
        } else expect([404, 414], context).toContain(res.status);
      }),
      { seed: 42, numRuns: 500 },
    );
    // The generators reach every kind of answer, not only the first refusal.
    expect(Object.values(statuses).reduce((a, b) => a + b)).toBe(500);
    expect(statuses[200]).toBeGreaterThan(20);
    expect(statuses[400]).toBeGreaterThan(100);
    expect(statuses[404]).toBeGreaterThan(0);
    expect(await dashboardState(f.registry, f.store, T0)).toBe(before);
    await expectStillServing(f);
    await expectNo5xx(f);
  });

  it('refuses a repeated parameter instead of silently using one of the values', async () => {
    const f = await startSeeded();
    for (const [target, name] of [
      [`/api/history?metric=system.cpu&from=${T0}&from=${T0 + 1}`, 'from'],
      [`/api/history?metric=system.cpu&metric=perf.latency`, 'metric'],
      ['/api/realtime?dashboard=main&dashboard=nope', 'dashboard'],
      ['/api/export?dashboard=main&format=csv&format=json', 'format'],
    ] as const) {
      const res = await get(f.port, target);
      expect(res.status, target).toBe(400);
      expect(expectJsonError(res, target)).toBe(`parameter "${name}" is given more than once (give it once)`);
    }
  });

  it('names `to` when `to` is out of range, and clamps the default `from` at the epoch', async () => {
    const f = await startSeeded();
    const neg = await get(f.port, '/api/history?metric=system.cpu&to=-5');
    expect(neg.status).toBe(400);
    expect(expectJsonError(neg, 'to=-5')).toBe('to must be a time in ms since the epoch (>= 1), got -5');
    // 10 s after the epoch with a 1 h default range: from is 0, not -3590000.
    const early = await get(f.port, '/api/history?metric=system.cpu&to=10000');
    expect(early.status).toBe(200);
    expect(JSON.parse(early.body)).toMatchObject({ from: 0, to: 10_000 });
  });

  it('never serves a file outside the page directory, whatever the asset path', async () => {
    const f = await startSeeded();
    const outside = path.dirname(f.pageDir);
    writeFileSync(path.join(outside, 'secret.txt'), 'SECRET-OUTSIDE-PAGE-DIR');
    writeFileSync(path.join(f.pageDir, '.hidden'), 'SECRET-DOTFILE');
    mkdirSync(path.join(f.pageDir, 'sub'));
    writeFileSync(path.join(f.pageDir, 'sub', 'inner.txt'), 'SECRET-SUBDIR');
    const uplot = path.dirname(createRequire(import.meta.url).resolve('uplot'));
    const served = new Set([
      PAGE_HTML,
      'console.log("app");\n',
      readFileSync(path.join(uplot, 'uPlot.iife.min.js'), 'utf8'),
      readFileSync(path.join(uplot, 'uPlot.min.css'), 'utf8'),
    ]);
    const pkg = readFileSync(path.join(process.cwd(), 'package.json'), 'utf8');
    const segment = fc.oneof(
      {
        weight: 5,
        arbitrary: fc.constantFrom(
          '..',
          '.',
          '%2e%2e',
          '%2E%2E',
          '.%2e',
          '%2e.',
          '..%2f',
          '..%5c',
          '..%255c',
          '%c0%ae%c0%ae',
          '%252e%252e%252f',
          '%00',
          '%2500',
          '..%00',
          'secret.txt',
          'secret.txt%00.js',
          '.hidden',
          'sub',
          'inner.txt',
          'sub%2finner.txt',
          'app.js',
          'index.html',
          'uPlot.min.css',
          'package.json',
          'etc',
          'passwd',
          'node_modules',
          'uplot',
          'dist',
          '..;',
          '',
          'page',
          '%2e%2e%5c%2e%2e%5csecret.txt',
        ),
      },
      anyText(6).map(wireEncode),
    );
    const joiner = fc.constantFrom('/', '%2f', '%2F', '\\', '%5c', '//', '/./');
    const prefix = fc.constantFrom('/assets/', '/', '/assets', '/assets/../', '/assets/%2e%2e/', '/assets\\');
    const assetPath = fc
      .tuple(prefix, fc.array(fc.tuple(segment, joiner), { minLength: 1, maxLength: 6 }))
      .map(([p, parts]) => p + parts.map(([s, j], i) => (i === 0 ? s : j + s)).join(''));
    const before = await dashboardState(f.registry, f.store, T0);
    let ok = 0;
    await fc.assert(
      fc.asyncProperty(assetPath, async (target) => {
        const res = await get(f.port, target);
        const context = `GET ${target} → ${res.status} ${res.body.slice(0, 120)}`;
        expect(res.body, context).not.toMatch(/SECRET-/);
        expect(res.body === pkg, context).toBe(false);
        if (res.status === 200) {
          ok++;
          // Only the page's own files; a path that normalizes to an API route answers JSON.
          if (!/^application\/json|^text\/plain/.test(res.headers['content-type'] ?? ''))
            expect(served.has(res.body), context).toBe(true);
          return;
        }
        expectJsonError(res, context);
        expect([400, 404], context).toContain(res.status);
      }),
      { seed: 7, numRuns: 300 },
    );
    expect(ok).toBeGreaterThan(0);
    expect(await dashboardState(f.registry, f.store, T0)).toBe(before);
    await expectStillServing(f);
    await expectNo5xx(f);
  });

  it('answers other methods with 405 (naming the allowed ones), with or without a body', async () => {
    const f = await startSeeded();
    const before = await dashboardState(f.registry, f.store, T0);
    const method = fc.constantFrom(
      'POST',
      'PUT',
      'DELETE',
      'PATCH',
      'OPTIONS',
      'TRACE',
      'PROPFIND',
      'MKCOL',
      'LOCK',
      'PURGE',
      'SEARCH',
      'CONNECT',
    );
    const target = fc.constantFrom(...Object.keys(ROUTES), '/', '/assets/app.js', '/ws', '/nope');
    const body = fc.option(anyText(200).map(wireEncode), { nil: undefined });
    await fc.assert(
      fc.asyncProperty(method, target, body, async (m, t, b) => {
        const res = await rawRequest(
          f.port,
          requestText(f.port, m === 'CONNECT' ? `127.0.0.1:${f.port}` : t, { method: m, body: b }),
        );
        const context = `${m} ${t} → ${res.status} ${res.body.slice(0, 120)}`;
        expect(res.status, context).toBe(405);
        expect(res.headers.allow, context).toBe('GET, HEAD');
        expect(expectJsonError(res, context)).toBe(`method ${m} not allowed (allowed: GET, HEAD)`);
      }),
      { seed: 11, numRuns: 120 },
    );
    expect(await dashboardState(f.registry, f.store, T0)).toBe(before);
    await expectStillServing(f);
    await expectNo5xx(f);
  });

  it('ignores a small body on GET, refuses a large or chunked one with 413 and closes that connection', async () => {
    const f = await startSeeded();
    const before = await dashboardState(f.registry, f.store, T0);
    const target = fc.constantFrom('/api/dashboards', '/health', '/metrics', '/api/alerts', '/');
    const body = fc.oneof(
      fc.integer({ min: 0, max: 2048 }).map((n) => ({ chunked: false, text: 'b'.repeat(n) })),
      fc.constant({ chunked: true, text: '5\r\nhello\r\n0\r\n\r\n' }),
    );
    await fc.assert(
      fc.asyncProperty(target, body, async (t, b) => {
        const headers: Record<string, string> = b.chunked ? { 'transfer-encoding': 'chunked' } : {};
        const res = await rawRequest(
          f.port,
          requestText(f.port, t, { headers: { ...headers, connection: 'keep-alive' }, body: b.text }),
        );
        const context = `GET ${t} with ${b.chunked ? 'a chunked body' : `${b.text.length} bytes`} → ${res.status}`;
        if (!b.chunked && b.text.length <= 1024) {
          expect(res.status, context).toBe(200);
          return;
        }
        expect(res.status, context).toBe(413);
        expect(expectJsonError(res, context)).toMatch(/request bodies are not accepted/);
        expect(res.headers.connection, context).toBe('close');
      }),
      { seed: 13, numRuns: 80 },
    );
    // A huge declared body is not read: the server answers 413 and hangs up at once.
    const huge = await rawRequest(
      f.port,
      requestText(f.port, '/health', { headers: { 'content-length': String(10 ** 12), connection: 'keep-alive' } }),
    );
    expect(huge.status).toBe(413);
    expect(huge.closedByServer).toBe(true);
    expect(await dashboardState(f.registry, f.store, T0)).toBe(before);
    await expectStillServing(f);
    await expectNo5xx(f);
  });

  it('serves /metrics for any Accept header: OpenMetrics when asked for, else the Prometheus text format', async () => {
    const f = await startSeeded();
    const before = await dashboardState(f.registry, f.store, T0);
    const mediaType = fc.constantFrom(
      'application/openmetrics-text',
      'text/plain',
      'text/*',
      '*/*',
      'application/json',
      'text/html',
      '*',
      '/',
      'text/',
      ';',
      '',
      'application/openmetrics-text;version=9',
      'text/plain;version=0.0.4',
      'APPLICATION/OPENMETRICS-TEXT',
    );
    const param = fc.constantFrom(
      'q=0',
      'q=1',
      'q=0.5',
      'q=NaN',
      'q=-1',
      'q=1e309',
      'q=abc',
      'q=',
      'version=1.0.0',
      'version=0.0.1',
      'version="1.0.0"',
      'charset=utf-8',
      '=',
      ';;',
    );
    const range = fc.tuple(mediaType, fc.array(param, { maxLength: 3 })).map(([t, ps]) => [t, ...ps].join(';'));
    const accept = fc.oneof(
      { weight: 4, arbitrary: fc.array(range, { minLength: 1, maxLength: 6 }).map((rs) => rs.join(', ')) },
      fc.string({ maxLength: 100 }).map((s) => s.replace(/[\r\n\0]/g, ' ')),
      fc.integer({ min: 200, max: 1000 }).map((n) => Array.from({ length: n }, () => 'text/html;q=0.1').join(',')),
    );
    await fc.assert(
      fc.asyncProperty(accept, async (a) => {
        const res = await get(f.port, '/metrics', { accept: a });
        const context = `Accept: ${a.slice(0, 200)} → ${res.status}`;
        expect(res.status, context).toBe(200);
        const expected = await renderExposition(f.registry, a);
        expect([PROMETHEUS_CONTENT_TYPE, OPENMETRICS_CONTENT_TYPE], context).toContain(res.headers['content-type']);
        expect(res.headers['content-type'], context).toBe(expected.contentType);
        expect(res.body, context).toBe(expected.body);
      }),
      { seed: 17, numRuns: 200 },
    );
    expect(await dashboardState(f.registry, f.store, T0)).toBe(before);
    await expectNo5xx(f);
  });

  it('answers a URL over the limit with 414, however long, and keeps serving', async () => {
    const f = await startSeeded();
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: MAX_URL_BYTES + 1, max: 64 * 1024 }),
        fc.constantFrom('/api/history?metric=', '/assets/', '/api/dashboards/'),
        async (length, start) => {
          const target = start + 'a'.repeat(length - start.length);
          const res = await get(f.port, target);
          const context = `a ${length}-byte URL → ${res.status}`;
          expect(res.status, context).toBe(414);
          expect(expectJsonError(res, context)).toMatch(/URL is longer than 4096 bytes/);
        },
      ),
      { seed: 19, numRuns: 40 },
    );
    await expectStillServing(f);
    await expectNo5xx(f);
  });
});

describe('bad HTTP input on the raw socket', () => {
  it('answers malformed request lines and garbage with a 4xx (never 5xx, never silence) and keeps serving', async () => {
    const f = await startSeeded();
    const before = await dashboardState(f.registry, f.store, T0);
    const line = fc.oneof(
      fc.constantFrom(
        'GET',
        'GET /',
        'GET / HTTP/9.9',
        'GET / HTTP/1.1 extra',
        'GET  /  HTTP/1.1',
        'get / HTTP/1.1',
        'G\tET / HTTP/1.1',
        'GET /\0 HTTP/1.1',
        'GET /a b HTTP/1.1',
        '/ HTTP/1.1',
        'HTTP/1.1 200 OK',
        'GET /%00 HTTP/1.1',
        'GET /\x7f HTTP/1.1',
        'GET http://[::1 HTTP/1.1',
        'GET //%zz/ HTTP/1.1',
        '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03',
        'PRI * HTTP/2.0',
      ),
      fc.uint8Array({ minLength: 1, maxLength: 300 }).map((bytes) => Buffer.from(bytes).toString('latin1')),
      fc.string({ maxLength: 80 }).map((s) => `GET /${s} HTTP/1.1`),
    );
    const headerBlock = fc.constantFrom(
      'Host: 127.0.0.1\r\n',
      '',
      'Host: 127.0.0.1\r\nContent-Length: -1\r\n',
      'Host: 127.0.0.1\r\nContent-Length: 1, 2\r\n',
      'Host: 127.0.0.1\r\nBad Header\r\n',
      'Host: 127.0.0.1\r\n: empty\r\n',
      'Host: 127.0.0.1\r\nX: \x01\r\n',
      'Host: 127.0.0.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n',
    );
    await fc.assert(
      fc.asyncProperty(line, headerBlock, async (l, h) => {
        const res = await rawRequest(f.port, Buffer.from(`${l}\r\n${h}Connection: close\r\n\r\n`, 'latin1'));
        const context = `${JSON.stringify(l.slice(0, 80))} → ${res.status} ${res.body.slice(0, 120)}`;
        expect(res.status, `${context}: closed without an answer`).toBeGreaterThan(0);
        expect(res.status, context).toBeLessThan(500);
        if (res.status >= 400) expectJsonError(res, context);
      }),
      { seed: 23, numRuns: 150 },
    );
    expect(await dashboardState(f.registry, f.store, T0)).toBe(before);
    await expectStillServing(f);
    await expectNo5xx(f);
  });

  it('refuses header floods with 431 and keeps serving', async () => {
    const f = await startSeeded();
    const big = await rawRequest(f.port, requestText(f.port, '/health', { headers: { 'x-big': 'a'.repeat(20_000) } }));
    expect(big.status).toBe(431);
    expect(expectJsonError(big, 'one 20 KB header')).toMatch(/headers are larger than 16384 bytes/);
    const many = Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [`x-h${i}`, 'v']));
    const flood = await rawRequest(f.port, requestText(f.port, '/health', { headers: many }));
    expect(flood.status).toBe(431);
    await expectStillServing(f);
    await expectNo5xx(f);
  });

  it('times out a slowloris client that trickles its headers, and serves others meanwhile', async () => {
    const f = await startDashboard({ args: { httpTimeouts: { headersMs: 400, requestMs: 800, checkIntervalMs: 50 } } });
    const port = Number(new URL(f.url).port);
    // One header line every 50 ms, for up to 5 s: far longer than headersMs.
    const chunks = [
      'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n',
      ...Array.from({ length: 100 }, (_, i) => `x-slow-${i}: 1\r\n`),
    ];
    const started = performance.now();
    let slowDone = false;
    const slow = rawRequest(port, chunks, { gapMs: 50, timeoutMs: 5000 }).finally(() => (slowDone = true));
    const others: RawResponse[] = [];
    while (!slowDone) others.push(await get(port, '/health'));
    const res = await slow;
    const elapsed = performance.now() - started;
    expect(res.status).toBe(408);
    expect(expectJsonError(res, 'slowloris')).toMatch(/the request took too long to arrive/);
    expect(res.closedByServer).toBe(true);
    expect(elapsed).toBeLessThan(2000);
    // Others were served while the slow client held its connection.
    expect(others.length).toBeGreaterThan(0);
    expect(others.map((o) => o.status)).toEqual(others.map(() => 200));
    // By default a slowloris is cut within headersMs + checkIntervalMs, not Node's 10 s + 30 s.
    expect(DEFAULT_HTTP_TIMEOUTS.headersMs + DEFAULT_HTTP_TIMEOUTS.checkIntervalMs).toBeLessThanOrEqual(11_000);
    // A connection that sends nothing at all is closed too.
    const idle = await rawRequest(port, [], { timeoutMs: 3000 });
    expect(idle.closedByServer).toBe(true);
  });
});

describe('bad HTTP input against the whole tree', () => {
  it('changes no metric or series in the running tree, answers no 5xx, and keeps serving', async () => {
    const { mon, logger } = await startTree();
    const { url } = await mon.dashboardAddress();
    const port = Number(new URL(url).port);
    const seriesKeys = () => JSON.stringify(mon.metrics.metrics().map((m) => [m.name, m.series().map((s) => s.key)]));
    // Let the tree's own loops register what they register, then take the baseline.
    await get(port, '/api/report');
    const before = seriesKeys();
    let answered = 0;
    await fc.assert(
      fc.asyncProperty(requestTarget, async ([path, query]) => {
        const target = query === '' ? path : `${path}?${query}`;
        const res = await get(port, target);
        const context = `GET ${target} → ${res.status} ${res.body.slice(0, 200)}`;
        answered++;
        if (res.status === 200 || (path === '/api/report' && res.status === 503)) return;
        expectJsonError(res, context);
      }),
      { seed: 42, numRuns: 100 },
    );
    expect(answered).toBe(100);
    expect(seriesKeys()).toBe(before);
    expect((await get(port, '/api/dashboards')).status).toBe(200);
    expect(logger.records.filter((r) => r.level === 'error')).toEqual([]);
  });
});
