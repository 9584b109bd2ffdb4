/**
 * Chart type `gauge`: one SVG dial per series showing its newest value against the chart's `max`
 * (default 100). The arc turns amber from 70 % of full scale and red from 90 %.
 */
import { el, formatValue, svg } from './dom.js';

const SWEEP_DEG = 240;
const R = 44;
const CX = 60;
const CY = 58;

/**
 * @param {number} deg
 * @returns {[number, number]} x, y
 */
function polar(deg) {
  const rad = ((deg - 90) * Math.PI) / 180;
  return [CX + R * Math.cos(rad), CY + R * Math.sin(rad)];
}

/** The dial's arc from -120° to +120° around the top. */
function arcPath() {
  const [x0, y0] = polar(-SWEEP_DEG / 2);
  const [x1, y1] = polar(SWEEP_DEG / 2);
  return `M ${x0.toFixed(2)} ${y0.toFixed(2)} A ${R} ${R} 0 1 1 ${x1.toFixed(2)} ${y1.toFixed(2)}`;
}

export class GaugeView {
  /**
   * @param {HTMLElement} container
   * @param {{ labels: string[], unit: string, max?: number }} opts
   */
  constructor(container, opts) {
    this.opts = opts;
    this.max = opts.max && opts.max > 0 ? opts.max : 100;
    const wrap = el('div', { className: 'gauges' });
    this.dials = opts.labels.map((label) => {
      const graphic = svg('svg', { viewBox: '0 0 120 100', class: 'gauge', role: 'img' });
      const d = arcPath();
      graphic.append(svg('path', { d, class: 'gauge-track', pathLength: 100 }));
      const value = svg('path', { d, class: 'gauge-value', pathLength: 100, 'stroke-dasharray': '0 100' });
      graphic.append(value);
      const text = svg('text', { x: CX, y: CY + 4, class: 'gauge-text', 'text-anchor': 'middle' });
      const scale = svg('text', { x: CX, y: 96, class: 'gauge-scale', 'text-anchor': 'middle' });
      scale.textContent = `0 – ${formatValue(this.max, opts.unit)}`;
      graphic.append(text, scale);
      const caption = el('div', { className: 'gauge-label', text: label });
      wrap.append(el('div', { className: 'gauge-cell' }, [graphic, caption]));
      return { graphic, value, text, label };
    });
    container.append(wrap);
  }

  /**
   * @param {Array<number | null>} values newest value per series, in label order
   */
  update(values) {
    this.dials.forEach((dial, i) => {
      const v = values[i];
      const has = typeof v === 'number' && Number.isFinite(v);
      const share = has ? Math.max(0, Math.min(1, v / this.max)) : 0;
      // A gap longer than the arc: a gap of exactly its length puts a round cap's dot at the far end.
      dial.value.setAttribute('stroke-dasharray', `${(share * 100).toFixed(2)} 200`);
      dial.value.setAttribute(
        'class',
        `gauge-value ${!has ? 'level-none' : share >= 0.9 ? 'level-crit' : share >= 0.7 ? 'level-warn' : 'level-ok'}`,
      );
      dial.text.textContent = has ? formatValue(v, this.opts.unit) : 'no data';
      dial.graphic.setAttribute('aria-label', `${dial.label}: ${dial.text.textContent}`);
    });
  }
}
