/**
 * pino integration: counts the lines a pino logger writes, by level, into `log.lines{level}`
 * ({@link LOG_METRICS}), a histogram of line length (count = lines, sum = volume). It hooks a counting
 * stream in front of the destination through pino's metadata protocol (as `pino.multistream` does), so
 * each line of a root logger and all its children is counted once and delivered once:
 * `pinoDestination(dest)` at creation, `instrumentPino(logger)` for an existing logger. Past
 * {@link MAX_LEVELS} level numbers, further ones count as `other`. Why not hooks or mixin:
 * docs/design-notes.md.
 */
import { describeValue, ErrorCode, MonitorError } from '../errors.js';
import type { HistogramSeries } from '../metrics/histogram.js';
import type { Registry } from '../metrics/registry.js';

/** The names of the pino integration's metrics. */
export const LOG_METRICS = Object.freeze({ lines: 'log.lines' } as const);

/** The owner named in the table for {@link LOG_METRICS}. */
export const PINO_INSTRUMENT_OWNER = 'instrument.pino';

/** Distinct level numbers kept as `level` values; further ones count as `level="other"`. */
export const MAX_LEVELS = 16;

/** Buckets of `log.lines` (line length in characters). */
export const LINE_LENGTH_BUCKETS: readonly number[] = Object.freeze([128, 256, 512, 1024, 4096, 16384, 65536]);

/** What pino writes to: any object with `write(line)` (a SonicBoom from `pino.destination()`, a transport, a multistream, `process.stdout`). */
export interface PinoDestinationLike {
  write(line: string): unknown;
}

/** A pino logger, structurally: the integration needs no import of pino. */
export interface PinoLoggerLike {
  child(bindings: Record<string, unknown>): unknown;
  levels: { labels: Record<number, string> };
}

const METADATA = Symbol.for('pino.metadata');
const COUNTS_INTO = Symbol('erlmcp-monitor.pinoCountsInto');

/** The fields pino sets on a metadata stream before each write. */
interface PinoMetadata {
  lastLevel: number;
  lastObj: unknown;
  lastMsg: unknown;
  lastTime: unknown;
  lastLogger: unknown;
}

type Destination = PinoDestinationLike &
  Partial<PinoMetadata> & {
    [METADATA]?: boolean;
    [COUNTS_INTO]?: Registry;
    flush?: (cb?: (err?: Error | null) => void) => unknown;
    flushSync?: () => unknown;
    end?: () => unknown;
    emit?: (event: string, ...args: unknown[]) => unknown;
    dest?: unknown;
  };

/**
 * The counting stream: pino writes to it, it counts the line by `lastLevel` and passes it on.
 * Exported as a type only; made by {@link pinoDestination} and {@link instrumentPino}.
 */
export class PinoLineCounter implements PinoDestinationLike, PinoMetadata {
  readonly [METADATA] = true;
  readonly [COUNTS_INTO]: Registry;
  /** What pino looks for to take a lone argument as its stream, `pino(stream)`, rather than as options. */
  readonly writable = true;
  // Set by pino before each write; declared here so every instance has one shape.
  lastLevel = 0;
  lastObj: unknown = undefined;
  lastMsg: unknown = undefined;
  lastTime: unknown = undefined;
  lastLogger: unknown = undefined;
  /** The stream lines go on to. */
  readonly dest: Destination;
  readonly #forwardMetadata: boolean;
  #count: (level: number, logger: unknown, length: number) => void;

  constructor(registry: Registry, dest: Destination, count: (level: number, logger: unknown, length: number) => void) {
    this[COUNTS_INTO] = registry;
    this.dest = dest;
    this.#forwardMetadata = dest[METADATA] === true;
    this.#count = count;
  }

  write(line: string): unknown {
    this.#count(this.lastLevel, this.lastLogger, line.length);
    if (this.#forwardMetadata) {
      const dest = this.dest;
      dest.lastLevel = this.lastLevel;
      dest.lastObj = this.lastObj;
      dest.lastMsg = this.lastMsg;
      dest.lastTime = this.lastTime;
      dest.lastLogger = this.lastLogger;
    }
    return this.dest.write(line);
  }

  flush(cb?: (err?: Error | null) => void): void {
    if (typeof this.dest.flush === 'function') this.dest.flush(cb);
    else cb?.();
  }

  flushSync(): void {
    if (typeof this.dest.flushSync === 'function') this.dest.flushSync();
  }

  end(): void {
    if (typeof this.dest.end === 'function') this.dest.end();
  }

  /** pino announces its configuration to transports with `emit('message', ...)`: passed on. */
  emit(event: string, ...args: unknown[]): boolean {
    return typeof this.dest.emit === 'function' ? this.dest.emit(event, ...args) === true : false;
  }

  /** Stops counting (the stream still passes lines on): for a counter another stream was put in front of. */
  stopCounting(): void {
    this.#count = noop;
  }
}

function noop(): void {}

/** Whether `dest` (or a counting stream it writes to) counts into `registry` already. */
function countsInto(dest: unknown, registry: Registry): boolean {
  for (
    let d = dest as Destination | undefined, depth = 0;
    d !== null && typeof d === 'object' && depth < 16;
    d = d.dest as Destination | undefined, depth++
  ) {
    if (d[COUNTS_INTO] === registry) return true;
  }
  return false;
}

/** The per-level counting function of one table. */
function levelCounter(registry: Registry): (level: number, logger: unknown, length: number) => void {
  const lines = registry.own(PINO_INSTRUMENT_OWNER, Object.values(LOG_METRICS), () =>
    registry.histogram(LOG_METRICS.lines, {
      help: 'Log lines written by pino, by level; each observation is a line length in characters',
      labels: ['level'],
      buckets: LINE_LENGTH_BUCKETS,
    }),
  );
  const byNumber = new Map<number, HistogramSeries>();
  let other: HistogramSeries | undefined;
  return (level, logger, length) => {
    let series = byNumber.get(level);
    if (series === undefined) {
      if (byNumber.size >= MAX_LEVELS) series = other ??= lines.bind({ level: 'other' });
      else byNumber.set(level, (series = lines.bind({ level: levelName(level, logger) })));
    }
    series.observe(length);
  };
}

const STANDARD_LEVELS: Readonly<Record<number, string>> = {
  10: 'trace',
  20: 'debug',
  30: 'info',
  40: 'warn',
  50: 'error',
  60: 'fatal',
};

function levelName(level: number, logger: unknown): string {
  const labels = (logger as { levels?: { labels?: Record<number, unknown> } } | undefined)?.levels?.labels;
  const name = labels?.[level] ?? STANDARD_LEVELS[level];
  return typeof name === 'string' && name !== '' ? name : String(level);
}

function checkDestination(where: string, dest: unknown): Destination {
  if (dest === null || typeof dest !== 'object' || typeof (dest as { write?: unknown }).write !== 'function') {
    throw new MonitorError(
      ErrorCode.InvalidOption,
      `${where}: expected a destination with write(line) (e.g. pino.destination(1) or process.stdout), got ${describeValue(dest)}`,
    );
  }
  return dest as Destination;
}

/**
 * A destination for `pino(options, stream)` that counts every line by level into `log.lines`,
 * then writes it to `dest` (default `process.stdout`, pino's own default).
 * @throws {MonitorError} `EMON_INVALID_OPTION` if `dest` has no `write`, or counts into this table
 *   already (every line would count twice); `EMON_METRIC_CONFLICT` if the application registered `log.lines`
 */
export function pinoDestination(registry: Registry, dest: PinoDestinationLike = process.stdout): PinoLineCounter {
  const checked = checkDestination('pinoDestination', dest);
  if (countsInto(checked, registry)) {
    throw new MonitorError(
      ErrorCode.InvalidOption,
      'pinoDestination: this destination counts into this table already; every line would count twice',
    );
  }
  return new PinoLineCounter(registry, checked, levelCounter(registry));
}

/**
 * Counts the lines of an existing pino logger (and of every logger of its family: its root and
 * all the root's children) by level into `log.lines`. Returns a function that removes the counting.
 * @throws {MonitorError} `EMON_INVALID_OPTION` if `logger` is not a pino logger, or its lines are
 *   counted into this table already; `EMON_METRIC_CONFLICT` if the application registered `log.lines`
 */
export function instrumentPino(registry: Registry, logger: PinoLoggerLike): () => void {
  const found = logger !== null && typeof logger === 'object' ? findStreamSlot(logger) : undefined;
  if (found === undefined) {
    throw new MonitorError(
      ErrorCode.InvalidOption,
      `instrument.pino: expected a pino logger (pino 7 or later), got ${describeValue(logger)}`,
    );
  }
  const { holder, slot } = found;
  const original = checkDestination('instrument.pino', holder[slot]);
  if (countsInto(original, registry)) {
    throw new MonitorError(
      ErrorCode.InvalidOption,
      "instrument.pino: this logger's lines are counted into this table already; every line would count twice",
    );
  }
  const counter = new PinoLineCounter(registry, original, levelCounter(registry));
  holder[slot] = counter;
  let removed = false;
  return () => {
    if (removed) return;
    removed = true;
    if (holder[slot] === counter) holder[slot] = original;
    else counter.stopCounting(); // another stream was put in front of ours: keep the chain, stop counting
  };
}

/** The object (the root logger) that holds pino's stream, and pino's (non-global) symbol for it. */
function findStreamSlot(logger: object): { holder: Record<symbol, unknown>; slot: symbol } | undefined {
  for (
    let o: object | null = logger, depth = 0;
    o !== null && depth < 64;
    o = Object.getPrototypeOf(o) as object | null, depth++
  ) {
    const slot = Object.getOwnPropertySymbols(o).find((s) => s.description === 'pino.stream');
    if (slot !== undefined) return { holder: o as Record<symbol, unknown>, slot };
  }
  return undefined;
}
