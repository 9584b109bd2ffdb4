/**
 * The dashboard page: loads the dashboard definition, builds its charts and panels, follows the
 * live feed and loads history for a picked range. Shapes are src/server/protocol.ts's.
 *
 * URL parameters: `?dashboard=<name>` (default `main`), `?token=<auth token>` (then moved to
 * sessionStorage, see api-client.js).
 */
import { AlertList } from './alert-list.js';
import { ApiClient, ApiError } from './api-client.js';
import { ChartPanel } from './chart-panel.js';
import { LiveFeed } from './live-feed.js';
import { ScorePanel } from './score-panel.js';
import { SlaPanel } from './sla-panel.js';
import { Theme } from './theme.js';

const params = new URLSearchParams(location.search);
const dashboardName = params.get('dashboard') || 'main';
const api = new ApiClient(location);

const statusEl = /** @type {HTMLElement} */ (document.getElementById('status'));
const statusLabel = /** @type {HTMLElement} */ (statusEl.querySelector('.status-label'));
const banner = /** @type {HTMLElement} */ (document.getElementById('banner'));
const chartsEl = /** @type {HTMLElement} */ (document.getElementById('charts'));
const rangeEl = /** @type {HTMLElement} */ (document.getElementById('range'));

/** @type {Map<string, ChartPanel>} */
const panels = new Map();
const alertList = new AlertList(/** @type {HTMLElement} */ (document.getElementById('alerts-panel')));
const scorePanel = new ScorePanel(/** @type {HTMLElement} */ (document.getElementById('scores-panel')));
const slaPanel = new SlaPanel(/** @type {HTMLElement} */ (document.getElementById('sla-panel')));
const theme = new Theme(/** @type {HTMLButtonElement} */ (document.getElementById('theme-toggle')), () => {
  for (const p of panels.values()) p.retheme();
});

/** @type {import('../server/protocol.js').DashboardResponse | null} */
let def = null;
/** `'live'` or the picked range in ms. */
let range = /** @type {'live' | number} */ ('live');
let rangeTimer = 0;
/** @type {AbortController | null} */
let rangeAbort = null;
/** Server clock minus ours, from `connected`; history ranges and alert ages use server time. */
let clockOffset = 0;
let everConnected = false;

const now = () => Date.now() + clockOffset;

/**
 * @param {'connecting' | 'live' | 'reconnecting' | 'polling' | 'offline'} state
 * @param {string} text
 */
function setStatus(state, text) {
  statusEl.dataset.state = state;
  statusLabel.textContent = text;
}

/** @param {string | null} text */
function showBanner(text, kind = 'error') {
  banner.hidden = text === null;
  banner.dataset.kind = kind;
  banner.textContent = text ?? '';
}

/**
 * Groups a history answer by chart and series label.
 * @param {import('../server/protocol.js').HistoryResponse} res
 * @returns {Map<string, Map<string, Array<[number, number | null]>>>}
 */
function byChart(res) {
  const out = new Map();
  for (const s of Array.isArray(res?.series) ? res.series : []) {
    if (!s || typeof s.chart !== 'string' || !Array.isArray(s.points)) continue;
    if (!out.has(s.chart)) out.set(s.chart, new Map());
    out.get(s.chart).set(s.label, s.points);
  }
  return out;
}

/** @param {number} from @param {number} to @param {AbortSignal} [signal] */
function fetchHistory(from, to, signal) {
  const q = new URLSearchParams({
    dashboard: dashboardName,
    from: String(Math.floor(from)),
    to: String(Math.ceil(to)),
  });
  return api.get(`/api/history?${q}`, signal);
}

/** Loads the dashboard definition, retrying transient failures with backoff. */
async function loadDashboard() {
  for (let attempt = 0; ; attempt++) {
    try {
      return await api.get(`/api/dashboards/${encodeURIComponent(dashboardName)}`);
    } catch (err) {
      const status = err instanceof ApiError ? err.status : 0;
      if (status === 401 || status === 403) {
        showBanner('Not authorised. Open the dashboard with ?token=<dashboard token> in the URL.');
        setStatus('offline', 'not authorised');
        return null;
      }
      if (status === 404) {
        showBanner(`No dashboard named "${dashboardName}".`);
        setStatus('offline', 'no dashboard');
        return null;
      }
      const delay = Math.min(10000, 500 * 2 ** attempt);
      showBanner(
        `Cannot load the dashboard (${err instanceof Error ? err.message : String(err)}); retrying in ${Math.round(delay / 1000)} s.`,
      );
      setStatus('reconnecting', 'retrying');
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

/** Fills the live buffers with the recent past so a fresh (or reconnected) page shows a line. */
async function backfillLive() {
  if (!def) return;
  const to = now();
  const from = to - def.data_points * def.refresh_interval;
  try {
    const grouped = byChart(await fetchHistory(from, to));
    for (const [id, p] of panels) {
      const series = grouped.get(id);
      if (series) p.fillLive(series);
    }
  } catch (err) {
    console.warn('history backfill skipped:', err instanceof Error ? err.message : err);
  }
}

/** @param {import('../server/protocol.js').AlertView[]} alerts */
function applyAlerts(alerts) {
  const active = alertList.update(alerts, now());
  const firing = active.filter((a) => a.status === 'firing');
  const highlight = def?.alert_highlighting !== false;
  for (const [id, p] of panels)
    p.setAlerts(highlight ? firing.filter((a) => Array.isArray(a.charts) && a.charts.includes(id)) : []);
}

/**
 * One update of the live data (a ws frame or a /api/realtime answer).
 * @param {Record<string, Record<string, [number, number | null]>> | undefined} charts
 * @param {import('../server/protocol.js').AlertView[]} alerts
 * @param {import('../server/protocol.js').Scores | null} scores
 */
function applyLive(charts, alerts, scores) {
  for (const [id, points] of Object.entries(charts ?? {})) panels.get(id)?.pushLive(points);
  applyAlerts(alerts);
  scorePanel.update(scores ?? null);
}

/** @param {import('../server/protocol.js').ServerMsg} msg */
function onServerMessage(msg) {
  switch (msg?.type) {
    case 'connected':
      if (Number.isFinite(msg.server_time)) clockOffset = msg.server_time - Date.now();
      {
        // The server starts every client on "main"; follow this page's dashboard only.
        const subscribed = Array.isArray(msg.subscribed?.dashboards) ? msg.subscribed.dashboards : [];
        if (!subscribed.includes(dashboardName)) feed?.send({ type: 'subscribe', dashboards: [dashboardName] });
        const others = subscribed.filter((d) => d !== dashboardName);
        if (others.length) feed?.send({ type: 'unsubscribe', dashboards: others });
      }
      showBanner(null);
      // After a drop the live buffers have a hole; history fills it.
      if (everConnected) void backfillLive();
      everConnected = true;
      return;
    case 'frame':
      applyLive(msg.dashboards?.[dashboardName], msg.alerts, msg.scores);
      return;
    case 'subscribed':
    case 'pong':
      return;
    case 'error':
      console.warn('live feed error from server:', msg.reason);
      return;
    default:
      console.warn('live feed: unknown message type', /** @type {{ type?: unknown } | null} */ (msg)?.type);
  }
}

/** @type {LiveFeed | null} */
let feed = null;
/** Updates "Reconnecting in N s…" each second. */
let countdown = 0;

function startFeed() {
  if (!def) return;
  const refresh = def.refresh_interval;
  feed = new LiveFeed(api.wsUrl, {
    onMessage: onServerMessage,
    onState: (state, detail) => {
      clearInterval(countdown);
      if (state === 'live') setStatus('live', 'Live');
      else if (state === 'connecting') setStatus('connecting', 'Connecting…');
      else if (state === 'reconnecting') {
        const due = Date.now() + (detail.retryInMs ?? 0);
        const show = () => {
          const s = Math.ceil((due - Date.now()) / 1000);
          setStatus('reconnecting', s > 0 ? `Reconnecting in ${s} s…` : 'Reconnecting…');
        };
        show();
        countdown = window.setInterval(show, 1000);
      } else setStatus('offline', 'Offline');
    },
    pingIntervalMs: Math.min(30000, Math.max(2000, refresh * 3)),
  });
  feed.start();
  // Leaving the page closes the socket cleanly, so the server drops the client at once.
  window.addEventListener('pagehide', () => feed?.stop());
  // Back from the back/forward cache: open it again (the history fills the hole).
  window.addEventListener('pageshow', (ev) => {
    if (ev.persisted) feed?.start();
  });
}

/** Without real-time enabled: poll /api/realtime once per refresh interval. */
function startPolling() {
  if (!def) return;
  setStatus('polling', 'Polling');
  const interval = def.refresh_interval;
  const tick = async () => {
    try {
      const res = await api.get(`/api/realtime?dashboard=${encodeURIComponent(dashboardName)}`);
      applyLive(res.charts, res.alerts, res.scores);
      setStatus('polling', 'Polling');
    } catch (err) {
      setStatus('reconnecting', 'Retrying…');
      console.warn('realtime poll failed:', err instanceof Error ? err.message : err);
    }
    setTimeout(tick, interval);
  };
  void tick();
}

function startSlaPolling() {
  if (!def) return;
  const every = Math.max(1000, def.refresh_interval);
  const tick = async () => {
    // While the feed is down the server is too: wait for it instead of piling up failed requests.
    if (feed && feed.state !== 'live') {
      setTimeout(tick, every);
      return;
    }
    try {
      slaPanel.update(await api.get('/api/slas'));
    } catch (err) {
      slaPanel.unavailable(err instanceof ApiError && err.status ? `HTTP ${err.status}` : 'no connection');
    }
    setTimeout(tick, every);
  };
  void tick();
}

/** @param {'live' | number} next */
async function pickRange(next) {
  range = next;
  for (const b of rangeEl.querySelectorAll('button'))
    b.setAttribute('aria-pressed', String(b.dataset.range === String(next)));
  clearTimeout(rangeTimer);
  rangeAbort?.abort();
  rangeAbort = null;
  if (next === 'live') {
    chartsEl.classList.remove('loading');
    for (const p of panels.values()) p.showLive();
    return;
  }
  await loadRange(next);
}

/** @param {number} ms */
async function loadRange(ms) {
  if (!def) return;
  const abort = new AbortController();
  rangeAbort = abort;
  const to = now();
  const from = to - ms;
  chartsEl.classList.add('loading');
  try {
    const grouped = byChart(await fetchHistory(from, to, abort.signal));
    if (range !== ms) return;
    for (const [id, p] of panels) p.showHistory(grouped.get(id) ?? new Map(), from, to);
    if (banner.dataset.kind === 'history') showBanner(null);
  } catch (err) {
    if (abort.signal.aborted) return;
    showBanner(`History unavailable: ${err instanceof Error ? err.message : String(err)}`, 'history');
  } finally {
    if (rangeAbort === abort) chartsEl.classList.remove('loading');
  }
  // The window slides at the resolution of the data: a range of `ms` holds `data_points` points.
  if (range === ms)
    rangeTimer = window.setTimeout(() => void loadRange(ms), Math.max(def.refresh_interval, ms / def.data_points));
}

/** A last chart alone in its row of several columns takes the whole row instead of leaving a hole. */
function spanLonelyLast() {
  const cards = chartsEl.children;
  const last = /** @type {HTMLElement | undefined} */ (cards[cards.length - 1]);
  const prev = /** @type {HTMLElement | undefined} */ (cards[cards.length - 2]);
  if (!last || !prev) return;
  last.classList.remove('span-row');
  if (last.offsetTop > prev.offsetTop && prev.offsetLeft > last.offsetLeft) last.classList.add('span-row');
}

async function start() {
  def = await loadDashboard();
  if (!def) return;
  showBanner(null);
  document.title = def.title;
  /** @type {HTMLElement} */ (document.getElementById('title')).textContent = def.title;
  theme.setDefault(def.theme);
  for (const chart of def.charts) {
    const p = new ChartPanel(chart, { dataPoints: def.data_points, refreshMs: def.refresh_interval });
    panels.set(chart.id, p);
    chartsEl.append(p.card);
  }
  for (const p of panels.values()) p.mount();
  new ResizeObserver(spanLonelyLast).observe(chartsEl);
  rangeEl.addEventListener('click', (ev) => {
    const b = /** @type {HTMLElement} */ (ev.target).closest('button[data-range]');
    if (!b) return;
    const r = b.getAttribute('data-range');
    void pickRange(r === 'live' ? 'live' : Number(r));
  });
  startSlaPolling();
  void backfillLive();
  if (def.real_time_enabled === false) startPolling();
  else startFeed();
}

// A small read-only view for tests and debugging.
Object.defineProperty(window, '__dashboard', {
  value: Object.freeze({
    /** @param {string} chartId @param {string} [label] */
    pointCount: (chartId, label) => panels.get(chartId)?.pointCount(label) ?? 0,
    /** @param {string} chartId */
    plottedCount: (chartId) => panels.get(chartId)?.plottedCount() ?? 0,
    /** @param {string} chartId @param {string} label */
    lastPoint: (chartId, label) => panels.get(chartId)?.shown().get(label)?.last() ?? null,
    /** @param {string} chartId @param {string} label @returns {[number, number] | null} first and last timestamp */
    span: (chartId, label) => {
      const ts = panels.get(chartId)?.shown().get(label)?.ts ?? [];
      const [first, last] = [ts[0], ts.at(-1)];
      return first !== undefined && last !== undefined ? [first, last] : null;
    },
    status: () => statusEl.dataset.state,
    range: () => range,
    theme: () => theme.current,
    chartIds: () => [...panels.keys()],
    highlighted: () => [...panels].filter(([, p]) => p.card.classList.contains('alerting')).map(([id]) => id),
  }),
  enumerable: false,
});

void start();
