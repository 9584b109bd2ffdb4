/**
 * One chart of the dashboard: its card, the points of each series and the view that draws them
 * (uPlot for `line`/`bar`, SVG dials for `gauge`, an SVG donut for `pie`).
 *
 * Each series keeps two buffers: `live` (fed by every frame, at most `data_points` points, always
 * kept current) and `history` (a range answer, shown instead while a range is picked). Drawing
 * waits for the next animation frame, so a burst of updates costs one redraw.
 */
import { displayUnit, el, formatValue } from './dom.js';
import { GaugeView } from './gauge-view.js';
import { seriesColor } from './palette.js';
import { PieView } from './pie-view.js';
import { alignBuffers, SeriesBuffer } from './series-buffer.js';
import { TimePlot } from './time-plot.js';

/** @type {Record<string, number>} */
const SEVERITY_RANK = { info: 0, warning: 1, error: 2, critical: 3 };

export class ChartPanel {
  /**
   * @param {import('../server/protocol.js').ChartDef} def
   * @param {{ dataPoints: number, refreshMs: number }} opts
   */
  constructor(def, opts) {
    /** Consecutive live points further apart than this have a hole between them. */
    this.gapMs = opts.refreshMs * 2.5;
    this.def = def;
    this.labels = def.series.map((s) => s.label);
    this.limit = opts.dataPoints;
    /** @type {Map<string, SeriesBuffer>} */
    this.live = new Map(this.labels.map((l) => [l, new SeriesBuffer(this.limit)]));
    /** @type {Map<string, SeriesBuffer> | null} */
    this.history = null;
    /** @type {[number, number] | null} fixed x range in seconds while a range is shown */
    this.range = null;
    this.hoverIdx = null;
    this.frame = 0;

    this.badge = el('span', { className: 'alert-badge', attrs: { hidden: '' } });
    const head = el('header', { className: 'chart-head' }, [
      el('h3', { text: def.title }),
      el('span', { className: 'unit', text: displayUnit(def.unit) }),
      this.badge,
    ]);
    this.body = el('div', { className: `chart-body type-${def.type}` });
    this.empty = el('div', { className: 'empty', text: 'No data' });
    this.legend = el('ul', { className: 'legend' });
    this.card = el(
      'article',
      { className: 'panel chart-card is-empty', attrs: { 'data-chart': def.id, 'data-type': def.type } },
      [head, el('div', { className: 'chart-stage' }, [this.body, this.empty])],
    );

    /** @type {GaugeView | PieView | TimePlot | null} */
    this.view = null;
    /** @type {HTMLElement | null} the legend's time row (line and bar charts) */
    this.legendTime = null;
    /** @type {Array<{ label: string, node: HTMLElement }> | null} the legend's value per series (line and bar charts) */
    this.legendValues = null;
    if (def.type === 'gauge') {
      this.view = new GaugeView(this.body, { labels: this.labels, unit: def.unit, max: def.max });
    } else if (def.type === 'pie') {
      this.view = new PieView(this.body, { labels: this.labels, unit: def.unit });
    } else {
      const legendTime = el('li', { className: 'legend-time', attrs: { hidden: '' } });
      this.legendTime = legendTime;
      this.legend.append(legendTime);
      this.legendValues = this.labels.map((label, i) => {
        const swatch = el('span', { className: 'swatch' });
        swatch.style.background = seriesColor(i);
        const value = el('span', { className: 'legend-value' });
        this.legend.append(el('li', {}, [swatch, el('span', { className: 'legend-label', text: label }), value]));
        return { label, node: value };
      });
      this.card.append(this.legend); // the plot is built in mount(), once the body has a size
    }
  }

  /** Builds the canvas plot once the card is in the document (uPlot needs the width). */
  mount() {
    if (this.def.type !== 'line' && this.def.type !== 'bar') return this.schedule();
    const plot = new TimePlot(this.body, {
      type: this.def.type,
      unit: this.def.unit,
      labels: this.labels,
      xRange: () => this.range,
      onCursor: (idx) => {
        this.hoverIdx = idx;
        this.renderLegend();
      },
    });
    this.view = plot;
    this.resizer = new ResizeObserver(() => plot.resize(this.body.clientWidth, this.body.clientHeight));
    this.resizer.observe(this.body);
    this.schedule();
  }

  /**
   * Appends a frame's newest points (series label → point) to the live buffers.
   * @param {Record<string, [number, number | null]>} points
   */
  pushLive(points) {
    let changed = false;
    for (const [label, point] of Object.entries(points ?? {})) {
      const buf = this.live.get(label);
      if (buf && buf.push(point)) changed = true;
    }
    if (changed && !this.history) this.schedule();
  }

  /**
   * Merges history of the recent past into the live buffers, so a fresh page is not empty and a
   * reconnected one has no hole.
   * @param {Map<string, Array<[number, number | null]>>} byLabel
   */
  fillLive(byLabel) {
    for (const [label, points] of byLabel) this.live.get(label)?.fill(points, this.gapMs);
    if (!this.history) this.schedule();
  }

  /**
   * Shows a history range instead of the live points.
   * @param {Map<string, Array<[number, number | null]>>} byLabel
   * @param {number} from ms
   * @param {number} to ms
   */
  showHistory(byLabel, from, to) {
    this.history = new Map(
      this.labels.map((l) => {
        const buf = new SeriesBuffer(Number.MAX_SAFE_INTEGER);
        buf.replace(byLabel.get(l) ?? []);
        return [l, buf];
      }),
    );
    this.range = [from / 1000, to / 1000];
    if (this.view instanceof TimePlot) this.view.rescale();
    this.schedule();
  }

  /** Back to the live points. */
  showLive() {
    this.history = null;
    this.range = null;
    this.schedule();
  }

  /**
   * Marks the card for the firing alerts that name this chart (or clears the mark).
   * @param {import('../server/protocol.js').AlertView[]} alerts
   */
  setAlerts(alerts) {
    if (alerts.length === 0) {
      this.card.classList.remove('alerting');
      this.card.removeAttribute('data-severity');
      this.badge.hidden = true;
      this.badge.textContent = '';
      this.badge.removeAttribute('title');
      return;
    }
    const worst = alerts.reduce((a, b) =>
      (SEVERITY_RANK[b.severity] ?? 0) > (SEVERITY_RANK[a.severity] ?? 0) ? b : a,
    );
    this.card.classList.add('alerting');
    this.card.setAttribute('data-severity', worst.severity in SEVERITY_RANK ? worst.severity : 'warning');
    this.badge.hidden = false;
    this.badge.textContent = alerts.length === 1 ? `${worst.severity} alert` : `${alerts.length} alerts`;
    this.badge.setAttribute('title', alerts.map((a) => a.title).join('\n'));
  }

  /** The buffers currently shown. */
  shown() {
    return this.history ?? this.live;
  }

  /**
   * The shown buffer of a series (live and history hold one for each of the chart's labels).
   * @param {string} label
   * @returns {SeriesBuffer}
   */
  bufferOf(label) {
    const buf = this.shown().get(label);
    if (!buf) throw new Error(`chart ${this.def.id} has no buffer for series ${label}`);
    return buf;
  }

  /**
   * Points held for a series (or the most of any series).
   * @param {string} [label]
   */
  pointCount(label) {
    if (label !== undefined) return this.shown().get(label)?.length ?? 0;
    return Math.max(0, ...[...this.shown().values()].map((b) => b.length));
  }

  /** Points in the drawn plot (uPlot's x values), or the dial/slice count drawn for gauges/pies. */
  plottedCount() {
    if (this.view instanceof TimePlot) return this.view.data[0].length;
    return this.drawn ?? 0;
  }

  schedule() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.render();
    });
  }

  render() {
    const buffers = this.labels.map((l) => this.bufferOf(l));
    // Points whose values are all null (the feed's "no data") leave the card empty, not a flat line at 0.
    const hasData = buffers.some((b) => b.lastValue() !== null);
    this.card.classList.toggle('is-empty', !hasData);
    if (this.view instanceof TimePlot) {
      this.view.update(alignBuffers(buffers));
      this.renderLegend();
    } else if (this.view) {
      this.view.update(buffers.map((b) => b.lastValue()));
      this.drawn = buffers.filter((b) => b.length > 0).length;
    }
  }

  renderLegend() {
    const time = this.legendTime;
    if (!this.legendValues || !time || !(this.view instanceof TimePlot)) return;
    const data = this.view.data;
    const idx = this.hoverIdx;
    // While the cursor is on the plot the legend shows the values at its time.
    const at = idx !== null && idx !== undefined ? data[0][idx] : undefined;
    time.hidden = at === undefined;
    time.textContent = at === undefined ? '' : new Date(at * 1000).toLocaleTimeString();
    this.legendValues.forEach(({ label, node }, i) => {
      let v;
      if (idx !== null && idx !== undefined) v = data[i + 1]?.[idx];
      else v = this.bufferOf(label).lastValue();
      node.textContent = formatValue(v ?? null, this.def.unit);
    });
  }

  /** Redraws with the current theme's colours. */
  retheme() {
    if (this.view instanceof TimePlot) {
      this.view.rebuild();
      this.schedule();
    }
  }

  destroy() {
    cancelAnimationFrame(this.frame);
    this.resizer?.disconnect();
    if (this.view instanceof TimePlot) this.view.destroy();
    this.card.remove();
  }
}
