/**
 * History as CSV (RFC 4180): one row per point, columns
 * `chart,series,metric,labels,stat,timestamp_ms,time,value` (`labels` as a JSON object, `time` as
 * ISO 8601, `value` empty for no data), CRLF line ends.
 *
 * A field with a comma, quote, CR or LF is quoted, quotes doubled. A text field starting with
 * `=`, `+`, `-`, `@`, tab or CR gets a leading `'`, so a spreadsheet opening the file does not run
 * a label value someone chose as a formula (OWASP "CSV injection"); numbers are never touched.
 */
import type { HistoryResponse } from './protocol.js';

export const CSV_HEADER = ['chart', 'series', 'metric', 'labels', 'stat', 'timestamp_ms', 'time', 'value'] as const;

/** One CSV field from untrusted text: formula-neutralized, then quoted when needed. */
export function csvText(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

/**
 * Renders a history answer as CSV.
 * @returns the whole file, header first
 */
export function historyToCsv(history: HistoryResponse): string {
  const lines = [CSV_HEADER.join(',')];
  for (const s of history.series) {
    const prefix = [
      csvText(s.chart ?? ''),
      csvText(s.label),
      csvText(s.metric),
      csvText(JSON.stringify(s.labels)),
      csvText(s.stat),
    ].join(',');
    for (const [t, v] of s.points) {
      lines.push(`${prefix},${t},${new Date(t).toISOString()},${v === null ? '' : String(v)}`);
    }
  }
  return `${lines.join('\r\n')}\r\n`;
}
