/**
 * Chart type `pie`: a donut of the series' newest values (each one's share of their sum), with a
 * legend of value and share.
 */
import { el, formatNumber, formatValue, svg } from './dom.js';
import { seriesColor } from './palette.js';

const R = 36;

export class PieView {
  /**
   * @param {HTMLElement} container
   * @param {{ labels: string[], unit: string }} opts series colours are the palette's, in label order
   */
  constructor(container, opts) {
    this.opts = opts;
    const graphic = svg('svg', { viewBox: '0 0 100 100', class: 'pie', role: 'img' });
    graphic.append(svg('circle', { cx: 50, cy: 50, r: R, class: 'pie-track', pathLength: 100 }));
    this.legend = el('ul', { className: 'pie-legend' });
    /** One slice and one legend row per series, in label order. */
    this.parts = opts.labels.map((label, i) => {
      const color = seriesColor(i);
      const slice = svg('circle', {
        cx: 50,
        cy: 50,
        r: R,
        class: 'pie-slice',
        pathLength: 100,
        stroke: color,
        'stroke-dasharray': '0 100',
        transform: 'rotate(-90 50 50)',
      });
      graphic.append(slice);
      const swatch = el('span', { className: 'swatch' });
      swatch.style.background = color;
      const value = el('span', { className: 'pie-value' });
      this.legend.append(el('li', {}, [swatch, el('span', { className: 'pie-label', text: label }), value]));
      return { label, slice, value };
    });
    this.total = svg('text', { x: 50, y: 54, class: 'pie-total', 'text-anchor': 'middle' });
    graphic.append(this.total);
    this.graphic = graphic;
    container.append(el('div', { className: 'pie-wrap' }, [graphic, this.legend]));
  }

  /**
   * @param {Array<number | null>} values newest value per series, in label order
   */
  update(values) {
    /** @param {number | null | undefined} v */
    const positive = (v) => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : 0);
    const sum = this.parts.reduce((a, _part, i) => a + positive(values[i]), 0);
    let offset = 0;
    this.parts.forEach(({ slice, value }, i) => {
      const raw = values[i];
      const share = sum > 0 ? (positive(raw) / sum) * 100 : 0;
      slice.setAttribute('stroke-dasharray', `${share.toFixed(3)} ${(100 - share).toFixed(3)}`);
      slice.setAttribute('stroke-dashoffset', (-offset).toFixed(3));
      offset += share;
      value.textContent =
        typeof raw === 'number'
          ? `${formatValue(raw, this.opts.unit)} · ${sum > 0 ? formatNumber(share) : 0}%`
          : 'no data';
    });
    this.total.textContent = sum > 0 ? formatNumber(sum) : 'no data';
    this.graphic.setAttribute(
      'aria-label',
      this.parts.map(({ label, value }) => `${label}: ${value.textContent}`).join(', '),
    );
  }
}
