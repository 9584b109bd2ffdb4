/**
 * Heap per labelled series, ours next to prom-client 15 in the same run: a counter series and a
 * 10-bucket histogram series, at 100,000 and 1,000,000 series. Each figure is one fresh process
 * (bench/memory-probe.ts, `--expose-gc`) that creates the series and reports
 * (heapUsed + arrayBuffers) after full GCs, minus the same reading before; see the probe for how
 * label strings are counted. `--quick` measures 100,000 series only.
 *
 * A 1,000,000-series figure is skipped, saying why, when the free memory is under twice what the
 * 100,000 figure projects for it (the machine is shared).
 *
 * `histogram, 5-minute window full`: the same histogram in steady state (each series observed over
 * 10 octaves in each of 30 slices, see the probe), at 10,000 series: our percentile sketches grow
 * with the data, which prom-client does not keep. `5 minutes at 1 request/s` and `at 10,000
 * requests/s` run the probe's lognormal steady states: a typical route x status series (10,000 of
 * them) and a busy one (10). At 1 request/s a series holds ~2.5 KB (memory-probe `--parts`):
 * ~1,200 B of sketch data (all-time counts ~600 B, 300 window keys 600 B), ~100 B of log slack,
 * ~150 B of columns, ~550 B of typed-array headers and ~400 B of sketch objects. The 1/3 target
 * is met by the one-observation figure; a series with 5 minutes of data keeps them.
 * `restored from LMDB` is that one-observation figure after a restart (ours only, checked against it).
 */
import { execFile } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Check, SuiteOptions, SuiteResult } from './harness.js';

const run = promisify(execFile);
const PROBE = fileURLToPath(new URL('./memory-probe.js', import.meta.url));

type Side = 'ours' | 'prom-client';
type Kind = 'counter' | 'histogram' | 'histogram-restored' | 'histogram-5m' | 'histogram-1rps' | 'histogram-busy';
const KINDS: readonly Kind[] = [
  'counter',
  'histogram',
  'histogram-restored',
  'histogram-5m',
  'histogram-1rps',
  'histogram-busy',
];
const WHAT: Record<Kind, string> = {
  counter: 'counter',
  histogram: 'histogram, 10 buckets, 1 observation',
  'histogram-restored': 'the same, restored from LMDB after a restart',
  'histogram-5m': 'histogram, 10 buckets, 5-minute window full',
  'histogram-1rps': 'histogram, 5 minutes at 1 request/s, lognormal',
  'histogram-busy': 'histogram, 5 minutes at 10,000 requests/s, lognormal',
};
/** Fixed sizes for the steady-state figures: 5 minutes of fake time per series costs CPU, not just memory. */
const FIXED: Partial<Record<Kind, number>> = {
  'histogram-restored': 100_000,
  'histogram-5m': 10_000,
  'histogram-1rps': 10_000,
  'histogram-busy': 10,
};
/** prom-client keeps nothing across a restart. */
const OURS_ONLY: readonly Kind[] = ['histogram-restored'];

interface Figure {
  side: Side;
  kind: Kind;
  n: number;
  /** Bytes per series (heapUsed + arrayBuffers), undefined when skipped. */
  bytes?: number;
  /** The part of `bytes` in typed arrays. */
  arrayBytes?: number;
  skipped?: string;
}

/** Targets: a counter series <= 64 B; a histogram series <= 1/3 of prom-client's. */
export const COUNTER_SERIES_MAX_BYTES = 64;
export const HISTOGRAM_MAX_FRACTION = 1 / 3;
/** A restored quiet histogram series keeps what a new one keeps: its keys, not sketch objects (was 4.4x). */
export const RESTORED_MAX_FRACTION = 1.1;

async function probe(side: Side, kind: Kind, n: number): Promise<Figure> {
  const { stdout } = await run(
    process.execPath,
    ['--expose-gc', '--max-old-space-size=16384', PROBE, side, kind, String(n)],
    { maxBuffer: 1 << 20 },
  );
  const r = JSON.parse(stdout.trim()) as { heapUsed: number; arrayBuffers: number; n: number };
  return { side, kind, n, bytes: (r.heapUsed + r.arrayBuffers) / n, arrayBytes: r.arrayBuffers / n };
}

export async function memorySuite(options: SuiteOptions): Promise<SuiteResult> {
  const sizesOf = (kind: Kind) =>
    FIXED[kind] !== undefined ? [FIXED[kind]] : options.quick ? [100_000] : [100_000, 1_000_000];
  const figures: Figure[] = [];
  for (const kind of KINDS) {
    const sizes = sizesOf(kind);
    for (const side of ['ours', 'prom-client'] as const) {
      if (side !== 'ours' && OURS_ONLY.includes(kind)) continue;
      for (const n of sizes) {
        const small = figures.find(
          (f) => f.side === side && f.kind === kind && f.n === sizes[0] && f.bytes !== undefined,
        );
        const projected = small === undefined || n === sizes[0] ? 0 : small.bytes! * n;
        if (projected * 2 > os.freemem()) {
          figures.push({
            side,
            kind,
            n,
            skipped: `needs ~${(projected / 2 ** 30).toFixed(1)} GiB, ${(os.freemem() / 2 ** 30).toFixed(1)} GiB free`,
          });
          continue;
        }
        figures.push(await probe(side, kind, n));
      }
    }
  }
  const at = (side: Side, kind: Kind, n: number) =>
    figures.find((f) => f.side === side && f.kind === kind && f.n === n);
  const cell = (f: Figure | undefined) =>
    f?.bytes === undefined
      ? `skipped (${f?.skipped ?? 'not run'})`
      : `${f.bytes.toFixed(0)} B${f.arrayBytes! > 0 ? ` (${f.arrayBytes!.toFixed(0)} B in typed arrays)` : ''}`;
  const lines = [
    '| heap per labelled series | series | erlmcp-monitor | prom-client | ours / prom-client |',
    '|---|---|---|---|---|',
  ];
  const checks: Check[] = [];
  for (const kind of KINDS) {
    for (const n of sizesOf(kind)) {
      const ours = at('ours', kind, n);
      const theirs = at('prom-client', kind, n);
      const r = ours?.bytes !== undefined && theirs?.bytes !== undefined ? ours.bytes / theirs.bytes : Number.NaN;
      lines.push(
        `| ${WHAT[kind]} | ${n.toLocaleString('en-US')} | ${cell(ours)} | ${OURS_ONLY.includes(kind) ? 'keeps nothing across a restart' : cell(theirs)} | ${Number.isNaN(r) ? '–' : r.toFixed(2)} |`,
      );
      if (kind === 'counter' && ours?.bytes !== undefined) {
        checks.push({
          name: `counter series at ${n.toLocaleString('en-US')}: heap bytes`,
          measured: ours.bytes,
          target: COUNTER_SERIES_MAX_BYTES,
          better: 'lower',
          margin: 0.1,
          unit: ' B',
        });
      }
      const fresh = at('ours', 'histogram', n);
      if (kind === 'histogram-restored' && ours?.bytes !== undefined && fresh?.bytes !== undefined) {
        checks.push({
          name: `restored quiet histogram series at ${n.toLocaleString('en-US')}: heap / a new one's`,
          measured: ours.bytes / fresh.bytes,
          target: RESTORED_MAX_FRACTION,
          better: 'lower',
          margin: 0.1,
          unit: 'x',
        });
      }
      // 10 busy series weigh too little beside prom-client's fixed overhead for a ratio to mean anything.
      if (kind !== 'counter' && kind !== 'histogram-busy' && kind !== 'histogram-restored' && !Number.isNaN(r)) {
        checks.push({
          name: `${WHAT[kind]} at ${n.toLocaleString('en-US')}: ours / prom-client heap`,
          measured: r,
          target: HISTOGRAM_MAX_FRACTION,
          better: 'lower',
          margin: 0.1,
          unit: 'x',
        });
      }
    }
  }
  return {
    suite: 'Heap per series (bench/memory.bench.ts)',
    rows: [],
    table: lines.join('\n'),
    notes: [
      'One fresh process per figure (--expose-gc): (heapUsed + arrayBuffers) after full GCs, minus the same before creating the series, per series. Labels {route, method, status}: 5 methods x 10 statuses x series/50 routes.',
      'Label value strings are built before the first reading and kept alive by the probe on both sides, so neither library is charged for them; what a library builds or keeps per series (prom-client: its key string and the label object it holds; ours: a row of value ids, interned values) is charged.',
    ],
    checks,
    figures: { heapPerSeries: figures },
  };
}
