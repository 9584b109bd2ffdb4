/**
 * `instrument.pg(pool)`: measures a node-postgres pool ({@link PG_METRICS}: connections, waiting,
 * acquire time and errors, query duration and errors by operation and SQLSTATE) by wrapping, on that
 * pool object only, `connect`, `emit` and each checked-out client's `query`. Nothing here imports
 * `pg` (the pool is typed structurally). `operation` is the query's first keyword, never its text.
 * The wrappers do no I/O; removing the instrumentation restores the original methods (a wrapper that
 * someone else wrapped since stays, passing through). Metric by metric: docs/design-notes.md.
 */
import { performance } from 'node:perf_hooks';
import { describeValue, ErrorCode, MonitorError, toError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { CounterSeries } from '../metrics/counter.js';
import type { HistogramSeries } from '../metrics/histogram.js';
import type { Registry } from '../metrics/registry.js';

/** The names of `instrument.pg`'s metrics (see the module header for their labels). */
export const PG_METRICS = Object.freeze({
  connections: 'db.pool.connections',
  waiting: 'db.pool.waiting',
  max: 'db.pool.max',
  acquireDuration: 'db.pool.acquire.duration',
  poolErrors: 'db.pool.errors',
  queryDuration: 'db.query.duration',
  queryErrors: 'db.query.errors',
} as const);

/** The owner named in the table for {@link PG_METRICS}. */
export const PG_INSTRUMENT_OWNER = 'instrument.pg';

/** The `operation` label values besides `other`: SQL's leading keywords. */
export const PG_OPERATIONS = Object.freeze([
  'SELECT',
  'INSERT',
  'UPDATE',
  'DELETE',
  'MERGE',
  'WITH',
  'VALUES',
  'TABLE',
  'COPY',
  'CALL',
  'DO',
  'BEGIN',
  'COMMIT',
  'ROLLBACK',
  'SAVEPOINT',
  'RELEASE',
  'PREPARE',
  'EXECUTE',
  'DEALLOCATE',
  'CREATE',
  'ALTER',
  'DROP',
  'TRUNCATE',
  'GRANT',
  'REVOKE',
  'COMMENT',
  'SET',
  'RESET',
  'SHOW',
  'EXPLAIN',
  'ANALYZE',
  'VACUUM',
  'LOCK',
  'LISTEN',
  'UNLISTEN',
  'NOTIFY',
] as const);

/** The `operation` of a query whose first keyword is none of {@link PG_OPERATIONS}. */
export const OTHER_OPERATION = 'other';
/** The `code` of a query error that carries no SQLSTATE from the server. */
export const CLIENT_ERROR_CODE = 'client';

/** Bounds (ms) of the duration histograms: most queries and checkouts take well under 10 ms. */
export const PG_BUCKETS: readonly number[] = Object.freeze([1, 5, 10, 25, 50, 100, 250, 500, 1000, 5000]);

/**
 * What `instrument.pg` needs of a node-postgres `Pool` (a `pg.Pool` fits). Structural, so the
 * declarations do not import `pg`.
 */
export interface PgPoolLike {
  connect(...args: any[]): unknown;
  emit(event: string | symbol, ...args: any[]): boolean;
  readonly totalCount: number;
  readonly idleCount: number;
  readonly waitingCount: number;
  readonly options?: { readonly max?: number | undefined };
}

export interface PgInstrumentOptions {
  /** Value of the `pool` label (default `'pg'`); one name per pool in a table. */
  name?: string;
}

const ALIASES: Readonly<Record<string, string>> = { START: 'BEGIN', END: 'COMMIT', ABORT: 'ROLLBACK' };
const KNOWN = new Set<string>(PG_OPERATIONS);
/** The longest keyword of PG_OPERATIONS and ALIASES: a longer word is `other` without reading on. */
const MAX_KEYWORD = 10;
const SQLSTATE = /^[0-9A-Z]{5}$/;

/**
 * The `operation` label of a query text: its first keyword after blanks, `--` and `/* *\/`
 * comments (nested, as PostgreSQL reads them) and opening parentheses.
 */
export function operationOf(text: unknown): string {
  if (typeof text !== 'string') return OTHER_OPERATION;
  const n = text.length;
  let i = 0;
  for (;;) {
    while (i < n && (text.charCodeAt(i) <= 32 || text.charCodeAt(i) === 40)) i++; // blanks, '('
    if (text.startsWith('--', i)) {
      const eol = text.indexOf('\n', i);
      if (eol < 0) return OTHER_OPERATION;
      i = eol + 1;
    } else if (text.startsWith('/*', i)) {
      let depth = 1;
      i += 2;
      while (depth > 0) {
        if (i >= n) return OTHER_OPERATION;
        if (text.startsWith('/*', i)) {
          depth++;
          i += 2;
        } else if (text.startsWith('*/', i)) {
          depth--;
          i += 2;
        } else i++;
      }
    } else break;
  }
  const start = i;
  while (i < n && i - start <= MAX_KEYWORD) {
    const c = text.charCodeAt(i) | 0x20; // ASCII letters to lower case
    if (c < 97 || c > 122) break;
    i++;
  }
  if (i === start || i - start > MAX_KEYWORD) return OTHER_OPERATION;
  const word = text.slice(start, i).toUpperCase();
  return ALIASES[word] ?? (KNOWN.has(word) ? word : OTHER_OPERATION);
}

/** The `code` label of a failed query: the server's SQLSTATE, else `client`. */
export function errorCodeOf(err: unknown): string {
  if (err !== null && typeof err === 'object') {
    const { code, severity } = err as { code?: unknown; severity?: unknown };
    // A DatabaseError carries the server's severity; a Node socket error may have a 5-letter code too (EPIPE).
    if (typeof code === 'string' && SQLSTATE.test(code) && typeof severity === 'string') return code;
  }
  return CLIENT_ERROR_CODE;
}

/** The series of one `operation`. */
interface OperationSeries {
  operation: string;
  duration: HistogramSeries;
  /** By code, bound at the first error with that code. */
  errors: Map<string, CounterSeries>;
}

/** A method replaced on an object, to put back. */
interface Wrapped {
  target: object;
  key: string;
  original: unknown;
  wrapper: unknown;
  /** Whether `original` was the object's own property (else it came from the prototype). */
  own: boolean;
}

type AnyFunction = (this: unknown, ...args: unknown[]) => unknown;

/** Pool names in use per table, so two pools cannot write one set of gauges. */
const namesInUse = new WeakMap<Registry, Set<string>>();
const instrumented = new WeakSet<object>();

/**
 * Instruments `pool`. Returns a function that removes the instrumentation (idempotent).
 * @param log where a client whose `query` could not be wrapped is reported
 * @throws {MonitorError} `EMON_INVALID_OPTION` if `pool` is not a node-postgres Pool, is
 *   instrumented already, or `name` is invalid or taken by another pool in this table;
 *   `EMON_METRIC_CONFLICT` if the application registered one of {@link PG_METRICS} already
 */
export function instrumentPg(
  registry: Registry,
  pool: PgPoolLike,
  options: PgInstrumentOptions = {},
  log?: Logger,
): () => void {
  checkPool(pool);
  if (options === null || typeof options !== 'object') {
    throw new MonitorError(
      ErrorCode.InvalidOption,
      `instrument.pg: options must be an object such as { name: 'main' }, got ${describeValue(options)}`,
    );
  }
  const spec = { name: 'pg', ...options };
  if (typeof spec.name !== 'string' || spec.name === '') {
    throw new MonitorError(
      ErrorCode.InvalidOption,
      `instrument.pg: name must be a non-empty string (the "pool" label), got ${describeValue(spec.name)}`,
    );
  }
  const name = spec.name;
  if (instrumented.has(pool)) {
    throw new MonitorError(
      ErrorCode.InvalidOption,
      'instrument.pg: this pool is instrumented already; call the function the first instrument.pg returned to remove that instrumentation first',
    );
  }
  let names = namesInUse.get(registry);
  if (names === undefined) namesInUse.set(registry, (names = new Set()));
  if (names.has(name)) {
    throw new MonitorError(
      ErrorCode.InvalidOption,
      `instrument.pg: another pool is instrumented as "${name}" in this table; give each pool its own name option`,
    );
  }
  const m = registry.own(PG_INSTRUMENT_OWNER, Object.values(PG_METRICS), () => {
    const connections = registry.gauge(PG_METRICS.connections, {
      help: 'Pool connections by state (idle, used: checked out or connecting)',
      labels: ['pool', 'state'],
    });
    const poolErrors = registry.counter(PG_METRICS.poolErrors, {
      help: 'Failed checkouts (acquire) and idle connections lost (idle)',
      labels: ['pool', 'kind'],
    });
    return {
      idle: connections.bind({ pool: name, state: 'idle' }),
      used: connections.bind({ pool: name, state: 'used' }),
      waiting: registry
        .gauge(PG_METRICS.waiting, { help: 'Checkouts waiting for a pool connection', labels: ['pool'] })
        .bind({ pool: name }),
      max: registry
        .gauge(PG_METRICS.max, { help: 'Most connections the pool opens', labels: ['pool'] })
        .bind({ pool: name }),
      acquire: registry
        .histogram(PG_METRICS.acquireDuration, {
          help: 'Time from a pool checkout to the client handed over',
          unit: 'ms',
          labels: ['pool'],
          buckets: PG_BUCKETS,
        })
        .bind({ pool: name }),
      acquireErrors: poolErrors.bind({ pool: name, kind: 'acquire' }),
      idleErrors: poolErrors.bind({ pool: name, kind: 'idle' }),
      queryDuration: registry.histogram(PG_METRICS.queryDuration, {
        help: 'Query time, from query() to its result',
        unit: 'ms',
        labels: ['pool', 'operation'],
        buckets: PG_BUCKETS,
      }),
      queryErrors: registry.counter(PG_METRICS.queryErrors, {
        help: 'Failed queries by SQLSTATE (client: raised in the driver)',
        labels: ['pool', 'operation', 'code'],
      }),
    };
  });
  names.add(name);
  instrumented.add(pool);
  const max = pool.options?.max;
  if (typeof max === 'number' && Number.isFinite(max)) m.max.set(max);

  let active = true;
  let warnedSample = false;
  const sample = () => {
    try {
      const total = pool.totalCount;
      const idle = pool.idleCount;
      m.idle.set(idle);
      m.used.set(total - idle);
      m.waiting.set(pool.waitingCount);
    } catch (err) {
      // Counts that are not numbers (a pool-like object, a future pg) must not break the pool's own calls.
      if (!warnedSample)
        log?.warn(
          { pool: name, err: toError(err) },
          `instrument.pg (pool "${name}"): could not read the pool's connection counts`,
        );
      warnedSample = true;
    }
  };
  // The pool emits 'release' before it puts the client back among the idle ones: read the counts
  // once that synchronous work is done.
  let sampleQueued = false;
  const sampleSoon = () => {
    if (sampleQueued) return;
    sampleQueued = true;
    queueMicrotask(() => {
      sampleQueued = false;
      if (active) sample();
    });
  };

  const operations = new Map<string, OperationSeries>();
  const seriesOf = (operation: string): OperationSeries => {
    let series = operations.get(operation);
    if (series === undefined) {
      series = { operation, duration: m.queryDuration.bind({ pool: name, operation }), errors: new Map() };
      operations.set(operation, series);
    }
    return series;
  };
  const record = (series: OperationSeries, start: number, err: unknown) => {
    series.duration.observe(performance.now() - start);
    if (err === undefined || err === null) return;
    const code = errorCodeOf(err);
    let errors = series.errors.get(code);
    if (errors === undefined)
      series.errors.set(code, (errors = m.queryErrors.bind({ pool: name, operation: series.operation, code })));
    errors.inc();
  };

  const queryWrapper = (original: AnyFunction): AnyFunction =>
    function query(this: unknown, config: unknown, values?: unknown, callback?: unknown): unknown {
      if (!active) return original.apply(this, arguments as unknown as unknown[]);
      const start = performance.now();
      const text =
        typeof config === 'string'
          ? config
          : config !== null && typeof config === 'object'
            ? (config as { text?: unknown }).text
            : undefined;
      const series = seriesOf(operationOf(text));
      let settled = false;
      const settle = (err: unknown) => {
        if (settled) return;
        settled = true;
        record(series, start, err);
      };
      try {
        if (
          config !== null &&
          typeof config === 'object' &&
          typeof (config as { submit?: unknown }).submit === 'function'
        ) {
          timeSubmittable(config as Submittable, settle);
          return original.apply(this, arguments as unknown as unknown[]);
        }
        const done = typeof callback === 'function' ? callback : typeof values === 'function' ? values : undefined;
        if (done !== undefined) {
          const wrapped = (err: unknown, res: unknown) => {
            settle(err);
            return (done as AnyFunction)(err, res);
          };
          return done === callback
            ? original.call(this, config, values, wrapped)
            : original.call(this, config, wrapped);
        }
        const configCallback =
          config !== null && typeof config === 'object' ? (config as { callback?: unknown }).callback : undefined;
        if (typeof configCallback === 'function') {
          // A copy: older pg versions write the callback into the config object, which the application may reuse.
          const wrapped = (err: unknown, res: unknown) => {
            settle(err);
            return (configCallback as AnyFunction)(err, res);
          };
          return original.call(this, { ...(config as object), callback: wrapped }, values);
        }
        const result = original.apply(this, arguments as unknown as unknown[]);
        if (result !== null && typeof result === 'object' && typeof (result as Promise<unknown>).then === 'function') {
          (result as Promise<unknown>).then(
            () => settle(undefined),
            (err: unknown) => settle(err ?? new Error('query rejected')),
          );
        }
        return result;
      } catch (err) {
        settle(err ?? new Error('query threw'));
        throw err;
      }
    };

  const wrappedClients = new Map<object, Wrapped>();
  let warnedWrap = false;
  const wrapClient = (client: unknown) => {
    if (client === null || typeof client !== 'object' || wrappedClients.has(client)) return;
    const original = (client as { query?: unknown }).query;
    if (typeof original !== 'function') return;
    const entry = {
      target: client,
      key: 'query',
      original,
      wrapper: queryWrapper(original as AnyFunction),
      own: Object.hasOwn(client, 'query'),
    };
    try {
      (client as { query: unknown }).query = entry.wrapper;
      wrappedClients.set(client, entry);
    } catch (err) {
      if (!warnedWrap)
        log?.warn(
          { pool: name, err: toError(err) },
          `instrument.pg (pool "${name}"): could not wrap a client's query(); its queries are not measured`,
        );
      warnedWrap = true;
    }
  };

  const onEvent = (event: unknown, arg: unknown) => {
    switch (event) {
      case 'acquire':
        wrapClient(arg);
        sample();
        break;
      case 'release':
        sampleSoon();
        break;
      case 'connect':
        sample();
        break;
      case 'remove':
        if (arg !== null && typeof arg === 'object') restoreClient(arg);
        sample();
        break;
      case 'error':
        m.idleErrors.inc();
        sample();
        break;
    }
  };
  const restoreClient = (client: object) => {
    const entry = wrappedClients.get(client);
    if (entry === undefined) return;
    wrappedClients.delete(client);
    restore(entry);
  };

  const acquired = (start: number, err: unknown) => {
    if (err === undefined || err === null) m.acquire.observe(performance.now() - start);
    else m.acquireErrors.inc();
    sample();
  };
  const originalConnect = pool.connect as AnyFunction;
  const connect = function connect(this: unknown, cb?: unknown): unknown {
    if (!active) return originalConnect.apply(this, arguments as unknown as unknown[]);
    const start = performance.now();
    let result: unknown;
    if (typeof cb === 'function') {
      result = originalConnect.call(this, (err: unknown, client: unknown, release: unknown) => {
        acquired(start, err);
        return (cb as AnyFunction)(err, client, release);
      });
    } else {
      result = originalConnect.apply(this, arguments as unknown as unknown[]);
      if (result !== null && typeof result === 'object' && typeof (result as Promise<unknown>).then === 'function') {
        (result as Promise<unknown>).then(
          () => acquired(start, undefined),
          (err: unknown) => acquired(start, err ?? new Error('connect rejected')),
        );
      }
    }
    sample();
    return result;
  };
  const originalEmit = pool.emit as AnyFunction;
  const emit = function emit(this: unknown, event: unknown, arg?: unknown): unknown {
    // Before the application's listeners: a query its 'acquire' listener runs is measured, and an
    // 'error' nobody listens to is counted before EventEmitter throws it, as it did without us.
    if (active) onEvent(event, arg);
    return originalEmit.apply(this, arguments as unknown as unknown[]);
  };
  const poolWraps: Wrapped[] = [
    { target: pool, key: 'connect', original: originalConnect, wrapper: connect, own: Object.hasOwn(pool, 'connect') },
    { target: pool, key: 'emit', original: originalEmit, wrapper: emit, own: Object.hasOwn(pool, 'emit') },
  ];
  for (const w of poolWraps) (pool as unknown as Record<string, unknown>)[w.key] = w.wrapper;
  sample();

  return () => {
    if (!active) return;
    active = false;
    for (const w of poolWraps) restore(w);
    for (const client of [...wrappedClients.keys()]) restoreClient(client);
    names.delete(name);
    instrumented.delete(pool);
  };
}

/** What pg calls on a submittable (`new pg.Query`, pg-cursor, pg-query-stream) as its answer arrives. */
interface Submittable {
  submit: unknown;
  handleError?: unknown;
  handleReadyForQuery?: unknown;
}

/**
 * Times a submittable to its first error or its ReadyForQuery, by wrapping those two methods on
 * the object itself (used once; no listener is added, so an 'error' event stays unhandled if it was).
 */
function timeSubmittable(query: Submittable, settle: (err: unknown) => void): void {
  const { handleError, handleReadyForQuery } = query;
  if (typeof handleError === 'function') {
    query.handleError = function (this: unknown, err: unknown) {
      settle(err ?? new Error('query failed'));
      return (handleError as AnyFunction).apply(this, arguments as unknown as unknown[]);
    };
  }
  if (typeof handleReadyForQuery === 'function') {
    query.handleReadyForQuery = function (this: unknown) {
      settle(undefined);
      return (handleReadyForQuery as AnyFunction).apply(this, arguments as unknown as unknown[]);
    };
  }
}

/** Puts a wrapped method back, unless someone wrapped it again since (then ours stays, passing through). */
function restore(w: Wrapped): void {
  const target = w.target as Record<string, unknown>;
  if (target[w.key] !== w.wrapper) return;
  if (w.own) target[w.key] = w.original;
  else delete target[w.key];
}

function checkPool(pool: unknown): asserts pool is PgPoolLike {
  const p = pool as Partial<Record<string, unknown>> | null;
  if (p === null || typeof p !== 'object') {
    throw new MonitorError(
      ErrorCode.InvalidOption,
      `instrument.pg: expected a node-postgres Pool (new pg.Pool(...)), got ${describeValue(pool)}`,
    );
  }
  if (typeof p.connect !== 'function' || typeof p.emit !== 'function') {
    throw new MonitorError(
      ErrorCode.InvalidOption,
      'instrument.pg: expected a node-postgres Pool (new pg.Pool(...)): the object has no connect() or emit()',
    );
  }
  if (typeof p.totalCount !== 'number' || typeof p.idleCount !== 'number' || typeof p.waitingCount !== 'number') {
    throw new MonitorError(
      ErrorCode.InvalidOption,
      'instrument.pg: expected a node-postgres Pool (new pg.Pool(...)) with totalCount, idleCount and waitingCount; a single pg.Client is not supported: instrument the Pool it comes from',
    );
  }
}
