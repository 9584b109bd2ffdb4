/**
 * `erlmcp-monitor query <dataDir> <series>`: one series' history as CSV or JSON, read as the
 * dashboard reads it (`MetricStore.queryRange`: raw points where they are kept, 1-minute rollup
 * averages where they were pruned, downsampled to `--points`).
 */
import { ErrorCode, MonitorError } from '../errors.js';
import { DERIVED } from '../store/table-store.js';
import type { Command, Flags, CliIo } from './command.js';
import { openReadOnly } from './open-store.js';
import { parseTime, TIME_FORMS } from './parse-time.js';
import { resolveSeries } from './series-ref.js';
import { UsageError } from './usage-error.js';

/** `--points` when not given: every stored point of the range, up to this many. */
export const DEFAULT_MAX_POINTS = 100_000;
const FORMATS = ['csv', 'json'] as const;

export const queryCommand: Command = {
  name: 'query',
  summary: "one series' history as CSV or JSON",
  positionals: ['dataDir', 'series'],
  options: {
    from: { type: 'string' },
    to: { type: 'string' },
    points: { type: 'string' },
    format: { type: 'string' },
  },
  help: `Usage: erlmcp-monitor query <dataDir> <series> [--from T] [--to T] [--points N] [--format csv|json]

Prints the history of one series: raw points where the store keeps them (24 h by default),
1-minute rollup averages where they were pruned.

<series>   its key as stored, e.g. 'requests.total{method="GET"}' or 'http.latency{route="/"}#p95'
           (a histogram's history is in its #count, #sum, #p50, #p95, #p99 series); name{labels}
           in any label order, quoted or not; a bare name when it has one series; or its id (42)
Options:
  --from T       start (default -1h); T is ${TIME_FORMS}
  --to T         end (default now)
  --points N     at most N points, averaged into N equal time buckets (default: every point, up to ${DEFAULT_MAX_POINTS.toLocaleString('en-US')})
  --format F     csv (default: "ts,time,value" rows) or json
  -h, --help     this help`,

  async run([dataDir, ref], flags: Flags, io: CliIo): Promise<number> {
    const now = io.now();
    const to = flags.to === undefined ? now : parseTime(String(flags.to), '--to', now, 'query');
    const from =
      flags.from === undefined ? Math.max(0, to - 3_600_000) : parseTime(String(flags.from), '--from', now, 'query');
    if (from > to)
      throw new UsageError(
        `--from (${new Date(from).toISOString()}) is after --to (${new Date(to).toISOString()})`,
        'query',
      );
    const points = flags.points === undefined ? DEFAULT_MAX_POINTS : Number(flags.points);
    if (!Number.isSafeInteger(points) || points < 1)
      throw new UsageError(`--points must be an integer >= 1, got ${JSON.stringify(flags.points)}`, 'query');
    const format = (flags.format ?? 'csv') as (typeof FORMATS)[number];
    if (!FORMATS.includes(format))
      throw new UsageError(`--format must be csv or json, got ${JSON.stringify(flags.format)}`, 'query');

    const store = openReadOnly(dataDir!);
    try {
      const def = resolveSeries(store.seriesDefs(), ref!, store.dataDir);
      const rows = store.queryRange(def.id, from, to, points);
      if (rows.length === 0 && def.type === 'histogram' && !def.name.includes('#')) {
        throw new MonitorError(
          ErrorCode.InvalidQuery,
          `${def.key} is a histogram: its history is stored in its derived series; query one of:\n${DERIVED.map((d) => `  ${def.key}#${d}`).join('\n')}`,
        );
      }
      if (format === 'json') {
        const { id, key, name, type, unit, labels } = def;
        io.out(`${JSON.stringify({ series: { id, key, name, type, unit, labels }, from, to, points: rows })}\n`);
      } else {
        let out = 'ts,time,value\n';
        for (const [ts, value] of rows) out += `${ts},${new Date(ts).toISOString()},${value}\n`;
        io.out(out);
      }
      if (rows.length === 0)
        io.err(`no points of ${def.key} between ${new Date(from).toISOString()} and ${new Date(to).toISOString()}\n`);
      return 0;
    } finally {
      await store.close();
    }
  },
};
