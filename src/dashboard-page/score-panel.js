/**
 * The performance scores panel: overall, latency, throughput, error rate and resources, each
 * 0-100, coloured green from 80, amber from 50, red below; "no data" where the score is null.
 */
import { el, required } from './dom.js';

/** @type {Array<[keyof import('../server/protocol.js').Scores, string]>} */
const SCORES = [
  ['overall', 'Overall'],
  ['latency', 'Latency'],
  ['throughput', 'Throughput'],
  ['error_rate', 'Error rate'],
  ['resources', 'Resources'],
];

export class ScorePanel {
  /** @param {HTMLElement} panel the `#scores-panel` element */
  constructor(panel) {
    const grid = required(panel, '.scores');
    this.tiles = new Map(
      SCORES.map(([key, title]) => {
        const value = el('div', { className: 'score-value', text: 'no data' });
        const fill = el('div', { className: 'score-fill' });
        const tile = el(
          'div',
          { className: `score ${key === 'overall' ? 'score-overall' : ''} level-none`, attrs: { 'data-score': key } },
          [el('div', { className: 'score-title', text: title }), value, el('div', { className: 'score-bar' }, [fill])],
        );
        grid.append(tile);
        return [key, { tile, value, fill }];
      }),
    );
  }

  /** @param {import('../server/protocol.js').Scores | null} scores */
  update(scores) {
    for (const [key, { tile, value, fill }] of this.tiles) {
      const v = scores ? scores[key] : null;
      const has = typeof v === 'number' && Number.isFinite(v);
      const clamped = has ? Math.max(0, Math.min(100, v)) : 0;
      value.textContent = has ? String(Math.round(clamped)) : 'no data';
      fill.style.width = `${clamped}%`;
      tile.classList.remove('level-ok', 'level-warn', 'level-crit', 'level-none');
      tile.classList.add(
        !has ? 'level-none' : clamped >= 80 ? 'level-ok' : clamped >= 50 ? 'level-warn' : 'level-crit',
      );
    }
  }
}
