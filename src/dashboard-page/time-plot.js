/**
 * A time-series plot (chart types `line` and `bar`) drawn by uPlot on a canvas. Axis and grid
 * colours come from the theme's CSS variables, so a theme change rebuilds the plot.
 */
import { cssVar, formatTick } from './dom.js';

/** Byte axis steps: powers of two from 1 B. */
const BYTE_INCRS = Array.from({ length: 51 }, (_, k) => 2 ** k);
/** Time axis steps, seconds: 1 s to a year. */
const TIME_INCRS = [
  1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200, 86_400, 172_800, 604_800,
  2_592_000, 31_536_000,
];
import { seriesColor, withAlpha } from './palette.js';

export class TimePlot {
  /**
   * @param {HTMLElement} container where the canvas goes
   * @param {{
   *   type: 'line' | 'bar',
   *   unit: string,
   *   labels: string[],
   *   xRange: () => [number, number] | null,   // fixed x range in seconds, or null for the data's
   *   onCursor: (idx: number | null) => void,  // hover index into the aligned data
   * }} opts
   */
  constructor(container, opts) {
    this.container = container;
    this.opts = opts;
    /** @type {import('./series-buffer.js').AlignedData} */
    this.data = [[], ...opts.labels.map(() => [])];
    this.width = Math.max(100, container.clientWidth);
    this.height = Math.max(80, container.clientHeight);
    this.plot = this.build();
  }

  build() {
    const { type, unit, labels, xRange, onCursor } = this.opts;
    const text = cssVar('--text-muted') || '#9fa7b3';
    const grid = cssVar('--grid') || 'rgba(204,204,220,0.07)';
    const font = '11px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
    const axis = { stroke: text, font, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1, size: 4 } };
    const bars = type === 'bar' ? (uPlot.paths.bars?.({ size: [0.7, 40], align: 0 }) ?? null) : null;
    const single = labels.length === 1;
    const series = labels.map((label, i) => ({
      label,
      stroke: seriesColor(i),
      width: bars ? 0 : 1.5,
      fill: bars
        ? withAlpha(seriesColor(i), single ? 0.8 : 0.55)
        : single
          ? withAlpha(seriesColor(i), 0.12)
          : undefined,
      ...(bars ? { paths: bars, points: { show: false } } : {}),
    }));
    /** @type {import('uplot').Options} */
    const opts = {
      width: this.width,
      height: this.height,
      legend: { show: false },
      cursor: { drag: { x: false, y: false, setScale: false }, points: { size: 6 } },
      scales: {
        x: {
          time: true,
          range: (_u, min, max) => {
            const fixed = xRange();
            if (fixed) return fixed;
            if (min === null || max === null) {
              const now = Date.now() / 1000;
              return [now - 60, now];
            }
            return min === max ? [min - 30, max + 30] : [min, max];
          },
        },
        y: {
          range: (_u, min, max) => {
            if (min === null || max === null || !Number.isFinite(min) || !Number.isFinite(max)) return [0, 1];
            const lo = Math.min(0, min);
            const hi = max > lo ? max + (max - lo) * 0.1 : lo + 1;
            return [lo, hi];
          },
        },
      },
      axes: [
        // Whole seconds at least: on a wide chart of a few seconds uPlot's own steps go to 0.5 s (":27.500").
        { ...axis, space: 60, incrs: TIME_INCRS },
        {
          ...axis,
          size: unit === 'bytes' ? 64 : 48,
          // Bytes step in powers of two, so the ticks read 64 MiB, 128 MiB rather than 47.7 MiB, 95.4 MiB.
          ...(unit === 'bytes' ? { incrs: BYTE_INCRS } : {}),
          values: (_u, splits) => splits.map((v) => formatTick(v, unit)),
        },
      ],
      series: [{}, ...series],
      hooks: { setCursor: [(u) => onCursor(u.cursor.idx ?? null)] },
    };
    return new uPlot(opts, this.data, this.container);
  }

  /**
   * Shows new aligned data (`[xsSeconds, ...ys]`).
   * @param {import('./series-buffer.js').AlignedData} data
   */
  update(data) {
    this.data = data;
    this.plot.setData(data);
  }

  /** Re-applies the fixed x range after it changed. */
  rescale() {
    const r = this.opts.xRange();
    const [first, last] = [this.data[0][0], this.data[0].at(-1)];
    if (r) this.plot.setScale('x', { min: r[0], max: r[1] });
    else if (first !== undefined && last !== undefined) this.plot.setScale('x', { min: first, max: last });
  }

  /**
   * @param {number} width
   * @param {number} height
   */
  resize(width, height) {
    const w = Math.max(100, Math.floor(width));
    const h = Math.max(80, Math.floor(height));
    if (w === this.width && h === this.height) return;
    this.width = w;
    this.height = h;
    this.plot.setSize({ width: w, height: h });
  }

  /** Rebuilds with the current theme's colours. */
  rebuild() {
    this.plot.destroy();
    this.plot = this.build();
  }

  destroy() {
    this.plot.destroy();
  }
}
