/**
 * `erlmcp-monitor inspect <dataDir>`: what a store holds and what it costs on disk: layout version,
 * series, raw points and rollup cells, bytes per point (whole file, and the history database
 * alone), every LMDB database with its entries, pages and bytes, and whether a writer has it open
 * (`writer-probe.ts`). Read-only; safe beside a running writer.
 */
import type { SeriesDef, StoreStats } from '../store/types.js';
import type { Command, Flags, CliIo } from './command.js';
import { openReadOnly } from './open-store.js';
import { formatBytes, formatTable } from './text-format.js';
import { probeWriter, type WriterState } from './writer-probe.js';

/** The history database of each layout (bytes per point are counted on it). */
const HISTORY_DB: Record<number, string> = { 2: 'points', 3: 'history' };

export interface InspectReport extends StoreStats {
  bytesPerPoint: { file: number | null; history: number | null };
  writer: WriterState;
  seriesList?: Pick<SeriesDef, 'id' | 'key' | 'type'>[];
}

export const inspectCommand: Command = {
  name: 'inspect',
  summary: 'series, points, bytes per point, databases, layout, whether a writer is running',
  positionals: ['dataDir'],
  options: {
    json: { type: 'boolean' },
    series: { type: 'boolean' },
  },
  help: `Usage: erlmcp-monitor inspect <dataDir> [--json] [--series]

What the metric store in <dataDir> holds: layout version (and the progress of a layout 2 -> 3
conversion under way), series, raw history points and
1-minute rollup cells, bytes per point (data.mdb size / points, and the history database's pages
/ points), every LMDB database (entries, pages, bytes), and whether a writer (the application)
has the store open. Read-only: safe while the application runs.

Options:
  --json     one JSON object instead of the table (exact numbers)
  --series   also list every series (id, type, key)
  -h, --help this help`,

  async run([dataDir], flags: Flags, io: CliIo): Promise<number> {
    const store = openReadOnly(dataDir!);
    try {
      const report = inspect(store, flags.series === true);
      io.out(flags.json === true ? `${JSON.stringify(report, null, 2)}\n` : render(report));
      return 0;
    } finally {
      await store.close();
    }
  },
};

function inspect(store: ReturnType<typeof openReadOnly>, withSeries: boolean): InspectReport {
  const stats = store.stats();
  // Mid-conversion the history is in both layouts' databases.
  const historyDbs = stats.conversion === undefined ? [HISTORY_DB[stats.layout]] : [HISTORY_DB[3], HISTORY_DB[2]];
  const found = stats.databases.filter((d) => historyDbs.includes(d.name));
  const history = found.length === 0 ? undefined : { bytes: found.reduce((b, d) => b + d.bytes, 0) };
  const perPoint = (bytes: number | undefined): number | null =>
    bytes === undefined || stats.points === 0 ? null : Math.round((bytes / stats.points) * 100) / 100;
  return {
    ...stats,
    bytesPerPoint: { file: perPoint(stats.fileBytes), history: perPoint(history?.bytes) },
    writer: probeWriter(stats.dataDir),
    ...(withSeries ? { seriesList: store.seriesDefs().map(({ id, key, type }) => ({ id, key, type })) } : {}),
  };
}

function conversionText(c: NonNullable<StoreStats['conversion']>, n: (x: number) => string): string {
  const total = c.points + c.cells;
  const done = c.convertedPoints + c.convertedCells;
  const percent = total === 0 ? 100 : Math.floor((done / total) * 100);
  return `${percent}% done, ${n(c.convertedPoints)} of ${n(c.points)} points and ${n(c.convertedCells)} of ${n(c.cells)} rollup cells moved`;
}

function render(r: InspectReport): string {
  const n = (x: number): string => x.toLocaleString('en-US');
  const writer =
    r.writer.alive === true
      ? `running: ${r.writer.how}`
      : r.writer.alive === false
        ? `none: ${r.writer.how}`
        : `unknown: ${r.writer.how}`;
  const lines = [
    `store          ${r.dataDir}`,
    `layout         ${r.layout}${r.conversion === undefined ? (r.layout === 2 ? ' (converts to layout 3 at the next writable open)' : '') : ` (converting from layout 2: ${conversionText(r.conversion, n)})`}`,
    `writer         ${writer}`,
    `series         ${n(r.series)}`,
    `points         ${n(r.points)} raw, ${n(r.rollupCells)} rollup cells (1 min)`,
    `file           ${formatBytes(r.fileBytes)} data.mdb (${n(r.fileBytes)} B; pages in use ${formatBytes(r.usedBytes)}, page size ${r.pageSize} B)`,
    `bytes/point    ${r.bytesPerPoint.file ?? '-'} (file)  ${r.bytesPerPoint.history ?? '-'} (history db ${r.conversion === undefined ? (HISTORY_DB[r.layout] ?? '?') : `${HISTORY_DB[3]} + ${HISTORY_DB[2]}`})`,
    '',
    formatTable(
      ['database', 'entries', 'pages', 'bytes'],
      r.databases.map((d) => [d.name, n(d.entries), n(d.pages), formatBytes(d.bytes)]),
      [false, true, true, true],
    ),
  ];
  if (r.seriesList !== undefined) {
    lines.push(
      '',
      formatTable(
        ['id', 'type', 'key'],
        r.seriesList.map((s) => [String(s.id), s.type, s.key]),
        [true, false, false],
      ),
    );
  }
  return `${lines.join('\n')}\n`;
}
