/**
 * DOM and number helpers for the dashboard page. Text only ever enters the document through
 * `textContent` / text nodes, so alert messages and label values (untrusted) render as text.
 */

/**
 * Creates an element. `text` becomes a text node, never markup.
 * @param {string} tag
 * @param {{ className?: string, text?: string, attrs?: Record<string, string> }} [opts]
 * @param {Array<Node>} [children]
 * @returns {HTMLElement}
 */
export function el(tag, opts = {}, children = []) {
  const node = document.createElement(tag);
  if (opts.className) node.className = opts.className;
  if (opts.text !== undefined) node.textContent = opts.text;
  if (opts.attrs) for (const [k, v] of Object.entries(opts.attrs)) node.setAttribute(k, v);
  for (const child of children) node.append(child);
  return node;
}

/**
 * The element `selector` finds in `root`: the page's markup (index.html) has each one the page asks for.
 * @param {ParentNode} root
 * @param {string} selector
 * @returns {HTMLElement}
 * @throws {Error} naming the selector when the markup lacks it
 */
export function required(root, selector) {
  const found = root.querySelector(selector);
  if (!(found instanceof HTMLElement)) throw new Error(`dashboard page: no ${selector} element in the markup`);
  return found;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/**
 * Creates an SVG element with attributes.
 * @param {string} tag
 * @param {Record<string, string | number>} [attrs]
 * @returns {SVGElement}
 */
export function svg(tag, attrs = {}) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

/**
 * A number with a few significant digits and k/M suffixes: 1234 → "1.23k", 0.01234 → "0.0123".
 * @param {number | null | undefined} v
 * @returns {string} `"–"` for no value
 */
export function formatNumber(v) {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  const a = Math.abs(v);
  if (a >= 1e9) return `${trim(v / 1e9)}G`;
  if (a >= 1e6) return `${trim(v / 1e6)}M`;
  if (a >= 1e4) return `${trim(v / 1e3)}k`;
  if (a >= 100) return String(Math.round(v));
  if (a === 0) return '0';
  // SLO targets such as 99.999 must not round to "100".
  const short = trim(v);
  return Math.abs(Number(short)) >= 100 ? String(Number(v.toPrecision(6))) : short;
}

/** @param {number} v */
function trim(v) {
  return String(Number(v.toPrecision(3)));
}

/** Spellings of one unit, shown one way (configs say "req/sec", the charts "req/s"). */
const UNIT_ALIASES = new Map(
  Object.entries({
    percent: '%',
    percentage: '%',
    'req/sec': 'req/s',
    rps: 'req/s',
    requests_per_second: 'req/s',
    milliseconds: 'ms',
    byte: 'bytes',
  }),
);

/** @param {string} unit */
function canonicalUnit(unit) {
  return UNIT_ALIASES.get(unit) ?? unit;
}

const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/**
 * A byte count with a binary prefix: 123456789 → "118 MiB", 1536 → "1.5 KiB".
 * @param {number} v
 */
function formatBytes(v) {
  let i = 0;
  let n = v;
  while (Math.abs(n) >= 1024 && i < BYTE_UNITS.length - 1) {
    n /= 1024;
    i++;
  }
  return `${formatNumber(n)} ${BYTE_UNITS[i]}`;
}

/**
 * A value with its unit: "12.3 ms", "45%", "118 MiB". A `ratio` (0-1) shows as a percentage.
 * @param {number | null | undefined} v
 * @param {string} unit
 */
export function formatValue(v, unit) {
  unit = canonicalUnit(unit);
  if (unit === 'bytes' && typeof v === 'number' && Number.isFinite(v)) return formatBytes(v);
  const n = formatNumber(unit === 'ratio' && typeof v === 'number' ? v * 100 : v);
  if (n === '–' || !unit) return n;
  return unit === '%' || unit === 'ratio' ? `${n}%` : `${n} ${unit}`;
}

/**
 * An axis tick: the number alone, a ratio as a percentage, bytes with their prefix.
 * @param {number} v
 * @param {string} unit
 */
export function formatTick(v, unit) {
  unit = canonicalUnit(unit);
  if (unit === 'bytes') return formatBytes(v);
  return unit === 'ratio' ? `${formatNumber(v * 100)}%` : formatNumber(v);
}

/**
 * The unit as a chart header shows it (`ratio` → `%`, one spelling per unit).
 * @param {string} unit
 */
export function displayUnit(unit) {
  unit = canonicalUnit(unit);
  return unit === 'ratio' ? '%' : unit;
}

/**
 * "3m ago"-style age of a timestamp.
 * @param {number} ts milliseconds
 * @param {number} now milliseconds
 */
export function formatAge(ts, now) {
  const s = Math.max(0, Math.round((now - ts) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

/**
 * Reads a CSS custom property of the document root (theme colours for canvases).
 * @param {string} name e.g. `'--text-muted'`
 */
export function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}
