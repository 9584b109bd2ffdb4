/**
 * The logging seam. The shape is the subset of pino's API this package uses (`log.warn(obj, msg)`),
 * so a pino instance can be passed as is; the default writes one JSON line per record to stderr.
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** A pino-compatible logger: fields first, message second. */
export interface Logger {
  debug(fields: object, msg: string): void;
  info(fields: object, msg: string): void;
  warn(fields: object, msg: string): void;
  error(fields: object, msg: string): void;
}

const LEVEL_RANK: Record<LogLevel, number> = { debug: 20, info: 30, warn: 40, error: 50 };

function noop(): void {}

/**
 * Creates the default logger: JSON lines (`{"level","time","name","msg",...fields}`) on stderr.
 * Levels below `level` become no-ops at construction, so a disabled level costs one call.
 *
 * @param options.level lowest level written (default `'info'`; `'silent'` writes nothing)
 * @param options.write where lines go (default `process.stderr.write`)
 */
export function createLogger(
  options: { level?: LogLevel | 'silent'; name?: string; write?: (line: string) => void } = {},
): Logger {
  const level = options.level ?? 'info';
  const name = options.name ?? 'erlmcp-monitor';
  const write = options.write ?? ((line: string) => void process.stderr.write(line));
  const threshold = level === 'silent' ? Infinity : LEVEL_RANK[level];
  const make = (lvl: LogLevel) =>
    LEVEL_RANK[lvl] < threshold
      ? noop
      : (fields: object, msg: string) => {
          write(`${JSON.stringify({ level: lvl, time: Date.now(), name, msg, ...serializeFields(fields) })}\n`);
        };
  return { debug: make('debug'), info: make('info'), warn: make('warn'), error: make('error') };
}

/** Errors do not survive JSON.stringify; turn them into plain objects (name, code, message, cause). */
function serializeFields(fields: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) out[k] = v instanceof Error ? serializeError(v) : v;
  return out;
}

function serializeError(err: Error): Record<string, unknown> {
  const out: Record<string, unknown> = { type: err.name, message: err.message };
  const code = (err as { code?: unknown }).code;
  if (code !== undefined) out.code = code;
  if (err.stack) out.stack = err.stack;
  if (err.cause instanceof Error) out.cause = serializeError(err.cause);
  return out;
}
