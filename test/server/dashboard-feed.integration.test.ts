import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { MonitorClock } from '../../src/clock.js';
import type { AlertView, ServerMsg, StoreHealth } from '../../src/server/protocol.js';
import { until } from '../helpers.js';
import {
  cleanups,
  connectFeed,
  type Fixture,
  runCleanups,
  startDashboard,
  upgradeStatus,
} from './dashboard-fixture.js';

afterEach(runCleanups);

type Frame = Extract<ServerMsg, { type: 'frame' }>;

function perfGauges(f: Fixture) {
  const latency = f.registry.gauge('perf.latency', { unit: 'ms', labels: ['percentile'] });
  const throughput = f.registry.gauge('perf.throughput');
  const cpu = f.registry.gauge('system.cpu');
  return { latency, throughput, cpu };
}

/** Sends one tick and waits until `client` has a frame it did not have before. */
async function tickAndReceive(f: Fixture, client: Awaited<ReturnType<typeof connectFeed>>): Promise<Frame> {
  const seen = client.messages.length;
  f.pid.send({ type: 'tick' });
  return client.next('frame', seen);
}

/**
 * Opens a WebSocket by hand on a raw TCP socket and then never reads from it again (and never
 * answers pings): a client that stopped reading, or a dead peer.
 */
async function rawFeedSocket(url: string): Promise<Socket> {
  const u = new URL(url);
  const socket = connect(Number(u.port), u.hostname);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.on('error', () => undefined);
  socket.write(
    `GET /ws HTTP/1.1\r\nHost: ${u.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
  );
  cleanups.push(() => void socket.destroy());
  const head = await new Promise<string>((resolve) =>
    socket.once('data', (chunk: Buffer) => resolve(chunk.toString('latin1'))),
  );
  expect(head.startsWith('HTTP/1.1 101')).toBe(true);
  socket.pause();
  return socket;
}

describe('dashboard live feed', () => {
  it('greets a client with connected and a first frame at once, then sends text frames whose values match the table', async () => {
    const alert: AlertView = {
      id: 'a1',
      severity: 'warning',
      status: 'firing',
      title: 'slow',
      message: 'p95 over 100 ms',
      source: 'perf',
      labels: { chart: 'x' },
      startedAt: 1,
    };
    const scores = { latency: 50, throughput: 100, error_rate: 100, resources: 90, overall: 80 };
    const f = await startDashboard({
      config: { refresh_interval: 2500 },
      sources: { alerts: async () => [alert], scores: () => scores },
    });
    const g = perfGauges(f);
    g.latency.set({ percentile: 'p95' }, 42);
    g.throughput.set(900);
    const client = await connectFeed(f.wsUrl);
    const hello = await client.next('connected');
    expect(hello).toEqual({
      type: 'connected',
      client_id: expect.stringMatching(/^c\d+$/),
      server_time: f.clock.now,
      refresh_interval: 2500,
      dashboards: ['main', 'mcp'],
      subscribed: { dashboards: ['main'], metrics: [] },
    });
    // The first frame comes with the greeting, not a refresh interval later (no tick was sent:
    // the fixture's ticks are 10 minutes apart).
    const first = await client.next('frame');
    expect(first.at).toBe(f.clock.now);
    expect(first.dashboards.main!.throughput).toEqual({ 'req/s': [f.clock.now, 900] });
    expect(first.alerts).toEqual([alert]);
    expect(first.scores).toEqual(scores);
    expect((await f.pid.call({ type: 'stats' })).ticks).toBe(0);
    f.clock.now += 2500;
    const frame = await tickAndReceive(f, client);
    const at = f.clock.now;
    expect(frame.at).toBe(at);
    expect(frame.dashboards.main!.response_time).toEqual({ p50: [at, null], p95: [at, 42], p99: [at, null] });
    expect(frame.dashboards.main!.throughput).toEqual({ 'req/s': [at, 900] });
    expect(frame.alerts).toEqual([alert]);
    expect(frame.scores).toEqual(scores);
    expect(frame.metrics).toEqual({});
    g.latency.set({ percentile: 'p95' }, 43.25);
    f.clock.now += 2500;
    const second = await tickAndReceive(f, client);
    expect(second.dashboards.main!.response_time!.p95).toEqual([f.clock.now, 43.25]);
    expect(client.binary.every((b) => !b)).toBe(true);
  });

  it("says in each frame whether the store's writes commit when it has a store, and nothing about it without one", async () => {
    let store: StoreHealth = { status: 'failing', error: 'Input/output error', reason: 'EIO', since: 7, attempts: 1 };
    const f = await startDashboard({ sources: { storeHealth: () => store } });
    const client = await connectFeed(f.wsUrl);
    await client.next('connected');
    expect((await tickAndReceive(f, client)).health).toEqual({ status: 'degraded', store });
    store = { status: 'ok' };
    expect((await tickAndReceive(f, client)).health).toEqual({ status: 'ok', store: { status: 'ok' } });

    const plain = await startDashboard();
    const other = await connectFeed(plain.wsUrl);
    await other.next('connected');
    expect(await tickAndReceive(plain, other)).not.toHaveProperty('health');
  });

  it('sends what the subscription asks for: subscribe and unsubscribe dashboards and metrics', async () => {
    const f = await startDashboard({
      config: {
        dashboards: [
          {
            name: 'ops',
            title: 'Ops',
            charts: [{ id: 'cpu', title: 'CPU', series: [{ label: 'cpu', metric: 'system.cpu' }] }],
          },
        ],
      },
    });
    const g = perfGauges(f);
    g.cpu.set(12.5);
    const depth = f.registry.gauge('queue.depth', { labels: ['queue'] });
    depth.set({ queue: 'in' }, 3);
    depth.set({ queue: 'out' }, 4);
    const client = await connectFeed(f.wsUrl);
    await client.next('connected');
    let from = client.messages.length;
    client.send({ type: 'subscribe', dashboards: ['ops'], metrics: ['queue.depth'] });
    expect((await client.next('subscribed', from)).subscribed).toEqual({
      dashboards: ['main', 'ops'],
      metrics: ['queue.depth'],
    });
    from = client.messages.length;
    client.send({ type: 'unsubscribe', dashboards: ['main'] });
    expect((await client.next('subscribed', from)).subscribed).toEqual({
      dashboards: ['ops'],
      metrics: ['queue.depth'],
    });
    const frame = await tickAndReceive(f, client);
    const at = f.clock.now;
    expect(Object.keys(frame.dashboards)).toEqual(['ops']);
    expect(frame.dashboards.ops).toEqual({ cpu: { cpu: [at, 12.5] } });
    expect(frame.metrics).toEqual({
      'queue.depth': { 'queue.depth{queue="in"}': [at, 3], 'queue.depth{queue="out"}': [at, 4] },
    });

    from = client.messages.length;
    client.send({ type: 'unsubscribe', dashboards: ['ops'], metrics: ['queue.depth'] });
    await client.next('subscribed', from);
    const before = client.messages.length;
    const stats0 = await f.pid.call({ type: 'stats' });
    f.pid.send({ type: 'tick' });
    await until(async () => expect((await f.pid.call({ type: 'stats' })).ticks).toBe(stats0.ticks + 1));
    // Nothing subscribed: a ping still gets through, but no frame came.
    client.send({ type: 'ping', id: 7 });
    await client.next('pong', before);
    expect(client.messages.slice(before).map((m) => m.type)).toEqual(['pong']);
  });

  it('bounds the work of a client flipping its subscription: 5,000 subscribes cost a bounded number of alerts reads, other clients keep getting frames', async () => {
    let alertReads = 0;
    const f = await startDashboard({
      sources: {
        alerts: async () => {
          alertReads++;
          return [];
        },
      },
    });
    f.registry.gauge('queue.depth', { labels: ['queue'] }).set({ queue: 'in' }, 3);
    const flipper = await connectFeed(f.wsUrl);
    await flipper.next('frame');
    const FLIPS = 5000;
    for (let i = 0; i < FLIPS; i++)
      flipper.send({ type: i % 2 === 0 ? 'subscribe' : 'unsubscribe', metrics: ['queue.depth'] });
    flipper.send({ type: 'subscribe', metrics: ['queue.depth'] });
    await until(() => expect(flipper.messages.filter((m) => m.type === 'subscribed')).toHaveLength(FLIPS + 1), 60_000);
    const last = flipper.messages.findLastIndex((m) => m.type === 'subscribed');
    // The flipper's latest subscription still gets its first frame.
    await until(
      () =>
        expect(
          flipper.messages.slice(last).some((m) => m.type === 'frame' && m.metrics['queue.depth'] !== undefined),
        ).toBe(true),
      30_000,
    );
    const other = await connectFeed(f.wsUrl);
    await other.next('frame');
    // Every first frame reads alerts the last read left (one read per refresh interval at most, here 10 min).
    expect(alertReads).toBeLessThanOrEqual(2);
    const seen = other.messages.length;
    f.pid.send({ type: 'tick' });
    await other.next('frame', seen);
    expect(alertReads).toBeLessThanOrEqual(3);
  });

  it('builds at most one first frame at a time per client: subscribes meanwhile get one more build, of the latest subscription', async () => {
    let release: (() => void) | undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    cleanups.push(() => release!());
    let builds = 0;
    const f = await startDashboard({
      // The first read of alerts hangs until released: the connect's first frame is in flight meanwhile.
      sources: { alerts: async () => (await gate, []), scores: () => (builds++, null) },
      args: { sourceTimeoutMs: 600_000 },
    });
    f.registry.gauge('queue.depth', { labels: ['queue'] }).set({ queue: 'in' }, 3);
    const flipper = await connectFeed(f.wsUrl);
    await flipper.next('connected');
    const FLIPS = 2000;
    for (let i = 0; i < FLIPS; i++)
      flipper.send({ type: i % 2 === 0 ? 'subscribe' : 'unsubscribe', metrics: ['queue.depth'] });
    flipper.send({ type: 'subscribe', metrics: ['queue.depth'] });
    await until(() => expect(flipper.messages.filter((m) => m.type === 'subscribed')).toHaveLength(FLIPS + 1), 60_000);
    expect(builds).toBe(0);
    release!();
    await until(
      () =>
        expect(flipper.messages.some((m) => m.type === 'frame' && m.metrics['queue.depth'] !== undefined)).toBe(true),
      30_000,
    );
    // The connect's build (its subscription is gone: not sent) and one of the latest subscription.
    expect(builds).toBe(2);
    expect(flipper.messages.filter((m) => m.type === 'frame')).toHaveLength(1);
  });

  it('answers malformed and unknown messages with an error and keeps the socket open', async () => {
    const f = await startDashboard();
    const client = await connectFeed(f.wsUrl);
    await client.next('connected');
    const cases: [unknown, string][] = [
      ['{not json', 'malformed JSON: '],
      ['[1,2]', 'a message must be a JSON object with a "type" (subscribe, unsubscribe, ping)'],
      [{ type: 'launch' }, 'unknown message type "launch" (allowed: subscribe, unsubscribe, ping)'],
      [{ type: 'subscribe', dashboards: 'main' }, 'subscribe.dashboards must be an array of at most 100 names'],
      [{ type: 'subscribe', dashboards: ['nope'] }, 'unknown dashboard "nope" (available: main, mcp)'],
      [{ type: 'subscribe', metrics: ['<script>'] }, 'subscribe.metrics: "<script>" is not a metric name'],
      [
        { type: 'subscribe', metrics: ['no.such.metric'] },
        'unknown metric "no.such.metric" (no metric of that name in the table)',
      ],
      [{ type: 'subscribe', extra: 1 }, 'subscribe: unknown field "extra" (allowed: dashboards, metrics)'],
      [{ type: 'ping', id: { a: 1 } }, 'ping.id must be a string of at most 200 characters or a finite number'],
    ];
    for (const [msg, reason] of cases) {
      const from = client.messages.length;
      client.send(msg);
      const error = await client.next('error', from);
      expect(error.reason.startsWith(reason), `${JSON.stringify(msg)} → ${error.reason}`).toBe(true);
    }
    const from = client.messages.length;
    client.send({ type: 'ping', id: 'p1' });
    expect(await client.next('pong', from)).toEqual({ type: 'pong', id: 'p1', server_time: f.clock.now });
    expect(client.ws.readyState).toBe(client.ws.OPEN);
    expect((await f.pid.call({ type: 'stats' })).badMessages).toBe(cases.length);
  });

  it('refuses a wrong or missing token and a foreign origin at the upgrade, and takes the right one by header or query', async () => {
    const f = await startDashboard({ config: { auth_token: 'feed-token' } });
    expect(await upgradeStatus(f.wsUrl)).toEqual({
      status: 401,
      body: JSON.stringify({
        error: 'a valid token is required: send "Authorization: Bearer <token>" or ?token=<token>',
      }),
    });
    expect((await upgradeStatus(`${f.wsUrl}?token=nope`)).status).toBe(401);
    expect((await upgradeStatus(f.wsUrl, { authorization: 'Bearer feed-toke' })).status).toBe(401);
    expect((await upgradeStatus(`${f.wsUrl}?token=feed-token`, { origin: 'http://evil.example' })).status).toBe(403);
    expect((await upgradeStatus(f.url.replace(/^http/, 'ws') + '/other?token=feed-token')).status).toBe(404);
    expect((await upgradeStatus(`${f.wsUrl}?token=feed-token`)).status).toBe(101);
    const byHeader = await connectFeed(f.wsUrl, {
      headers: { authorization: 'Bearer feed-token', origin: new URL(f.url).origin },
    });
    expect((await byHeader.next('connected')).type).toBe('connected');
  });

  it('refuses clients past maxClients with 503 and metrics past maxMetrics with an error', async () => {
    const f = await startDashboard({ args: { wsLimits: { maxClients: 1, maxMetrics: 2 } } });
    for (const name of ['a', 'b', 'c']) f.registry.gauge(name);
    const first = await connectFeed(f.wsUrl);
    await first.next('connected');
    expect(await upgradeStatus(f.wsUrl)).toEqual({
      status: 503,
      body: JSON.stringify({ error: 'the live feed has as many clients as it takes; try again later' }),
    });
    expect((await f.pid.call({ type: 'stats' })).refused).toBe(1);
    first.send({ type: 'subscribe', metrics: ['a', 'b', 'c'] });
    expect((await first.next('error')).reason).toBe('at most 2 metrics per client (asked for 3)');
    first.send({ type: 'subscribe', metrics: ['a', 'b'] });
    expect((await first.next('subscribed')).subscribed.metrics).toEqual(['a', 'b']);
  });

  it('builds one frame per distinct subscription per tick and sends all its clients the same bytes', async () => {
    const f = await startDashboard();
    perfGauges(f).cpu.set(1);
    const clients = await Promise.all([1, 2, 3].map(() => connectFeed(f.wsUrl)));
    await Promise.all(clients.map((c) => c.next('frame')));
    const other = clients[2]!;
    const from = other.messages.length;
    other.send({ type: 'subscribe', metrics: ['system.cpu'] });
    await other.next('subscribed', from);
    // A subscribe that changes the subscription brings a frame of it at once.
    expect((await other.next('frame', from)).metrics).toEqual({ 'system.cpu': { 'system.cpu': [f.clock.now, 1] } });
    const before = await f.pid.call({ type: 'stats' });
    const raw: string[][] = clients.map(() => []);
    clients.forEach((c, i) => c.ws.on('message', (data) => raw[i]!.push(data.toString())));
    f.pid.send({ type: 'tick' });
    await until(() => expect(raw.every((r) => r.length === 1)).toBe(true));
    const after = await f.pid.call({ type: 'stats' });
    expect(after.framesBuilt - before.framesBuilt).toBe(2);
    expect(after.framesSent - before.framesSent).toBe(3);
    expect(raw[0]![0]).toBe(raw[1]![0]);
    expect(raw[2]![0]).not.toBe(raw[0]![0]);
  });

  it('drops a peer that stops answering heartbeats', async () => {
    const f = await startDashboard();
    const live = await connectFeed(f.wsUrl);
    await live.next('connected');
    const dead = await rawFeedSocket(f.wsUrl);
    const deadClosed = new Promise<void>((resolve) => dead.once('close', () => resolve()));
    expect((await f.pid.call({ type: 'stats' })).clients).toBe(2);
    const pinged = new Promise<void>((resolve) => live.ws.once('ping', () => resolve()));
    f.pid.send({ type: 'heartbeat' });
    await pinged;
    // ws answers the ping before this message on the same socket, so once the server has answered
    // this, it has seen the live client's pong.
    const from = live.messages.length;
    live.send({ type: 'ping' });
    await live.next('pong', from);
    f.pid.send({ type: 'heartbeat' });
    await until(async () => expect((await f.pid.call({ type: 'stats' })).dead).toBe(1));
    const stats = await f.pid.call({ type: 'stats' });
    expect(stats.clients).toBe(1);
    dead.resume();
    await deadClosed;
    expect(live.ws.readyState).toBe(live.ws.OPEN);
  });

  it('skips a client that stops reading, keeps what it holds for it bounded, and disconnects it', async () => {
    const skipAbove = 64 * 1024;
    const f = await startDashboard({
      args: { wsLimits: { skipAboveBytes: skipAbove, dropAboveBytes: 4 * 1024 * 1024, dropAfterMs: 3000 } },
    });
    // Four metrics of 500 series (a frame's limit per metric) make each frame ~100 KB, so the
    // kernel buffers fill in a bounded number of ticks.
    const metrics = ['wide.a', 'wide.b', 'wide.c', 'wide.d'];
    for (const name of metrics) {
      const wide = f.registry.gauge(name, { labels: ['id'] });
      for (let i = 0; i < 500; i++) wide.set({ id: `series-${i}` }, i);
    }
    const reader = await connectFeed(f.wsUrl);
    await reader.next('connected');
    reader.send({ type: 'subscribe', metrics });
    await reader.next('subscribed');
    const stalled = await rawFeedSocket(f.wsUrl);
    stalled.write(maskedText(JSON.stringify({ type: 'subscribe', metrics })));
    await until(() => expect(f.pid.call({ type: 'stats' }).then((s) => s.clients)).resolves.toBe(2));
    let frameBytes = 0;
    reader.ws.on('message', (data) => (frameBytes = Math.max(frameBytes, (data as Buffer).length)));

    // Tick until the server starts skipping the stalled client (bounded: ~10 MB of kernel buffers at most).
    let skipping = false;
    for (let i = 0; i < 400 && !skipping; i++) {
      f.pid.send({ type: 'tick' });
      const clients = (await f.pid.call({ type: 'stats' })).clients;
      expect(clients).toBe(2);
      skipping = (await f.pid.call({ type: 'stats' })).skipped > 0;
    }
    expect(skipping).toBe(true);
    // Keep ticking for 2.9 s of (injected) time: frames are skipped, the client stays, memory does not grow.
    for (let i = 0; i < 29; i++) {
      f.clock.now += 100;
      f.pid.send({ type: 'tick' });
      await f.pid.call({ type: 'stats' });
    }
    const during = await f.pid.call({ type: 'stats' });
    expect(during.clients).toBe(2);
    expect(during.skipped).toBeGreaterThanOrEqual(30);
    expect(during.dropped).toBe(0);
    expect(frameBytes).toBeGreaterThan(80_000);
    // What the server holds for it never exceeded the skip bound plus one frame.
    expect(during.maxBufferedBytes).toBeLessThanOrEqual(skipAbove + frameBytes);
    // The reading client kept getting every frame.
    expect(during.framesSent).toBeGreaterThan(30);

    const closed = new Promise<void>((resolve) => stalled.once('close', () => resolve()));
    f.clock.now += 200;
    f.pid.send({ type: 'tick' });
    await until(async () => expect((await f.pid.call({ type: 'stats' })).dropped).toBe(1));
    const after = await f.pid.call({ type: 'stats' });
    expect(after.clients).toBe(1);
    stalled.resume();
    await closed;
    expect(reader.ws.readyState).toBe(reader.ws.OPEN);
    expect(f.logger.records.some((r) => r.msg === 'dashboard feed client too slow: disconnected')).toBe(true);
  });

  it('still drops a client that stopped reading after the wall clock steps back an hour (the bound runs on steady time)', async () => {
    let wall = 1_700_000_000_000;
    let mono = 1000;
    const clock = new MonitorClock({ wallMs: () => wall, monoMs: () => mono });
    const f = await startDashboard({
      args: {
        now: () => clock.stampMs(),
        steadyNow: () => clock.steadyMs(),
        wsLimits: { skipAboveBytes: 64 * 1024, dropAboveBytes: 64 * 1024 * 1024, dropAfterMs: 3000 },
      },
    });
    const metrics = ['wide.a', 'wide.b', 'wide.c', 'wide.d'];
    for (const name of metrics) {
      const wide = f.registry.gauge(name, { labels: ['id'] });
      for (let i = 0; i < 500; i++) wide.set({ id: `series-${i}` }, i);
    }
    const stalled = await rawFeedSocket(f.wsUrl);
    stalled.write(maskedText(JSON.stringify({ type: 'subscribe', metrics })));
    await until(() => expect(f.pid.call({ type: 'stats' }).then((s) => s.clients)).resolves.toBe(1));
    let skipping = false;
    for (let i = 0; i < 400 && !skipping; i++) {
      f.pid.send({ type: 'tick' });
      skipping = (await f.pid.call({ type: 'stats' })).skipped > 0;
    }
    expect(skipping).toBe(true);
    wall -= 3_600_000;
    // 4 s of real (monotonic) time with the wall clock an hour back: stamps hold, the bound still runs out.
    for (let i = 0; i < 40 && (await f.pid.call({ type: 'stats' })).dropped === 0; i++) {
      wall += 100;
      mono += 100;
      f.pid.send({ type: 'tick' });
    }
    await until(async () => expect((await f.pid.call({ type: 'stats' })).dropped).toBe(1));
    stalled.destroy();
  });

  it('closes clients with 1001 when the process stops, leaving no handle behind', async () => {
    const f = await startDashboard();
    const client = await connectFeed(f.wsUrl);
    await client.next('connected');
    await f.stop();
    expect(await client.closed).toEqual({ code: 1001, reason: 'server shutting down' });
  });
});

/** A masked client text frame (clients must mask), for the raw socket. */
function maskedText(text: string): Buffer {
  const payload = Buffer.from(text);
  if (payload.length > 125) throw new Error('short frames only');
  const mask = Buffer.from([1, 2, 3, 4]);
  const frame = Buffer.alloc(2 + 4 + payload.length);
  frame[0] = 0x81;
  frame[1] = 0x80 | payload.length;
  mask.copy(frame, 2);
  for (let i = 0; i < payload.length; i++) frame[6 + i] = payload[i]! ^ mask[i % 4]!;
  return frame;
}
