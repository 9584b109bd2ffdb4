/**
 * `WsServer`: the dashboard's live feed over WebSocket, after the HTTP server has checked the
 * upgrade. Every client message is validated here, once (`parseClientMsg`); a bad one is answered
 * with an `error` and the socket stays open. permessage-deflate is off (it raised delivery p99 to
 * 1,000 clients from 24 ms to over 200 ms). What the server holds per client is bounded: a slow
 * client is skipped above `skipAboveBytes` and dropped after `dropAfterMs` or above `dropAboveBytes`;
 * a heartbeat terminates dead clients; past `maxClients` an upgrade is refused (503).
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { type RawData, WebSocket, WebSocketServer } from 'ws';
import { SLUG } from '../config/schema.js';
import { describeValue, toError } from '../errors.js';
import type { Logger } from '../logger.js';
import { METRIC_NAME } from '../metrics/metric.js';
import type { ClientMsg, ServerMsg, Subscription } from './protocol.js';
import { subscriptionKey } from './frame-builder.js';
import { HttpError, rawAnswer } from './http-error.js';

/** Limits of the feed; every one has a default. */
export interface WsLimits {
  /** Skip frames to a client holding more unsent bytes than this. Default 256 KiB. */
  skipAboveBytes: number;
  /** Terminate a client holding more unsent bytes than this. Default 4 MiB. */
  dropAboveBytes: number;
  /** Terminate a client skipped for this long (ms). Default 3000. */
  dropAfterMs: number;
  /** Most connected clients. Default 1000. */
  maxClients: number;
  /** Largest client message accepted, bytes (a larger one closes the socket with 1009). Default 16 KiB. */
  maxPayload: number;
  /** Most metrics one client may subscribe to directly. Default 32. */
  maxMetrics: number;
}

export const DEFAULT_WS_LIMITS: Readonly<WsLimits> = Object.freeze({
  skipAboveBytes: 256 * 1024,
  dropAboveBytes: 4 * 1024 * 1024,
  dropAfterMs: 3000,
  maxClients: 1000,
  maxPayload: 16 * 1024,
  maxMetrics: 32,
});

export interface WsServerOptions {
  /** Dashboards a client may subscribe to; the first is every client's initial subscription. */
  dashboards: readonly string[];
  /** Sent in `connected` so the page knows the frame rate. */
  refreshInterval: number;
  /** Wall clock (ms), for `server_time`. */
  now: () => number;
  /** Clock for the slow-client bound (ms); never steps (default `now`). */
  steadyNow?: () => number;
  log: Logger;
  limits?: Partial<WsLimits>;
  /** Whether a metric exists, for `subscribe` (default: any name does). */
  knownMetric?: (name: string) => boolean;
  /**
   * A frame of `sub` built now, sent after `connected` and after a subscribe so a client does not
   * wait a whole refresh interval for its first values; `undefined` sends nothing.
   */
  firstFrame?: (sub: Subscription) => Promise<Buffer | undefined>;
}

/** The feed's counters, for the `stats` call and tests. */
export interface WsStats {
  clients: number;
  /** Frames sent, summed over clients. */
  framesSent: number;
  /** Frames not sent to a client because its buffer was over `skipAboveBytes`. */
  skipped: number;
  /** Clients terminated for being slow. */
  dropped: number;
  /** Clients terminated for missing a heartbeat. */
  dead: number;
  /** Upgrades refused because `maxClients` were connected. */
  refused: number;
  /** Client messages answered with an error. */
  badMessages: number;
  /** The most unsent bytes seen held for one client at a broadcast. */
  maxBufferedBytes: number;
}

/** One connected client, as `clients()` reports it. */
export interface WsClientInfo {
  id: string;
  subscribed: Subscription;
  bufferedAmount: number;
  /** Since when its frames are skipped (ms), if they are. */
  skippingSince: number | undefined;
}

interface Client {
  id: string;
  ws: WebSocket;
  sub: Subscription;
  key: string;
  alive: boolean;
  skippingSince: number | undefined;
  /** A first frame is being built for this client; `rebuild`: its subscription changed meanwhile. */
  building: boolean;
  rebuild: boolean;
}

const MAX_NAME = 200;

/**
 * Validates one client message (the text of a WebSocket message).
 * @returns the message, or `{ error }` saying what is wrong and what is allowed
 */
export function parseClientMsg(text: string): ClientMsg | { error: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { error: `malformed JSON: ${toError(err).message}` };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { error: 'a message must be a JSON object with a "type" (subscribe, unsubscribe, ping)' };
  }
  const msg = value as Record<string, unknown>;
  switch (msg.type) {
    case 'subscribe':
    case 'unsubscribe': {
      for (const key of Object.keys(msg)) {
        if (key !== 'type' && key !== 'dashboards' && key !== 'metrics')
          return { error: `${msg.type}: unknown field ${describeValue(key)} (allowed: dashboards, metrics)` };
      }
      const dashboards = nameList(
        msg.dashboards,
        `${msg.type}.dashboards`,
        SLUG,
        'a dashboard name (1-64 of A-Z a-z 0-9 _ -)',
      );
      if (typeof dashboards === 'string') return { error: dashboards };
      const metrics = nameList(
        msg.metrics,
        `${msg.type}.metrics`,
        METRIC_NAME,
        'a metric name (a letter or _, then letters, digits, _ . :, at most 200)',
      );
      if (typeof metrics === 'string') return { error: metrics };
      return {
        type: msg.type,
        ...(dashboards === undefined ? {} : { dashboards }),
        ...(metrics === undefined ? {} : { metrics }),
      };
    }
    case 'ping': {
      for (const key of Object.keys(msg)) {
        if (key !== 'type' && key !== 'id') return { error: `ping: unknown field ${describeValue(key)} (allowed: id)` };
      }
      const id = msg.id;
      if (id === undefined) return { type: 'ping' };
      if ((typeof id === 'string' && id.length <= MAX_NAME) || (typeof id === 'number' && Number.isFinite(id)))
        return { type: 'ping', id };
      return { error: `ping.id must be a string of at most ${MAX_NAME} characters or a finite number` };
    }
    default:
      // describeValue, not JSON.stringify: the type may be 16 KB of text or 8,000 nested arrays,
      // which JSON.stringify would echo whole or throw a RangeError on (out of the message handler: a crash).
      return { error: `unknown message type ${describeValue(msg.type)} (allowed: subscribe, unsubscribe, ping)` };
  }
}

function nameList(value: unknown, what: string, pattern: RegExp, expected: string): string[] | undefined | string {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.length > 100) return `${what} must be an array of at most 100 names`;
  for (const item of value) {
    if (typeof item !== 'string' || !pattern.test(item)) {
      return `${what}: ${typeof item === 'string' ? JSON.stringify(item.slice(0, 80)) : describeValue(item)} is not ${expected}`;
    }
  }
  return value as string[];
}

export class WsServer {
  readonly #wss: WebSocketServer;
  readonly #options: WsServerOptions;
  readonly #limits: WsLimits;
  readonly #dashboards: ReadonlySet<string>;
  readonly #clients = new Map<WebSocket, Client>();
  #nextId = 1;
  #closing = false;
  readonly #stats: WsStats = {
    clients: 0,
    framesSent: 0,
    skipped: 0,
    dropped: 0,
    dead: 0,
    refused: 0,
    badMessages: 0,
    maxBufferedBytes: 0,
  };

  constructor(options: WsServerOptions) {
    this.#options = options;
    this.#limits = { ...DEFAULT_WS_LIMITS, ...options.limits };
    this.#dashboards = new Set(options.dashboards);
    this.#wss = new WebSocketServer({
      noServer: true,
      perMessageDeflate: false,
      maxPayload: this.#limits.maxPayload,
      clientTracking: false,
    });
    // A handshake ws refuses (bad key, version, protocol list) is answered like every other refusal: JSON.
    this.#wss.on('wsClientError', (err: Error, socket: Duplex) => {
      const headers: Record<string, string> = /Sec-WebSocket-Version/i.test(err.message)
        ? { 'sec-websocket-version': '13, 8' }
        : {};
      socket.end(rawAnswer(new HttpError(400, `websocket handshake refused: ${err.message}`, headers)));
    });
  }

  /** Whether another client may connect (below `maxClients` and not closing). */
  get accepting(): boolean {
    return !this.#closing && this.#clients.size < this.#limits.maxClients;
  }

  /** Counts an upgrade refused because the feed was full. */
  countRefused(): void {
    this.#stats.refused++;
  }

  /**
   * Completes a checked upgrade and starts the client.
   * @param req the upgrade request (already authorized)
   */
  accept(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#start(ws));
  }

  #start(ws: WebSocket): void {
    if (this.#closing) {
      ws.terminate();
      return;
    }
    const first = this.#options.dashboards[0];
    const sub: Subscription = { dashboards: first === undefined ? [] : [first], metrics: [] };
    const client: Client = {
      id: `c${this.#nextId++}`,
      ws,
      sub,
      key: subscriptionKey(sub),
      alive: true,
      skippingSince: undefined,
      building: false,
      rebuild: false,
    };
    this.#clients.set(ws, client);
    ws.on('message', (data, isBinary) => {
      // A throw here would escape through ws's event emitter into the host as an uncaughtException.
      try {
        this.#onMessage(client, data, isBinary);
      } catch (err) {
        this.#options.log.error(
          { client: client.id, err: toError(err) },
          'dashboard feed: handling a client message failed',
        );
        this.#error(client, 'the server could not handle this message (logged on the server)');
      }
    });
    ws.on('pong', () => {
      client.alive = true;
    });
    ws.on('error', (err) => this.#options.log.debug({ client: client.id, err }, 'dashboard feed client error'));
    ws.on('close', () => this.#clients.delete(ws));
    this.#send(client, {
      type: 'connected',
      client_id: client.id,
      server_time: this.#options.now(),
      refresh_interval: this.#options.refreshInterval,
      dashboards: [...this.#options.dashboards],
      subscribed: copy(sub),
    });
    this.#sendFirstFrame(client);
  }

  /**
   * Sends `client` a frame of its subscription now (see `WsServerOptions.firstFrame`). At most one
   * is built at a time per client: subscribes that arrive meanwhile get one more build, of the
   * subscription then current, so a client flipping its subscription cannot queue a build per flip.
   */
  #sendFirstFrame(client: Client): void {
    const build = this.#options.firstFrame;
    if (build === undefined || (client.sub.dashboards.length === 0 && client.sub.metrics.length === 0)) return;
    if (client.building) {
      client.rebuild = true;
      return;
    }
    client.building = true;
    const key = client.key;
    build(copy(client.sub))
      .then(
        (bytes) => {
          // Gone, or subscribed to something else meanwhile (that subscribe sends its own frame).
          if (
            bytes === undefined ||
            this.#clients.get(client.ws) !== client ||
            client.key !== key ||
            client.ws.readyState !== WebSocket.OPEN
          )
            return;
          if (client.ws.bufferedAmount > this.#limits.skipAboveBytes) return;
          client.ws.send(bytes, { binary: false });
          this.#stats.framesSent++;
        },
        (err: unknown) =>
          this.#options.log.warn(
            { client: client.id, err: toError(err) },
            'dashboard feed: first frame not built; the client waits for the next tick',
          ),
      )
      .finally(() => {
        client.building = false;
        if (!client.rebuild) return;
        client.rebuild = false;
        if (this.#clients.get(client.ws) === client && client.key !== key) this.#sendFirstFrame(client);
      });
  }

  #onMessage(client: Client, data: RawData, isBinary: boolean): void {
    if (isBinary) {
      this.#error(client, 'binary messages are not accepted: send JSON text');
      return;
    }
    const text = Array.isArray(data)
      ? Buffer.concat(data).toString('utf8')
      : Buffer.from(data as ArrayBuffer).toString('utf8');
    const msg = parseClientMsg(text);
    if ('error' in msg) {
      this.#error(client, msg.error);
      return;
    }
    switch (msg.type) {
      case 'subscribe':
      case 'unsubscribe': {
        const unknown = (msg.dashboards ?? []).find((d) => !this.#dashboards.has(d));
        if (unknown !== undefined) {
          this.#error(
            client,
            `unknown dashboard ${JSON.stringify(unknown)} (available: ${[...this.#dashboards].join(', ')})`,
          );
          return;
        }
        const next = msg.type === 'subscribe' ? union(client.sub, msg) : difference(client.sub, msg);
        if (next.metrics.length > this.#limits.maxMetrics) {
          this.#error(
            client,
            `at most ${this.#limits.maxMetrics} metrics per client (asked for ${next.metrics.length})`,
          );
          return;
        }
        const known = this.#options.knownMetric;
        const unknownMetric =
          msg.type === 'subscribe' && known !== undefined ? (msg.metrics ?? []).find((m) => !known(m)) : undefined;
        if (unknownMetric !== undefined) {
          this.#error(client, `unknown metric ${JSON.stringify(unknownMetric)} (no metric of that name in the table)`);
          return;
        }
        const added = subscriptionKey(next) !== client.key;
        client.sub = next;
        client.key = subscriptionKey(next);
        this.#send(client, { type: 'subscribed', subscribed: copy(next) });
        if (msg.type === 'subscribe' && added) this.#sendFirstFrame(client);
        return;
      }
      case 'ping': {
        this.#send(client, {
          type: 'pong',
          ...(msg.id === undefined ? {} : { id: msg.id }),
          server_time: this.#options.now(),
        });
        return;
      }
      default: {
        this.#error(client, `unknown message type ${JSON.stringify((msg as { type?: unknown }).type)}`);
        return;
      }
    }
  }

  #error(client: Client, reason: string): void {
    this.#stats.badMessages++;
    this.#send(client, { type: 'error', reason });
  }

  /** Replies go out unless the client is over the drop bound (then it is terminated instead). */
  #send(client: Client, msg: ServerMsg): void {
    if (client.ws.bufferedAmount > this.#limits.dropAboveBytes) {
      this.#drop(client);
      return;
    }
    client.ws.send(JSON.stringify(msg));
  }

  #drop(client: Client): void {
    this.#stats.dropped++;
    this.#clients.delete(client.ws);
    client.ws.terminate();
  }

  /**
   * Sends this tick's frame to every subscribed client, skipping and dropping slow ones.
   * @param frameFor the frame of a subscription (called once per distinct subscription key)
   */
  broadcast(frameFor: (sub: Subscription, key: string) => Buffer): void {
    const now = (this.#options.steadyNow ?? this.#options.now)();
    const { skipAboveBytes, dropAboveBytes, dropAfterMs } = this.#limits;
    for (const client of [...this.#clients.values()]) {
      if (client.sub.dashboards.length === 0 && client.sub.metrics.length === 0) continue;
      const buffered = client.ws.bufferedAmount;
      if (buffered > this.#stats.maxBufferedBytes) this.#stats.maxBufferedBytes = buffered;
      if (buffered > skipAboveBytes) {
        client.skippingSince ??= now;
        this.#stats.skipped++;
        if (buffered > dropAboveBytes || now - client.skippingSince >= dropAfterMs) {
          this.#options.log.warn(
            { client: client.id, bufferedBytes: buffered, skippingForMs: now - client.skippingSince },
            'dashboard feed client too slow: disconnected',
          );
          this.#drop(client);
        }
        continue;
      }
      client.skippingSince = undefined;
      client.ws.send(frameFor(client.sub, client.key), { binary: false });
      this.#stats.framesSent++;
    }
  }

  /** Whether any client would receive a frame now (no frame needs building otherwise). */
  get hasSubscribers(): boolean {
    for (const client of this.#clients.values())
      if (client.sub.dashboards.length > 0 || client.sub.metrics.length > 0) return true;
    return false;
  }

  /** Terminates clients that did not answer the previous ping, and pings the others. */
  heartbeat(): void {
    for (const client of [...this.#clients.values()]) {
      if (!client.alive) {
        this.#stats.dead++;
        this.#clients.delete(client.ws);
        client.ws.terminate();
        continue;
      }
      client.alive = false;
      client.ws.ping();
    }
  }

  stats(): WsStats {
    return { ...this.#stats, clients: this.#clients.size };
  }

  /** The connected clients (a copy). */
  clients(): WsClientInfo[] {
    return [...this.#clients.values()].map((c) => ({
      id: c.id,
      subscribed: copy(c.sub),
      bufferedAmount: c.ws.bufferedAmount,
      skippingSince: c.skippingSince,
    }));
  }

  /**
   * Closes every client with 1001 (going away), waits up to `graceMs` for their close frames,
   * then terminates what is left. New upgrades are refused from the first call.
   */
  async close(graceMs = 1000): Promise<void> {
    this.#closing = true;
    const sockets = [...this.#clients.keys()];
    const closed = sockets.map(
      (ws) =>
        new Promise<void>((resolve) =>
          ws.readyState === WebSocket.CLOSED ? resolve() : ws.once('close', () => resolve()),
        ),
    );
    for (const ws of sockets) ws.close(1001, 'server shutting down');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(closed), new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)))]);
    clearTimeout(timer);
    this.kill();
  }

  /** Terminates every client at once (no close handshake) and stops accepting. */
  kill(): void {
    this.#closing = true;
    for (const ws of this.#clients.keys()) ws.terminate();
    this.#clients.clear();
    this.#wss.close();
  }
}

function copy(sub: Subscription): Subscription {
  return { dashboards: [...sub.dashboards], metrics: [...sub.metrics] };
}

function union(sub: Subscription, add: { dashboards?: string[]; metrics?: string[] }): Subscription {
  return {
    dashboards: [...new Set([...sub.dashboards, ...(add.dashboards ?? [])])].sort(),
    metrics: [...new Set([...sub.metrics, ...(add.metrics ?? [])])].sort(),
  };
}

function difference(sub: Subscription, remove: { dashboards?: string[]; metrics?: string[] }): Subscription {
  const d = new Set(remove.dashboards ?? []);
  const m = new Set(remove.metrics ?? []);
  return { dashboards: sub.dashboards.filter((x) => !d.has(x)), metrics: sub.metrics.filter((x) => !m.has(x)) };
}
