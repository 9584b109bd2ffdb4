/**
 * Chart type `pie`: a donut of the series' newest values (each one's share of their sum), with a
 * legend of value and share.
 */
import { el, formatNumber, formatValue, svg } from './dom.js';

const R = 36;

export class PieView {
  /**
   * @param {HTMLElement} container
   * @param {{ labels: string[], colors: string[], unit: string }} opts
   */
  constructor(container, opts) {
    this.opts = opts;
    const graphic = svg('svg', { viewBox: '0 0 100 100', class: 'pie', role: 'img' });
    graphic.append(svg('circle', { cx: 50, cy: 50, r: R, class: 'pie-track', pathLength: 100 }));
    this.slices = opts.labels.map((_label, i) => {
      const slice = svg('circle', { cx: 50, cy: 50, r: R, class: 'pie-slice', pathLength: 100, stroke: opts.colors[i], 'stroke-dasharray': '0 100', transform: 'rotate(-90 50 50)' });
      graphic.append(slice);
      return slice;
    });
    this.total = svg('text', { x: 50, y: 54, class: 'pie-total', 'text-anchor': 'middle' });
    graphic.append(this.total);
    this.graphic = graphic;
    this.legend = el('ul', { className: 'pie-legend' });
    this.rows = opts.labels.map((label, i) => {
      const swatch = el('span', { className: 'swatch' });
      swatch.style.background = opts.colors[i];
      const value = el('span', { className: 'pie-value' });
      this.legend.append(el('li', {}, [swatch, el('span', { className: 'pie-label', text: label }), value]));
      return value;
    });
    container.append(el('div', { className: 'pie-wrap' }, [graphic, this.legend]));
  }

  /**
   * @param {Array<number | null>} values newest value per series, in label order
   */
  update(values) {
    const clean = values.map((v) => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : 0));
    const sum = clean.reduce((a, b) => a + b, 0);
    let offset = 0;
    clean.forEach((v, i) => {
      const share = sum > 0 ? (v / sum) * 100 : 0;
      this.slices[i].setAttribute('stroke-dasharray', `${share.toFixed(3)} ${(100 - share).toFixed(3)}`);
      this.slices[i].setAttribute('stroke-dashoffset', (-offset).toFixed(3));
      offset += share;
      const raw = values[i];
      this.rows[i].textContent = typeof raw === 'number' ? `${formatValue(raw, this.opts.unit)} · ${sum > 0 ? formatNumber(share) : 0}%` : 'no data';
    });
    this.total.textContent = sum > 0 ? formatNumber(sum) : 'no data';
    this.graphic.setAttribute('aria-label', this.opts.labels.map((l, i) => `${l}: ${this.rows[i].textContent}`).join(', '));
  }
}
