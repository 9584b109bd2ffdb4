/**
 * The SLA panel: each SLA's status (ok / warning / violated / no data), its measured value against
 * the target, compliance, and for availability SLOs the error budget left.
 */
import { el, formatNumber, formatValue, required } from './dom.js';

const STATUS_TEXT = { ok: 'OK', warning: 'Warning', violated: 'Violated', no_data: 'No data' };

export class SlaPanel {
  /** @param {HTMLElement} panel the `#sla-panel` element */
  constructor(panel) {
    this.box = required(panel, '.slas');
    /** @type {string | null} what is rendered, to skip re-rendering the same */
    this.key = null;
    this.box.replaceChildren(el('p', { className: 'muted', text: 'Loading…' }));
  }

  /** @param {import('../server/protocol.js').SlaView[]} slas */
  update(slas) {
    const key = JSON.stringify(slas);
    if (key === this.key) return;
    this.key = key;
    if (!Array.isArray(slas) || slas.length === 0) {
      this.box.replaceChildren(el('p', { className: 'muted', text: 'No SLAs configured' }));
      return;
    }
    this.box.replaceChildren(
      el(
        'ul',
        { className: 'sla-list' },
        slas.map((s) => this.row(s)),
      ),
    );
  }

  /** @param {string} reason */
  unavailable(reason) {
    this.key = null;
    this.box.replaceChildren(el('p', { className: 'muted', text: `SLAs unavailable: ${reason}` }));
  }

  /** @param {import('../server/protocol.js').SlaView} s */
  row(s) {
    const status = s.status in STATUS_TEXT ? s.status : 'no_data';
    const bound = s.direction === 'higher_is_better' ? '≥' : '≤';
    const measured = `${formatValue(s.current, s.unit)} / ${bound} ${formatValue(s.target, s.unit)}`;
    const compliance =
      typeof s.compliance === 'number' ? `${formatNumber(s.compliance)}% compliant` : 'compliance: no data';
    const row = el('li', { className: `sla sla-${status}`, attrs: { 'data-sla': String(s.name) } }, [
      el('div', { className: 'sla-head' }, [
        el('span', { className: 'sla-name', text: String(s.name) }),
        el('span', { className: 'pill', text: STATUS_TEXT[status] }),
      ]),
      el('div', { className: 'sla-detail' }, [
        el('span', { text: measured }),
        el('span', { className: 'muted', text: compliance }),
      ]),
    ]);
    if (s.budget_remaining !== undefined) {
      const budget = s.budget_remaining;
      const has = typeof budget === 'number' && Number.isFinite(budget);
      const share = has ? Math.max(0, Math.min(1, budget)) : 0;
      const fill = el('div', { className: 'budget-fill' });
      fill.style.width = `${(share * 100).toFixed(1)}%`;
      row.append(
        el('div', { className: 'budget' }, [
          el('span', {
            className: 'muted',
            text: has ? `error budget ${formatNumber(share * 100)}% left` : 'error budget: no data',
          }),
          el('div', { className: `budget-bar ${share < 0.2 ? 'low' : ''}` }, [fill]),
        ]),
      );
    }
    return row;
  }
}
