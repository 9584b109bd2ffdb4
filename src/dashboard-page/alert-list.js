/**
 * The alerts panel: active (firing, then pending) alerts, worst severity first. Titles, messages,
 * sources and label values are untrusted and only ever set as text.
 */
import { el, formatAge, required } from './dom.js';

/** @type {Record<string, number>} */
const SEVERITY_RANK = { info: 0, warning: 1, error: 2, critical: 3 };

export class AlertList {
  /**
   * @param {HTMLElement} panel the `#alerts-panel` element
   */
  constructor(panel) {
    this.list = required(panel, '.alerts');
    this.count = required(panel, '.count');
    this.panel = panel;
    /** @type {string | null} what is rendered, to skip re-rendering the same */
    this.key = null;
    this.renderEmpty();
  }

  /**
   * Shows the active alerts of a frame; resolved ones are left out.
   * @param {import('../server/protocol.js').AlertView[]} alerts
   * @param {number} now ms, for "started 3m ago"
   * @returns {import('../server/protocol.js').AlertView[]} the active alerts, in display order
   */
  update(alerts, now) {
    const active = (Array.isArray(alerts) ? alerts : [])
      .filter((a) => a && a.status !== 'resolved')
      .sort(
        (a, b) =>
          (a.status === b.status ? 0 : a.status === 'firing' ? -1 : 1) ||
          (SEVERITY_RANK[b.severity] ?? 0) - (SEVERITY_RANK[a.severity] ?? 0) ||
          a.startedAt - b.startedAt,
      );
    const firing = active.filter((a) => a.status === 'firing').length;
    this.count.textContent = String(active.length);
    this.count.setAttribute('data-count', String(active.length));
    this.panel.classList.toggle('has-firing', firing > 0);
    // Re-render only on change (ages are coarse, so a minute-level key is enough).
    const key = JSON.stringify([active, Math.floor(now / 60000)]);
    if (key === this.key) return active;
    this.key = key;
    if (active.length === 0) {
      this.renderEmpty();
      return active;
    }
    this.list.replaceChildren(...active.map((a) => this.item(a, now)));
    return active;
  }

  renderEmpty() {
    this.list.replaceChildren(el('li', { className: 'alerts-empty', text: 'No active alerts' }));
  }

  /**
   * @param {import('../server/protocol.js').AlertView} a
   * @param {number} now
   */
  item(a, now) {
    const severity = a.severity in SEVERITY_RANK ? a.severity : 'info';
    const status = a.status === 'firing' ? 'firing' : 'pending';
    const labels = Object.entries(a.labels ?? {}).map(([k, v]) => el('li', { className: 'chip', text: `${k}=${v}` }));
    const meta = el('div', { className: 'alert-meta' }, [
      el('span', { className: 'alert-source', text: String(a.source ?? '') }),
      el('span', {
        className: 'alert-age',
        text: Number.isFinite(a.startedAt) ? `${status} ${formatAge(a.startedAt, now)}` : status,
      }),
    ]);
    const body = el('div', { className: 'alert-body' }, [
      el('div', { className: 'alert-title', text: String(a.title ?? '') }),
      el('div', { className: 'alert-message', text: String(a.message ?? '') }),
      meta,
    ]);
    if (labels.length) body.append(el('ul', { className: 'chips' }, labels));
    return el('li', { className: `alert sev-${severity} status-${status}`, attrs: { 'data-alert-id': String(a.id) } }, [
      el('span', { className: 'sev-badge', text: severity }),
      body,
    ]);
  }
}
