/**
 * `instrument.mcp(server)`: measures an MCP server of the official TypeScript SDK from the JSON-RPC
 * messages crossing its transport ({@link MCP_METRICS}: requests, errors, tools, resources, prompts,
 * notifications, cancellations, sessions, bytes). It hooks only the public Transport contract
 * (`onmessage`, `onclose`, `send`, and `connect()` on the instance); the only private fields read are
 * the McpServer's registries (to map names to registered ones) and stdio's streams (byte counts).
 * Labels are bounded: unknown methods, codes and names become `other` / `unknown`.
 * Metric by metric: docs/design-notes.md.
 */
import { performance } from 'node:perf_hooks';
import { describeValue, ErrorCode, MonitorError, toError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Counter, CounterSeries } from '../metrics/counter.js';
import type { Gauge, GaugeSeries } from '../metrics/gauge.js';
import type { Histogram, HistogramSeries } from '../metrics/histogram.js';
import type { Registry } from '../metrics/registry.js';
import {
  errorCodeLabel,
  NameCap,
  notificationMethodLabel,
  OTHER_LABEL,
  requestMethodLabel,
  TOOL_ERROR_CODE,
  UNKNOWN_NAME,
  UNMATCHED_TEMPLATE,
} from './mcp-labels.js';

/** The names of `instrument.mcp`'s metrics (see the module header for their labels). */
export const MCP_METRICS = Object.freeze({
  requests: 'mcp.requests',
  duration: 'mcp.request.duration',
  errors: 'mcp.errors',
  toolCalls: 'mcp.tool.calls',
  toolErrors: 'mcp.tool.errors',
  toolDuration: 'mcp.tool.duration',
  toolErrorRatio: 'mcp.tool.error_ratio',
  resourceReads: 'mcp.resource.reads',
  promptGets: 'mcp.prompt.gets',
  notifications: 'mcp.notifications',
  cancelled: 'mcp.cancelled',
  sessionsActive: 'mcp.sessions.active',
  sessionsOpened: 'mcp.sessions.opened',
  sessionsClosed: 'mcp.sessions.closed',
  sessionDuration: 'mcp.session.duration',
  receivedBytes: 'mcp.received_bytes',
  sentBytes: 'mcp.sent_bytes',
} as const);

/** The owner named in the table for {@link MCP_METRICS}. */
export const MCP_INSTRUMENT_OWNER = 'instrument.mcp';

/** Default of `maxNames`. */
export const DEFAULT_MAX_NAMES = 100;
/** The tool error ratio covers this many ms of calls. */
export const ERROR_RATIO_WINDOW_MS = 60_000;
/** How often the ratio window moves on when no call does it. */
const RATIO_SLOT_MS = 15_000;
const RATIO_SLOTS = ERROR_RATIO_WINDOW_MS / RATIO_SLOT_MS;

/** Session durations run from seconds to days. */
const SESSION_BUCKETS = [1_000, 10_000, 60_000, 600_000, 3_600_000, 86_400_000];

/** What `instrument.mcp` uses of a transport: the SDK's `Transport` interface (structural: the package's types need no SDK). */
export interface McpTransportLike {
  start(): Promise<void>;
  send(message: unknown, options?: unknown): Promise<void>;
  close(): Promise<void>;
  onmessage?: ((message: any, extra?: any) => void) | undefined;
  onclose?: (() => void) | undefined;
  sessionId?: string | undefined;
}

/** What `instrument.mcp` uses of the SDK's low-level `Server` (any `Protocol`). */
export interface McpProtocolLike {
  connect(transport: any): Promise<void>;
  readonly transport?: McpTransportLike | undefined;
}

/** The SDK's `McpServer`: the low-level server under `.server`. */
export interface McpServerLike {
  readonly server: McpProtocolLike;
}

export interface McpInstrumentOptions {
  /** Value of the `server` label (default `'mcp'`). */
  name?: string;
  /** Distinct tool, prompt and resource template names kept as labels; past it a new one counts as `other` (default 100). */
  maxNames?: number;
  /**
   * The resource template of a `resources/read` URI, for a low-level Server (an McpServer's own
   * registered resources and templates are matched without it); undefined counts as `unmatched`.
   */
  resourceTemplate?: (uri: string) => string | undefined;
}

/** Called when the instrumentation starts and stops having a connected transport (the Monitor keeps only busy ones). */
export interface McpLifecycle {
  busy(): void;
  idle(): void;
}

interface Metrics {
  requests: Counter;
  duration: Histogram;
  errors: Counter;
  toolCalls: Counter;
  toolErrors: Counter;
  toolDuration: Histogram;
  toolErrorRatio: Gauge;
  resourceReads: Counter;
  promptGets: Counter;
  notifications: Counter;
  cancelled: Counter;
  sessionsActive: Gauge;
  sessionsOpened: Counter;
  sessionsClosed: Counter;
  sessionDuration: Histogram;
  receivedBytes: Counter;
  sentBytes: Counter;
}

interface MethodSeries {
  label: string;
  requests: CounterSeries;
  duration: HistogramSeries;
  errors: Map<string, CounterSeries>;
}

interface ToolSeries {
  label: string;
  calls: CounterSeries;
  duration: HistogramSeries;
  errors: Map<string, CounterSeries>;
  ratio: GaugeSeries;
  /** Calls and errors so far, and their values at the start of each of the last RATIO_SLOTS slots. */
  total: number;
  failed: number;
  slots: { total: number; failed: number }[];
}

/** An inbound request waiting for its response. */
interface Pending {
  method: MethodSeries;
  start: number;
  tool: ToolSeries | undefined;
  /** The `resources/read` template or `prompts/get` prompt label series. */
  read: CounterSeries | undefined;
}

/** The state of one server name in one table: bound series and name caps, shared by its instrumentations. */
interface Shared {
  name: string;
  metrics: Metrics;
  methods: Map<string, MethodSeries>;
  tools: Map<string, ToolSeries>;
  templates: Map<string, CounterSeries>;
  prompts: Map<string, CounterSeries>;
  notifications: Map<string, CounterSeries>;
  cancelled: Map<string, CounterSeries>;
  caps: { tool: NameCap; prompt: NameCap; template: NameCap };
  /** Connected transports over every instrumentation of this name; the ratio timer runs while > 0. */
  attached: number;
  timer: ReturnType<typeof setInterval> | undefined;
  /** Per node:http socket, bytes counted already (Streamable HTTP). */
  sockets: WeakMap<object, { read: number; written: number }>;
}

const sharedByRegistry = new WeakMap<Registry, Map<string, Shared>>();

/** The SDK's McpServer registries read to map names and URIs to registered ones (private fields of McpServer 1.x). */
interface McpServerRegistries {
  _registeredTools?: Record<string, unknown>;
  _registeredPrompts?: Record<string, unknown>;
  _registeredResources?: Record<string, unknown>;
  _registeredResourceTemplates?: Record<
    string,
    { resourceTemplate?: { uriTemplate?: { match(uri: string): unknown; toString(): string } } }
  >;
}

/**
 * Instruments `server`. Returns a function that removes the instrumentation (the transports keep
 * working; nothing more is counted).
 * @param server an McpServer or a low-level Server of `@modelcontextprotocol/sdk`, connected or not
 * @param log where an instrumentation fault is reported (once per instrumentation)
 * @throws {MonitorError} `EMON_INVALID_OPTION` if `server` is neither or an option is invalid;
 *   `EMON_METRIC_CONFLICT` if the application registered one of {@link MCP_METRICS} already
 */
export function instrumentMcp(
  registry: Registry,
  server: McpServerLike | McpProtocolLike,
  options: McpInstrumentOptions = {},
  log?: Logger,
  lifecycle?: McpLifecycle,
): () => void {
  const protocol = protocolOf(server);
  const high = protocol === server ? undefined : (server as McpServerRegistries);
  const spec = { name: 'mcp', maxNames: DEFAULT_MAX_NAMES, ...options };
  if (typeof spec.name !== 'string' || spec.name === '') {
    throw new MonitorError(
      ErrorCode.InvalidOption,
      `instrument.mcp: name must be a non-empty string (the "server" label), got ${describeValue(spec.name)}`,
    );
  }
  if (!Number.isInteger(spec.maxNames) || spec.maxNames < 1) {
    throw new MonitorError(
      ErrorCode.InvalidOption,
      `instrument.mcp: maxNames must be a positive integer, got ${describeValue(spec.maxNames)}`,
    );
  }
  if (spec.resourceTemplate !== undefined && typeof spec.resourceTemplate !== 'function') {
    throw new MonitorError(
      ErrorCode.InvalidOption,
      `instrument.mcp: resourceTemplate must be a function (uri) => template, got ${describeValue(spec.resourceTemplate)}`,
    );
  }
  const shared = sharedState(registry, spec.name, spec.maxNames, log);
  const { metrics } = shared;
  const name = spec.name;

  let warned = false;
  const fault = (err: unknown) => {
    if (warned) return;
    warned = true;
    log?.warn(
      { server: name, err: toError(err) },
      `instrument.mcp (server "${name}"): a message could not be measured; the server is not affected`,
    );
  };

  const toolLabel = (tool: unknown): string => {
    if (typeof tool !== 'string') return UNKNOWN_NAME;
    if (high?._registeredTools !== undefined && !Object.hasOwn(high._registeredTools, tool)) return UNKNOWN_NAME;
    return shared.caps.tool.label(tool);
  };
  const promptLabel = (prompt: unknown): string => {
    if (typeof prompt !== 'string') return UNKNOWN_NAME;
    if (high?._registeredPrompts !== undefined && !Object.hasOwn(high._registeredPrompts, prompt)) return UNKNOWN_NAME;
    return shared.caps.prompt.label(prompt);
  };
  const templateLabel = (uri: unknown): string => {
    if (typeof uri !== 'string') return UNMATCHED_TEMPLATE;
    let template: string | undefined;
    if (spec.resourceTemplate !== undefined) {
      try {
        template = spec.resourceTemplate(uri);
      } catch (err) {
        fault(err);
      }
    } else if (high !== undefined) template = registeredTemplate(high, uri);
    return typeof template === 'string' && template !== '' ? shared.caps.template.label(template) : UNMATCHED_TEMPLATE;
  };

  const methodSeries = (method: string): MethodSeries => {
    let series = shared.methods.get(method);
    if (series === undefined) {
      const labels = { server: name, method };
      shared.methods.set(
        method,
        (series = {
          label: method,
          requests: metrics.requests.bind(labels),
          duration: metrics.duration.bind(labels),
          errors: new Map(),
        }),
      );
    }
    return series;
  };
  const toolSeries = (tool: string): ToolSeries => {
    let series = shared.tools.get(tool);
    if (series === undefined) {
      const labels = { server: name, tool };
      series = {
        label: tool,
        calls: metrics.toolCalls.bind(labels),
        duration: metrics.toolDuration.bind(labels),
        errors: new Map(),
        ratio: metrics.toolErrorRatio.bind(labels),
        total: 0,
        failed: 0,
        slots: Array.from({ length: RATIO_SLOTS }, () => ({ total: 0, failed: 0 })),
      };
      shared.tools.set(tool, series);
    }
    return series;
  };
  const labelled = (
    map: Map<string, CounterSeries>,
    metric: Counter,
    labels: Record<string, string>,
    key: string,
  ): CounterSeries => {
    let series = map.get(key);
    if (series === undefined) map.set(key, (series = metric.bind(labels)));
    return series;
  };
  const countNotification = (direction: 'in' | 'out', method: unknown) => {
    const label = notificationMethodLabel(method);
    labelled(
      shared.notifications,
      metrics.notifications,
      { server: name, direction, method: label },
      `${direction} ${label}`,
    ).inc();
  };
  const countCancelled = (direction: 'in' | 'out', method: string, reason: string) => {
    labelled(
      shared.cancelled,
      metrics.cancelled,
      { server: name, direction, method, reason },
      `${direction} ${method} ${reason}`,
    ).inc();
  };

  /** Ends an inbound request: `code` is undefined for a success, a code label for an error. */
  const finish = (entry: Pending, code: string | undefined, end: number) => {
    const ms = end - entry.start;
    const method = entry.method;
    method.requests.inc();
    method.duration.observe(ms);
    if (code !== undefined)
      labelled(method.errors, metrics.errors, { server: name, method: method.label, code }, code).inc();
    entry.read?.inc();
    const tool = entry.tool;
    if (tool !== undefined) {
      tool.calls.inc();
      tool.duration.observe(ms);
      tool.total++;
      if (code !== undefined) {
        tool.failed++;
        labelled(tool.errors, metrics.toolErrors, { server: name, tool: tool.label, code }, code).inc();
      }
      refreshRatio(tool);
    }
  };

  let live = true;
  const hooked = new WeakSet<object>();
  let connected = 0;

  const attach = (transport: McpTransportLike) => {
    if (hooked.has(transport)) return;
    hooked.add(transport);
    const kind = transportKind(transport);
    const sessionLabels = { server: name, transport: kind };
    const active = metrics.sessionsActive.bind(sessionLabels);
    // Only transports whose bytes are counted get byte series: a 0 would say "no traffic".
    const countsBytes = kind === 'stdio' || kind === 'streamable-http';
    const bytesIn = countsBytes ? metrics.receivedBytes.bind(sessionLabels) : undefined;
    const bytesOut = countsBytes ? metrics.sentBytes.bind(sessionLabels) : undefined;
    const opened = performance.now();
    active.inc();
    metrics.sessionsOpened.inc(sessionLabels);
    if (connected++ === 0) lifecycle?.busy();
    if (shared.attached++ === 0) startRatioTimer(shared);
    let open = true;

    const pending = new Map<string | number, Pending>();
    /** Server-to-client requests waiting for the client's answer: id → method label. */
    const sent = new Map<string | number, string>();
    const streams = kind === 'stdio' ? stdioStreams(transport) : undefined;
    const streamBytes = { read: 0, written: 0 };
    const accountStreams = () => {
      if (streams === undefined || bytesIn === undefined || bytesOut === undefined) return;
      const read = streams.stdin?.bytesRead;
      const written = streams.stdout?.bytesWritten;
      if (typeof read === 'number' && read > streamBytes.read) {
        bytesIn.inc(read - streamBytes.read);
        streamBytes.read = read;
      }
      if (typeof written === 'number' && written > streamBytes.written) {
        bytesOut.inc(written - streamBytes.written);
        streamBytes.written = written;
      }
    };
    if (streams !== undefined) {
      // Bytes already through the streams before this session are not its own.
      streamBytes.read = numberOr0(streams.stdin?.bytesRead);
      streamBytes.written = numberOr0(streams.stdout?.bytesWritten);
    }

    const inbound = (message: any) => {
      if (message === null || typeof message !== 'object') return;
      const method = message.method;
      if (method !== undefined) {
        const id = message.id;
        if (id !== undefined && id !== null) {
          const label = requestMethodLabel(method);
          const params = message.params;
          const entry: Pending = {
            method: methodSeries(label),
            start: performance.now(),
            tool: undefined,
            read: undefined,
          };
          if (label === 'tools/call') entry.tool = toolSeries(toolLabel(params?.name));
          else if (label === 'resources/read') {
            const template = templateLabel(params?.uri);
            entry.read = labelled(shared.templates, metrics.resourceReads, { server: name, template }, template);
          } else if (label === 'prompts/get') {
            const prompt = promptLabel(params?.name);
            entry.read = labelled(shared.prompts, metrics.promptGets, { server: name, prompt }, prompt);
          }
          pending.set(id, entry);
        } else {
          countNotification('in', method);
          if (method === 'notifications/cancelled') {
            const requestId = message.params?.requestId;
            const entry = pending.get(requestId);
            if (entry !== undefined) {
              pending.delete(requestId);
              countCancelled('in', entry.method.label, cancelReason(message.params?.reason));
              finish(entry, undefined, performance.now());
            }
          }
        }
      } else if (message.id !== undefined) sent.delete(message.id);
      accountStreams();
    };
    const outbound = (message: any) => {
      if (message === null || typeof message !== 'object') return;
      const method = message.method;
      if (method === undefined) {
        const entry = pending.get(message.id);
        if (entry === undefined) return;
        pending.delete(message.id);
        const error = message.error;
        const code =
          error !== undefined
            ? errorCodeLabel(error?.code)
            : entry.tool !== undefined && message.result?.isError === true
              ? TOOL_ERROR_CODE
              : undefined;
        finish(entry, code, performance.now());
      } else if (message.id !== undefined) sent.set(message.id, requestMethodLabel(method));
      else {
        countNotification('out', method);
        if (method === 'notifications/cancelled') {
          const requestId = message.params?.requestId;
          const request = sent.get(requestId);
          if (request !== undefined) {
            sent.delete(requestId);
            countCancelled('out', request, cancelReason(message.params?.reason));
          }
        }
      }
    };
    const closed = () => {
      if (!open) return;
      open = false;
      const end = performance.now();
      for (const entry of pending.values()) {
        countCancelled('in', entry.method.label, 'closed');
        finish(entry, undefined, end);
      }
      pending.clear();
      sent.clear();
      accountStreams();
      active.dec();
      metrics.sessionsClosed.inc(sessionLabels);
      metrics.sessionDuration.observe(sessionLabels, end - opened);
      if (--connected === 0) lifecycle?.idle();
      if (--shared.attached === 0) stopRatioTimer(shared);
    };
    detachAll.add(closed);

    const theirMessage = transport.onmessage;
    transport.onmessage = function (this: unknown, message: unknown, extra?: unknown) {
      if (live && open) {
        try {
          inbound(message);
        } catch (err) {
          fault(err);
        }
      }
      theirMessage?.call(this, message, extra);
    };
    const theirClose = transport.onclose;
    transport.onclose = function (this: unknown) {
      try {
        theirClose?.call(this);
      } finally {
        if (live) {
          detachAll.delete(closed);
          closed();
        }
      }
    };
    const theirSend = transport.send;
    transport.send = function (this: unknown, message: unknown, sendOptions?: unknown) {
      if (live && open) {
        try {
          outbound(message);
        } catch (err) {
          fault(err);
        }
      }
      return theirSend.call(this, message, sendOptions);
    };
    const handleRequest =
      kind === 'streamable-http' ? (transport as { handleRequest?: unknown }).handleRequest : undefined;
    if (bytesIn !== undefined && bytesOut !== undefined && typeof handleRequest === 'function') {
      (transport as unknown as { handleRequest: unknown }).handleRequest = function (
        this: unknown,
        req: any,
        res: any,
        ...rest: unknown[]
      ) {
        if (live && open) {
          try {
            trackSocketBytes(shared, req?.socket, res, bytesIn, bytesOut);
          } catch (err) {
            fault(err);
          }
        }
        return handleRequest.call(this, req, res, ...rest);
      };
    }
  };
  const detachAll = new Set<() => void>();

  // Every later connect() of this server is measured from its first message: the transport's
  // handlers are set before the SDK's connect() chains them.
  const theirConnect = protocol.connect;
  const ownConnect = Object.hasOwn(protocol, 'connect');
  const connect = function (this: unknown, transport: McpTransportLike) {
    if (live) {
      try {
        attach(transport);
      } catch (err) {
        fault(err);
      }
    }
    return theirConnect.call(this, transport);
  };
  (protocol as { connect: unknown }).connect = connect;
  const current = protocol.transport;
  if (current !== undefined) attach(current);

  return () => {
    if (!live) return;
    live = false;
    if (protocol.connect === connect) {
      if (ownConnect) (protocol as { connect: unknown }).connect = theirConnect;
      else delete (protocol as { connect?: unknown }).connect;
    }
    for (const close of [...detachAll]) close();
    detachAll.clear();
  };
}

/** The low-level Server of an McpServer, or the Server itself. */
function protocolOf(server: unknown): McpProtocolLike {
  const isProtocol = (value: unknown): value is McpProtocolLike =>
    value !== null &&
    typeof value === 'object' &&
    typeof (value as { connect?: unknown }).connect === 'function' &&
    typeof (value as { setRequestHandler?: unknown }).setRequestHandler === 'function';
  if (isProtocol(server)) return server;
  const inner = server !== null && typeof server === 'object' ? (server as { server?: unknown }).server : undefined;
  if (isProtocol(inner)) return inner;
  throw new MonitorError(
    ErrorCode.InvalidOption,
    `instrument.mcp: expected an McpServer or a Server of @modelcontextprotocol/sdk (an object with connect() and setRequestHandler(), or one under .server), got ${describeValue(server)}`,
  );
}

function sharedState(registry: Registry, name: string, maxNames: number, log: Logger | undefined): Shared {
  let byName = sharedByRegistry.get(registry);
  if (byName === undefined) sharedByRegistry.set(registry, (byName = new Map()));
  const known = byName.get(name);
  if (known !== undefined) return known;
  const metrics = registry.own(MCP_INSTRUMENT_OWNER, Object.values(MCP_METRICS), (): Metrics => ({
    requests: registry.counter(MCP_METRICS.requests, {
      help: 'MCP requests received and answered, cancelled or cut',
      labels: ['server', 'method'],
    }),
    duration: registry.histogram(MCP_METRICS.duration, {
      help: 'MCP request time, from request to response',
      unit: 'ms',
      labels: ['server', 'method'],
    }),
    errors: registry.counter(MCP_METRICS.errors, {
      help: 'MCP requests answered with a JSON-RPC error (or a tool error result)',
      labels: ['server', 'method', 'code'],
    }),
    toolCalls: registry.counter(MCP_METRICS.toolCalls, {
      help: 'MCP tools/call requests by tool',
      labels: ['server', 'tool'],
    }),
    toolErrors: registry.counter(MCP_METRICS.toolErrors, {
      help: 'MCP tools/call errors by tool and code',
      labels: ['server', 'tool', 'code'],
    }),
    toolDuration: registry.histogram(MCP_METRICS.toolDuration, {
      help: 'MCP tools/call time by tool',
      unit: 'ms',
      labels: ['server', 'tool'],
    }),
    toolErrorRatio: registry.gauge(MCP_METRICS.toolErrorRatio, {
      help: 'Errors / calls of a tool over the last minute',
      unit: 'ratio',
      labels: ['server', 'tool'],
    }),
    resourceReads: registry.counter(MCP_METRICS.resourceReads, {
      help: 'MCP resources/read requests by resource template',
      labels: ['server', 'template'],
    }),
    promptGets: registry.counter(MCP_METRICS.promptGets, {
      help: 'MCP prompts/get requests by prompt',
      labels: ['server', 'prompt'],
    }),
    notifications: registry.counter(MCP_METRICS.notifications, {
      help: 'MCP notifications received (in) and sent (out)',
      labels: ['server', 'direction', 'method'],
    }),
    cancelled: registry.counter(MCP_METRICS.cancelled, {
      help: 'MCP requests cancelled, timed out or cut by the session end',
      labels: ['server', 'direction', 'method', 'reason'],
    }),
    sessionsActive: registry.gauge(MCP_METRICS.sessionsActive, {
      help: 'MCP sessions (connected transports) open',
      labels: ['server', 'transport'],
    }),
    sessionsOpened: registry.counter(MCP_METRICS.sessionsOpened, {
      help: 'MCP sessions opened',
      labels: ['server', 'transport'],
    }),
    sessionsClosed: registry.counter(MCP_METRICS.sessionsClosed, {
      help: 'MCP sessions closed',
      labels: ['server', 'transport'],
    }),
    sessionDuration: registry.histogram(MCP_METRICS.sessionDuration, {
      help: 'MCP session length',
      unit: 'ms',
      labels: ['server', 'transport'],
      buckets: SESSION_BUCKETS,
    }),
    receivedBytes: registry.counter(MCP_METRICS.receivedBytes, {
      help: 'Bytes received by MCP transports',
      unit: 'bytes',
      labels: ['server', 'transport'],
    }),
    sentBytes: registry.counter(MCP_METRICS.sentBytes, {
      help: 'Bytes sent by MCP transports',
      unit: 'bytes',
      labels: ['server', 'transport'],
    }),
  }));
  const overflow = (what: string) => () =>
    log?.warn(
      { server: name, maxNames },
      `instrument.mcp (server "${name}"): more than ${maxNames} distinct ${what} names; further ones are counted as "${OTHER_LABEL}" (raise maxNames if the server really has more)`,
    );
  const shared: Shared = {
    name,
    metrics,
    methods: new Map(),
    tools: new Map(),
    templates: new Map(),
    prompts: new Map(),
    notifications: new Map(),
    cancelled: new Map(),
    caps: {
      tool: new NameCap(maxNames, overflow('tool')),
      prompt: new NameCap(maxNames, overflow('prompt')),
      template: new NameCap(maxNames, overflow('resource template')),
    },
    attached: 0,
    timer: undefined,
    sockets: new WeakMap(),
  };
  byName.set(name, shared);
  return shared;
}

function refreshRatio(tool: ToolSeries): void {
  const oldest = tool.slots[0]!;
  const calls = tool.total - oldest.total;
  tool.ratio.set(calls === 0 ? 0 : (tool.failed - oldest.failed) / calls);
}

function startRatioTimer(shared: Shared): void {
  shared.timer = setInterval(() => {
    for (const tool of shared.tools.values()) {
      const slot = tool.slots.shift()!;
      slot.total = tool.total;
      slot.failed = tool.failed;
      tool.slots.push(slot);
      refreshRatio(tool);
    }
  }, RATIO_SLOT_MS);
  shared.timer.unref();
}

function stopRatioTimer(shared: Shared): void {
  clearInterval(shared.timer);
  shared.timer = undefined;
}

/** `timeout` when the cancel reason is the SDK's request timeout (JSON-RPC -32001), else `cancelled`. */
function cancelReason(reason: unknown): string {
  return typeof reason === 'string' && (reason.includes('-32001') || /timed out/i.test(reason))
    ? 'timeout'
    : 'cancelled';
}

/** The registered resource URI or template (its URI template text) that `uri` reads, if any. */
function registeredTemplate(server: McpServerRegistries, uri: string): string | undefined {
  const fixed = server._registeredResources;
  if (fixed !== undefined) {
    if (Object.hasOwn(fixed, uri)) return uri;
    // The SDK looks resources up by the URL's normal form.
    let normal: string | undefined;
    try {
      normal = new URL(uri).toString();
    } catch {
      return undefined;
    }
    if (Object.hasOwn(fixed, normal)) return normal;
  }
  for (const template of Object.values(server._registeredResourceTemplates ?? {})) {
    const uriTemplate = template?.resourceTemplate?.uriTemplate;
    if (uriTemplate?.match(uri)) return uriTemplate.toString();
  }
  return undefined;
}

/** The label of a transport's kind, from the SDK's class names, else from its shape. */
export function transportKind(transport: object): string {
  switch (transport.constructor?.name) {
    case 'StdioServerTransport':
      return 'stdio';
    case 'StreamableHTTPServerTransport':
    case 'WebStandardStreamableHTTPServerTransport':
      return 'streamable-http';
    case 'SSEServerTransport':
      return 'sse';
    case 'InMemoryTransport':
      return 'in-memory';
  }
  return 'other';
}

interface ByteCountingStreams {
  stdin: { bytesRead?: unknown } | undefined;
  stdout: { bytesWritten?: unknown } | undefined;
}

/** The stdio transport's streams (its `_stdin` / `_stdout`, process.stdin / stdout by default). */
function stdioStreams(transport: object): ByteCountingStreams {
  const { _stdin, _stdout } = transport as { _stdin?: unknown; _stdout?: unknown };
  const asObject = (value: unknown) =>
    value !== null && typeof value === 'object' ? (value as Record<string, unknown>) : undefined;
  return { stdin: asObject(_stdin), stdout: asObject(_stdout) };
}

function numberOr0(value: unknown): number {
  return typeof value === 'number' ? value : 0;
}

/** Counts a Streamable HTTP request's socket bytes not counted yet, when its response closes. */
function trackSocketBytes(
  shared: Shared,
  socket: any,
  res: any,
  bytesIn: CounterSeries,
  bytesOut: CounterSeries,
): void {
  if (socket === null || typeof socket !== 'object' || res === null || typeof res?.once !== 'function') return;
  res.once('close', () => {
    let counted = shared.sockets.get(socket);
    if (counted === undefined) shared.sockets.set(socket, (counted = { read: 0, written: 0 }));
    const read = socket.bytesRead;
    const written = socket.bytesWritten;
    if (typeof read === 'number' && read > counted.read) {
      bytesIn.inc(read - counted.read);
      counted.read = read;
    }
    if (typeof written === 'number' && written > counted.written) {
      bytesOut.inc(written - counted.written);
      counted.written = written;
    }
  });
}
