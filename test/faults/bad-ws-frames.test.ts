/**
 * Bad WebSocket input against the real dashboard feed, tried systematically with fast-check
 * (fixed seeds): non-JSON text, JSON that is not an object, unknown types, right types with
 * wrong fields, deep nesting, binary and fragmented frames, frames over `maxPayload`, invalid
 * UTF-8, ping floods, and rapid subscribe/unsubscribe checked against a model.
 *
 * Every bad message must be answered with exactly one `{ type: 'error', reason }` (a bounded
 * reason naming what was wrong) and the socket kept (checked with a ping after each); an
 * oversized message closes only that socket, with 1009. Meanwhile an observer client keeps
 * receiving frames, the attacker's subscription and the table do not change, and nothing is
 * logged as an error.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { ServerMsg, Subscription } from '../../src/server/protocol.js';
import { DEFAULT_WS_LIMITS } from '../../src/server/ws-server.js';
import { until } from '../helpers.js';
import {
  connectFeed,
  type FeedClient,
  runCleanups,
  startDashboard,
  type Fixture,
} from '../server/dashboard-fixture.js';
import { runCleanups as runTreeCleanups, startTree } from './tree-fixture.js';
import { dashboardState, rawRequest, requestText, seedTable } from './wire-fixture.js';

afterEach(async () => {
  await runCleanups();
  await runTreeCleanups();
});

const T0 = 1_700_000_000_000;
const MAX_PAYLOAD = DEFAULT_WS_LIMITS.maxPayload;
const MAX_METRICS = DEFAULT_WS_LIMITS.maxMetrics;
const TYPES = ['subscribe', 'unsubscribe', 'ping'];
const METRIC_NAMES = [
  'system.cpu',
  'perf.latency',
  'http.requests',
  'response_time',
  'no.such.metric',
  '__proto__',
  'constructor',
  'a:b',
  '_x',
];

/** One bad thing to send, and what the error reason must say. */
interface BadFrame {
  kind: string;
  /** Text frames, or one binary frame. */
  data: string | Uint8Array;
  /** Sent as this many fragments (1 = one frame). */
  fragments: number;
  reason: RegExp;
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** Nesting `depth` levels of arrays or objects around `inner`. */
function nested(depth: number, objects: boolean, inner = '0'): string {
  return objects ? '{"a":'.repeat(depth) + inner + '}'.repeat(depth) : '['.repeat(depth) + inner + ']'.repeat(depth);
}

/** A JSON value that is anything but a valid name list item. */
const junkValue = fc.oneof(
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.object({ maxDepth: 2 }),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.string({ maxLength: 10 }).map((s) => `bad name ${s}`),
);

const nonJson: fc.Arbitrary<BadFrame> = fc
  .oneof(
    fc.string({ maxLength: 200 }),
    fc.constantFrom(
      '',
      '{',
      '{"type":"ping"',
      "{'type':'ping'}",
      'undefined',
      'NaN',
      '[1,]',
      '{"type":"ping",}',
      '\u0000',
      '\uFEFF{"type":"ping"}',
      '{"type":"ping"}{}',
    ),
  )
  .filter((t) => !isJson(t))
  .map((data) => ({ kind: 'non-JSON', data, fragments: 1, reason: /^malformed JSON: / }));

const nonObject: fc.Arbitrary<BadFrame> = fc
  .jsonValue({ maxDepth: 3 })
  .filter((v) => v === null || typeof v !== 'object' || Array.isArray(v))
  .map((v) => ({
    kind: 'non-object',
    data: JSON.stringify(v),
    fragments: 1,
    reason: /^a message must be a JSON object with a "type"/,
  }));

const unknownType: fc.Arbitrary<BadFrame> = fc
  .tuple(
    fc.oneof(
      fc.string({ maxLength: 30 }).filter((t) => !TYPES.includes(t)),
      fc.constantFrom('SUBSCRIBE', 'Ping', ' ping', 'ping ', 'subscribe\u0000', '__proto__', 'constructor', 'toString'),
      fc.integer(),
      fc.constant(null),
      fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }),
      fc.object({ maxDepth: 1 }),
      fc.integer({ min: 1000, max: 12_000 }).map((n) => 'x'.repeat(n)),
      fc.constant(undefined),
    ),
    fc.dictionary(
      fc.string({ maxLength: 8 }).filter((k) => k !== 'type'),
      fc.jsonValue({ maxDepth: 1 }),
      { maxKeys: 3 },
    ),
  )
  .map(([type, rest]) => ({
    kind: 'unknown type',
    data: JSON.stringify(type === undefined ? rest : { ...rest, type }),
    fragments: 1,
    reason: /^unknown message type .{1,100} \(allowed: subscribe, unsubscribe, ping\)$/,
  }));

/** The right type with wrong fields: always invalid, each way the validator can refuse. */
const wrongFields: fc.Arbitrary<BadFrame> = fc.oneof(
  fc
    .tuple(
      fc.constantFrom('subscribe', 'unsubscribe'),
      fc.string({ minLength: 1, maxLength: 20 }).filter((k) => !['type', 'dashboards', 'metrics'].includes(k)),
      fc.jsonValue({ maxDepth: 1 }),
    )
    .map(([type, key, value]) => ({
      kind: 'unknown field',
      data: JSON.stringify({ type, [key]: value }),
      fragments: 1,
      reason: new RegExp(`^${type}: unknown field .* \\(allowed: dashboards, metrics\\)$`),
    })),
  fc
    .tuple(
      fc.constantFrom('subscribe', 'unsubscribe'),
      fc.constantFrom('dashboards', 'metrics'),
      fc.oneof(
        fc.integer(),
        fc.string({ maxLength: 10 }),
        fc.constant(null),
        fc.object({ maxDepth: 1 }),
        fc.array(fc.constant('main'), { minLength: 101, maxLength: 150 }),
      ),
    )
    .map(([type, field, value]) => ({
      kind: 'not a name list',
      data: JSON.stringify({ type, [field]: value }),
      fragments: 1,
      reason: new RegExp(`^${type}\\.${field} must be an array of at most 100 names$`),
    })),
  fc
    .tuple(fc.constantFrom('subscribe', 'unsubscribe'), fc.constantFrom('dashboards', 'metrics'), junkValue)
    .map(([type, field, item]) => ({
      kind: 'bad name',
      data: JSON.stringify({ type, [field]: ['main', item] }),
      fragments: 1,
      reason: new RegExp(`^${type}\\.${field}: .* is not a (dashboard|metric) name`),
    })),
  fc.constantFrom('nope', 'main2', 'MAIN', 'a'.repeat(64)).map((d) => ({
    kind: 'unknown dashboard',
    data: JSON.stringify({ type: 'subscribe', dashboards: [d] }),
    fragments: 1,
    reason: /^unknown dashboard ".*" \(available: main, mcp\)$/,
  })),
  fc.integer({ min: MAX_METRICS + 1, max: 100 }).map((n) => ({
    kind: 'too many metrics',
    data: JSON.stringify({ type: 'subscribe', metrics: Array.from({ length: n }, (_, i) => `m${i}`) }),
    fragments: 1,
    reason: new RegExp(`^at most ${MAX_METRICS} metrics per client \\(asked for ${n}\\)$`),
  })),
  fc
    .oneof(
      fc.boolean(),
      fc.constant(null),
      fc.object({ maxDepth: 1 }),
      fc.array(fc.integer()),
      fc.integer({ min: 201, max: 3000 }).map((n) => 'i'.repeat(n)),
      fc.constantFrom('1e309', '-1e309'),
    )
    .map((id) => ({
      kind: 'bad ping id',
      data:
        typeof id === 'string' && id.includes('e309')
          ? `{"type":"ping","id":${id}}`
          : JSON.stringify({ type: 'ping', id }),
      fragments: 1,
      reason: /^ping\.id must be a string of at most 200 characters or a finite number$/,
    })),
  fc
    .string({ minLength: 1, maxLength: 20 })
    .filter((k) => k !== 'type' && k !== 'id')
    .map((key) => ({
      kind: 'ping field',
      data: JSON.stringify({ type: 'ping', [key]: 1 }),
      fragments: 1,
      reason: /^ping: unknown field .* \(allowed: id\)$/,
    })),
);

/** Deep nesting, kept under maxPayload: at the top, as the type, as a list, as a list item, as a ping id. */
const deep: fc.Arbitrary<BadFrame> = fc
  .tuple(fc.boolean(), fc.constantFrom('top', 'type', 'list', 'item', 'id', 'field'))
  .chain(([objects, where]) =>
    fc.integer({ min: 500, max: Math.floor((MAX_PAYLOAD - 64) / (objects ? 6 : 2)) }).map((depth): BadFrame => {
      const value = nested(depth, objects);
      const [data, reason] = {
        top: [value, objects ? /^unknown message type undefined/ : /^a message must be a JSON object/],
        type: [`{"type":${value}}`, /^unknown message type an? (array|object)/],
        list: [
          `{"type":"subscribe","metrics":${value}}`,
          objects
            ? /^subscribe\.metrics must be an array of at most 100 names$/
            : /^subscribe\.metrics: an array of 1 is not a metric name/,
        ],
        item: [
          `{"type":"subscribe","dashboards":[${value}]}`,
          /^subscribe\.dashboards: an? (array|object).* is not a dashboard name/,
        ],
        id: [`{"type":"ping","id":${value}}`, /^ping\.id must be/],
        field: [`{"type":"unsubscribe","x":${value}}`, /^unsubscribe: unknown field "x"/],
      }[where] as [string, RegExp];
      return { kind: `deep ${objects ? 'objects' : 'arrays'} (${depth}) as ${where}`, data, fragments: 1, reason };
    }),
  );

const binary: fc.Arbitrary<BadFrame> = fc
  .oneof(fc.uint8Array({ maxLength: 2000 }), fc.constant(new TextEncoder().encode('{"type":"ping","id":1}')))
  .map((data) => ({
    kind: 'binary',
    data,
    fragments: 1,
    reason: /^binary messages are not accepted: send JSON text$/,
  }));

const badFrame: fc.Arbitrary<BadFrame> = fc
  .tuple(
    fc.oneof(nonJson, nonObject, unknownType, wrongFields, deep, binary),
    fc.oneof({ weight: 4, arbitrary: fc.constant(1) }, fc.integer({ min: 2, max: 50 })),
  )
  .map(([frame, fragments]) => ({ ...frame, fragments: Math.min(fragments, Math.max(1, frame.data.length)) }));

/** Sends `data` as `fragments` frames of one message (continuation frames after the first). */
function sendFragmented(ws: WebSocket, data: string | Uint8Array, fragments: number): void {
  const bytes = typeof data === 'string' ? Buffer.from(data) : Buffer.from(data);
  const binary = typeof data !== 'string';
  const size = Math.ceil(bytes.length / fragments) || 1;
  if (bytes.length === 0 || fragments === 1) {
    ws.send(bytes, { binary, fin: true });
    return;
  }
  for (let at = 0; at < bytes.length; at += size)
    ws.send(bytes.subarray(at, at + size), { binary, fin: at + size >= bytes.length });
}

let syncId = 0;
/** Sends a ping message after `send` and returns what came back before its pong (frames left out). */
async function exchange(client: FeedClient, send: () => void): Promise<ServerMsg[]> {
  const from = client.messages.length;
  send();
  const id = `sync-${++syncId}`;
  client.send({ type: 'ping', id });
  await until(() => {
    if (!client.messages.slice(from).some((m) => m.type === 'pong' && m.id === id))
      throw new Error(`no pong ${id} yet (socket state ${client.ws.readyState})`);
  });
  const replies = client.messages.slice(from).filter((m) => m.type !== 'frame');
  return replies.slice(
    0,
    replies.findIndex((m) => m.type === 'pong' && m.id === id),
  );
}

function framesOf(client: FeedClient): number {
  return client.messages.filter((m) => m.type === 'frame').length;
}

/**
 * The dashboard with data, frames every 50 ms, an observer subscribed to main, and an attacker.
 * @param metrics gauges to register besides the seeded ones (subscribing to a name the table
 *   does not have is an error)
 */
async function startFeed(
  metrics: readonly string[] = [],
): Promise<{ f: Fixture; observer: FeedClient; attacker: FeedClient; before: string }> {
  const f = await startDashboard({ config: { refresh_interval: 50 } });
  await seedTable(f.registry, f.store, T0);
  for (const name of metrics) if (f.registry.get(name) === undefined) f.registry.gauge(name);
  const observer = await connectFeed(f.wsUrl);
  const attacker = await connectFeed(f.wsUrl);
  await observer.next('frame');
  return { f, observer, attacker, before: await dashboardState(f.registry, f.store, T0) };
}

/** After a batch: the observer still gets frames and no errors, the attacker's subscription and the table are unchanged. */
async function expectUndisturbed(
  s: { f: Fixture; observer: FeedClient; attacker: FeedClient; before: string },
  subscribed: Subscription = { dashboards: ['main'], metrics: [] },
): Promise<void> {
  const frames = framesOf(s.observer);
  await until(() => expect(framesOf(s.observer)).toBeGreaterThan(frames + 2));
  expect(s.observer.messages.filter((m) => m.type !== 'frame' && m.type !== 'connected')).toEqual([]);
  expect(s.observer.ws.readyState).toBe(WebSocket.OPEN);
  if (s.attacker.ws.readyState === WebSocket.OPEN) {
    const replies = await exchange(s.attacker, () => s.attacker.send({ type: 'subscribe' }));
    expect(replies).toEqual([{ type: 'subscribed', subscribed }]);
  }
  expect(await dashboardState(s.f.registry, s.f.store, T0)).toBe(s.before);
  expect(s.f.logger.records.filter((r) => r.level === 'error')).toEqual([]);
}

describe('bad WebSocket handshakes (property-based)', () => {
  it('answers every upgrade it does not accept with a 4xx JSON error, accepts only a valid GET /ws, and keeps serving', async () => {
    const s = await startFeed();
    const port = Number(new URL(s.f.url).port);
    const VALID_KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
    const header = <T>(values: T[]) => fc.option(fc.constantFrom(...values), { nil: undefined });
    const handshake = fc.record({
      method: fc.constantFrom('GET', 'GET', 'POST', 'PUT', 'OPTIONS'),
      path: fc.constantFrom('/ws', '/ws', '/ws?x=1', '/ws/', '/WS', '/', '/api/alerts', '/ws%00', '/assets/app.js'),
      upgrade: header(['websocket', 'WebSocket', 'h2c', '', 'websocket, h2c', 'TLS/1.0']),
      connection: fc.constantFrom('Upgrade', 'keep-alive, Upgrade', 'upgrade'),
      key: header([
        VALID_KEY,
        VALID_KEY,
        'abc',
        'x'.repeat(24),
        '',
        'dGhlIHNhbXBsZSBub25jZQ',
        `${VALID_KEY}, ${VALID_KEY}`,
      ]),
      version: header(['13', '13', '8', '12', 'abc', '13, 8', '']),
      protocol: header(['chat', 'a, a', ',', 'a b', 'x'.repeat(300)]),
      extensions: header([
        'permessage-deflate',
        'garbage;;;',
        'permessage-deflate; server_max_window_bits=99',
        'x-unknown',
      ]),
    });
    const valid = {
      method: 'GET',
      path: '/ws',
      upgrade: 'websocket',
      connection: 'Upgrade',
      key: VALID_KEY,
      version: '13',
      protocol: undefined,
      extensions: undefined,
    };
    /** A valid handshake with up to two of its fields taken from a random one. */
    const nearlyValid = fc
      .tuple(fc.subarray(Object.keys(valid) as (keyof typeof valid)[], { maxLength: 2 }), handshake)
      .map(([fields, random]) => ({ ...valid, ...Object.fromEntries(fields.map((k) => [k, random[k]])) }));
    let accepted = 0;
    const statuses: Record<number, number> = {};
    await fc.assert(
      fc.asyncProperty(fc.oneof(handshake, nearlyValid), async (h) => {
        const headers: Record<string, string> = { connection: h.connection };
        if (h.upgrade !== undefined) headers.upgrade = h.upgrade;
        if (h.key !== undefined) headers['sec-websocket-key'] = h.key;
        if (h.version !== undefined) headers['sec-websocket-version'] = h.version;
        if (h.protocol !== undefined) headers['sec-websocket-protocol'] = h.protocol;
        if (h.extensions !== undefined) headers['sec-websocket-extensions'] = h.extensions;
        const res = await rawRequest(port, requestText(port, h.path, { method: h.method, headers }));
        statuses[res.status] = (statuses[res.status] ?? 0) + 1;
        const context = `${JSON.stringify(h)} → ${res.status} ${res.body.slice(0, 200)}`;
        if (res.status === 101) {
          accepted++;
          expect(h.method, context).toBe('GET');
          expect(new URL(h.path, 'http://x').pathname, context).toBe('/ws');
          expect(h.upgrade?.toLowerCase(), context).toBe('websocket');
          expect(h.key, context).toBe(VALID_KEY);
          return;
        }
        if (res.status === 200) {
          // Not an upgrade at all for Node (no Upgrade header): a plain GET of a page or API route.
          expect((h.upgrade ?? '') === '' && h.method === 'GET', context).toBe(true);
          return;
        }
        expect(res.status, context).toBeGreaterThanOrEqual(400);
        expect(res.status, context).toBeLessThan(500);
        expect(res.headers['content-type'], context).toMatch(/^application\/json/);
        const error = (JSON.parse(res.body) as { error: string }).error;
        expect(error.length, context).toBeGreaterThan(10);
      }),
      { seed: 29, numRuns: 200 },
    );
    expect(accepted).toBeGreaterThan(0);
    expect(Object.keys(statuses).sort()).toEqual(expect.arrayContaining(['101', '400', '404', '405']));
    await until(async () => expect((await s.f.pid.call({ type: 'stats' })).clients).toBe(2));
    await expectUndisturbed(s);
  });
});

describe('bad WebSocket frames (property-based)', () => {
  it('answers every malformed, unknown, wrongly typed, deeply nested, binary or fragmented message with one error and keeps the socket', async () => {
    const s = await startFeed();
    const kinds: Record<string, number> = {};
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(badFrame, async (frame) => {
        runs++;
        const kind = frame.kind.replace(/ \(\d+\).*/, '');
        kinds[kind] = (kinds[kind] ?? 0) + 1;
        const replies = await exchange(s.attacker, () => sendFragmented(s.attacker.ws, frame.data, frame.fragments));
        const context = `${frame.kind} in ${frame.fragments} fragment(s): ${typeof frame.data === 'string' ? JSON.stringify(frame.data.slice(0, 120)) : `${frame.data.length} bytes`} → ${JSON.stringify(replies).slice(0, 300)}`;
        expect(replies, context).toHaveLength(1);
        const reply = replies[0]!;
        expect(reply.type, context).toBe('error');
        const reason = (reply as Extract<ServerMsg, { type: 'error' }>).reason;
        expect(reason.length, context).toBeLessThan(400);
        expect(reason, context).toMatch(frame.reason);
      }),
      { seed: 42, numRuns: 400 },
    );
    // Every kind of bad frame was tried.
    expect(Object.keys(kinds).sort()).toEqual([
      'bad name',
      'bad ping id',
      'binary',
      'deep arrays',
      'deep objects',
      'non-JSON',
      'non-object',
      'not a name list',
      'ping field',
      'too many metrics',
      'unknown dashboard',
      'unknown field',
      'unknown type',
    ]);
    const stats = await s.f.pid.call({ type: 'stats' });
    expect(stats.badMessages).toBe(runs);
    expect(stats.clients).toBe(2);
    await expectUndisturbed(s);
  });

  it('answers a type of 8,000 nested arrays (JSON.stringify would throw RangeError on it) instead of crashing', async () => {
    const s = await startFeed();
    const depth = Math.floor((MAX_PAYLOAD - 16) / 2);
    const replies = await exchange(s.attacker, () => s.attacker.send(`{"type":${nested(depth, false)}}`));
    expect(replies).toEqual([
      { type: 'error', reason: 'unknown message type an array of 1 (allowed: subscribe, unsubscribe, ping)' },
    ]);
    await expectUndisturbed(s);
  });

  it('closes only the sender of a message over maxPayload, with 1009, and keeps the others served', async () => {
    const s = await startFeed();
    let closed = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: MAX_PAYLOAD + 1, max: 12 * MAX_PAYLOAD }),
        fc.boolean(),
        fc.integer({ min: 1, max: 40 }),
        async (size, isBinary, fragments) => {
          const big = await connectFeed(s.f.wsUrl);
          await big.next('connected');
          sendFragmented(big.ws, isBinary ? new Uint8Array(size) : '['.repeat(size), fragments);
          const { code } = await big.closed;
          expect(code, `${size} bytes in ${fragments} fragment(s)`).toBe(1009);
          closed++;
        },
      ),
      { seed: 5, numRuns: 25 },
    );
    expect(closed).toBe(25);
    // At the limit exactly, a message is read and answered.
    const replies = await exchange(s.attacker, () => s.attacker.send(' '.repeat(MAX_PAYLOAD - 2) + '{}'));
    expect(replies).toEqual([
      { type: 'error', reason: 'unknown message type undefined (allowed: subscribe, unsubscribe, ping)' },
    ]);
    await until(async () => expect((await s.f.pid.call({ type: 'stats' })).clients).toBe(2));
    await expectUndisturbed(s);
  });

  it('closes a text message that is not UTF-8 with 1007 (RFC 6455), only that socket', async () => {
    const s = await startFeed();
    const bad = await connectFeed(s.f.wsUrl);
    await bad.next('connected');
    bad.ws.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false });
    expect((await bad.closed).code).toBe(1007);
    await expectUndisturbed(s);
  });

  it('answers pings sent at a reading pace, terminates a client flooding pings (bounded pending pongs), and keeps the others served', async () => {
    const s = await startFeed();
    const rssBefore = process.memoryUsage().rss;
    // A client that pings in rounds and waits for the pongs: every ping is answered, the socket stays.
    let pongs = 0;
    s.attacker.ws.on('pong', () => pongs++);
    const ROUNDS = 100;
    const PER_ROUND = 50;
    for (let r = 1; r <= ROUNDS; r++) {
      for (let i = 0; i < PER_ROUND; i++) s.attacker.ws.ping(Buffer.alloc(125, i));
      await until(() => expect(pongs).toBe(r * PER_ROUND));
    }
    expect(s.attacker.ws.readyState).toBe(WebSocket.OPEN);
    // Clients that flood (one reading, one never reading): ws terminates a client with more than
    // 60 pongs not yet written, so what the server holds for a flooder is bounded.
    const cut: number[] = [];
    for (const reads of [true, false]) {
      const flooder = await connectFeed(s.f.wsUrl);
      await flooder.next('connected');
      const socket = (flooder.ws as unknown as { _socket: import('node:net').Socket })._socket;
      if (!reads) socket.pause();
      let sent = 0;
      const MAX_PINGS = 200_000;
      while (flooder.ws.readyState === WebSocket.OPEN && sent < MAX_PINGS) {
        for (let i = 0; i < 1000; i++, sent++) flooder.ws.ping(Buffer.alloc(125));
        await new Promise((resolve) => setImmediate(resolve));
      }
      socket.resume();
      await flooder.closed;
      expect(sent, `flooder that ${reads ? 'reads' : 'does not read'}`).toBeLessThan(MAX_PINGS);
      cut.push(sent);
    }
    await until(async () => expect((await s.f.pid.call({ type: 'stats' })).clients).toBe(2));
    const rssAfter = process.memoryUsage().rss;
    expect(rssAfter - rssBefore).toBeLessThan(100 * 2 ** 20);
    await expectUndisturbed(s);
  });

  it('keeps each subscription exactly as a model says under rapid subscribe/unsubscribe, never over maxMetrics', async () => {
    const unknown = 'no.such.metric';
    const s = await startFeed([
      ...METRIC_NAMES.filter((m) => m !== unknown),
      'toString',
      ...Array.from({ length: 61 }, (_, i) => `m${i}`),
    ]);
    const op = fc.record({
      type: fc.constantFrom('subscribe', 'unsubscribe'),
      dashboards: fc.option(fc.subarray(['main']), { nil: undefined }),
      metrics: fc.option(
        fc.array(
          fc.oneof(
            fc.constantFrom(...METRIC_NAMES),
            fc.integer({ min: 0, max: 60 }).map((i) => `m${i}`),
          ),
          { maxLength: 40 },
        ),
        { nil: undefined },
      ),
    });
    let messages = 0;
    const rssBefore = process.memoryUsage().rss;
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 20, maxLength: 200 }), async (ops) => {
        // Each run starts from the initial subscription.
        const current = await currentMetrics();
        await exchange(s.attacker, () => s.attacker.send({ type: 'unsubscribe', metrics: current }));
        await exchange(s.attacker, () => s.attacker.send({ type: 'subscribe', dashboards: ['main'] }));
        let model: Subscription = { dashboards: ['main'], metrics: [] };
        const from = s.attacker.messages.length;
        for (const o of ops) s.attacker.send(Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)));
        messages += ops.length;
        await exchange(s.attacker, () => {});
        const replies = s.attacker.messages.slice(from).filter((m) => m.type === 'subscribed' || m.type === 'error');
        expect(replies).toHaveLength(ops.length);
        ops.forEach((o, i) => {
          const next =
            o.type === 'subscribe'
              ? {
                  dashboards: [...new Set([...model.dashboards, ...(o.dashboards ?? [])])].sort(),
                  metrics: [...new Set([...model.metrics, ...(o.metrics ?? [])])].sort(),
                }
              : {
                  dashboards: model.dashboards.filter((d) => !(o.dashboards ?? []).includes(d)),
                  metrics: model.metrics.filter((m) => !(o.metrics ?? []).includes(m)),
                };
          if (next.metrics.length > MAX_METRICS) {
            expect(replies[i]).toEqual({
              type: 'error',
              reason: `at most ${MAX_METRICS} metrics per client (asked for ${next.metrics.length})`,
            });
          } else if (o.type === 'subscribe' && o.metrics?.includes(unknown)) {
            expect(replies[i]).toEqual({
              type: 'error',
              reason: `unknown metric "${unknown}" (no metric of that name in the table)`,
            });
          } else {
            model = next;
            expect(replies[i]).toEqual({ type: 'subscribed', subscribed: model });
          }
          expect(model.metrics.length).toBeLessThanOrEqual(MAX_METRICS);
        });
      }),
      { seed: 3, numRuns: 40 },
    );
    expect(messages).toBeGreaterThanOrEqual(40 * 20);
    // What the server keeps per client is its subscription, at most maxMetrics names.
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(50 * 2 ** 20);
    // A frame carries every subscribed metric, by its own name (even one named like an Object member).
    const current = await currentMetrics();
    await exchange(s.attacker, () => s.attacker.send({ type: 'unsubscribe', metrics: current }));
    const names = ['__proto__', 'constructor', 'system.cpu', 'toString'];
    await exchange(s.attacker, () => s.attacker.send({ type: 'subscribe', metrics: names }));
    const from = s.attacker.messages.length;
    const frame = await s.attacker.next('frame', from);
    expect(Object.keys(frame.metrics).sort()).toEqual([...names].sort());
    expect(Object.keys(frame.metrics.system_cpu ?? frame.metrics['system.cpu']!)).toEqual(['system.cpu']);
    expect(frame.metrics.__proto__).toEqual({});
    await exchange(s.attacker, () => s.attacker.send({ type: 'unsubscribe', metrics: names }));
    await exchange(s.attacker, () => s.attacker.send({ type: 'subscribe', dashboards: ['main'] }));
    await expectUndisturbed(s);

    async function currentMetrics(): Promise<string[]> {
      const replies = await exchange(s.attacker, () => s.attacker.send({ type: 'subscribe' }));
      return (replies[0] as Extract<ServerMsg, { type: 'subscribed' }>).subscribed.metrics;
    }
  });
});

describe('bad WebSocket frames against the whole tree', () => {
  it('answers each bad frame with one error while an observer keeps its frames and the tree keeps running', async () => {
    const { mon, logger } = await startTree();
    const { url } = await mon.dashboardAddress();
    const wsUrl = `${url.replace(/^http/, 'ws')}/ws`;
    const observer = await connectFeed(wsUrl);
    const attacker = await connectFeed(wsUrl);
    await observer.next('frame');
    const seriesKeys = () => JSON.stringify(mon.metrics.metrics().map((m) => [m.name, m.series().map((x) => x.key)]));
    const before = seriesKeys();
    await fc.assert(
      fc.asyncProperty(badFrame, async (frame) => {
        const replies = await exchange(attacker, () => sendFragmented(attacker.ws, frame.data, frame.fragments));
        expect(replies, frame.kind).toHaveLength(1);
        expect(replies[0]!.type, frame.kind).toBe('error');
        expect((replies[0] as Extract<ServerMsg, { type: 'error' }>).reason, frame.kind).toMatch(frame.reason);
      }),
      { seed: 42, numRuns: 100 },
    );
    const frames = framesOf(observer);
    await until(() => expect(framesOf(observer)).toBeGreaterThan(frames + 2));
    expect(observer.messages.filter((m) => m.type === 'error')).toEqual([]);
    expect(seriesKeys()).toBe(before);
    expect(mon.supervisor.alive).toBe(true);
    expect(logger.records.filter((r) => r.level === 'error')).toEqual([]);
  });
});
