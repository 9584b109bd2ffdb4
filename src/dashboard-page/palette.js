/** Series colours (Grafana's classic palette), picked in order per chart. */
export const PALETTE = ['#73bf69', '#5794f2', '#ff9830', '#b877d9', '#f2cc0c', '#8ab8ff', '#f2495c', '#56d2c9'];

/**
 * The colour of the `i`-th series.
 * @param {number} i
 */
export function seriesColor(i) {
  return /** @type {string} */ (PALETTE[i % PALETTE.length]);
}

/**
 * The colour with an alpha channel, for fills.
 * @param {string} hex `#rrggbb`
 * @param {number} alpha 0-1
 */
export function withAlpha(hex, alpha) {
  const a = Math.round(alpha * 255)
    .toString(16)
    .padStart(2, '0');
  return `${hex}${a}`;
}
