/**
 * A time-series plot (chart types `line` and `bar`) drawn by uPlot on a canvas. Axis and grid
 * colours come from the theme's CSS variables, so a theme change rebuilds the plot.
 */
import { cssVar, formatTick } from './dom.js';
import { withAlpha } from './palette.js';

export class TimePlot {
  /**
   * @param {HTMLElement} container where the canvas goes
   * @param {{
   *   type: 'line' | 'bar',
   *   unit: string,
   *   labels: string[],
   *   colors: string[],
   *   xRange: () => [number, number] | null,   // fixed x range in seconds, or null for the data's
   *   onCursor: (idx: number | null) => void,  // hover index into the aligned data
   * }} opts
   */
  constructor(container, opts) {
    this.container = container;
    this.opts = opts;
    /** @type {Array<Array<number | null | undefined>>} */
    this.data = [[], ...opts.labels.map(() => [])];
    this.width = Math.max(100, container.clientWidth);
    this.height = Math.max(80, container.clientHeight);
    this.plot = this.build();
  }

  build() {
    const { type, unit, labels, colors, xRange, onCursor } = this.opts;
    const text = cssVar('--text-muted') || '#9fa7b3';
    const grid = cssVar('--grid') || 'rgba(204,204,220,0.07)';
    const font = '11px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
    const axis = { stroke: text, font, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1, size: 4 } };
    const bars = type === 'bar' ? globalThis.uPlot.paths.bars({ size: [0.7, 40], align: 0 }) : null;
    const single = labels.length === 1;
    const series = labels.map((label, i) => ({
      label,
      stroke: colors[i],
      width: bars ? 0 : 1.5,
      fill: bars ? withAlpha(colors[i], single ? 0.8 : 0.55) : single ? withAlpha(colors[i], 0.12) : undefined,
      ...(bars ? { paths: bars, points: { show: false } } : {}),
    }));
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
        { ...axis, space: 60 },
        { ...axis, size: unit === 'bytes' ? 64 : 48, values: (_u, splits) => splits.map((v) => formatTick(v, unit)) },
      ],
      series: [{}, ...series],
      hooks: { setCursor: [(u) => onCursor(u.cursor.idx ?? null)] },
    };
    return new globalThis.uPlot(opts, this.data, this.container);
  }

  /**
   * Shows new aligned data (`[xsSeconds, ...ys]`).
   * @param {Array<Array<number | null | undefined>>} data
   */
  update(data) {
    this.data = data;
    this.plot.setData(data);
  }

  /** Re-applies the fixed x range after it changed. */
  rescale() {
    const r = this.opts.xRange();
    const xs = this.data[0];
    if (r) this.plot.setScale('x', { min: r[0], max: r[1] });
    else if (xs.length) this.plot.setScale('x', { min: xs[0], max: xs[xs.length - 1] });
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
