/**
 * The small part of Prometheus's annotation templates that rules need: `{{ $value }}`,
 * `{{ $threshold }}` and `{{ $labels.<name> }}` (whitespace inside the braces optional). Anything
 * else is left as written. Values are inserted as plain text; nothing is evaluated.
 */

const PLACEHOLDER = /\{\{\s*\$(value|threshold|labels\.([a-zA-Z_][a-zA-Z0-9_]*))\s*\}\}/g;

export interface TemplateData {
  value: number;
  threshold: number;
  labels: Readonly<Record<string, string>>;
}

/** Replaces the placeholders in `template` (a missing label becomes the empty string). */
export function renderTemplate(template: string, data: TemplateData): string {
  return template.replace(PLACEHOLDER, (_all, what: string, label: string | undefined) => {
    if (label !== undefined) return Object.hasOwn(data.labels, label) ? data.labels[label]! : '';
    return formatNumber(what === 'value' ? data.value : data.threshold);
  });
}

/** A number for people: integers as they are, others to 4 significant digits. */
export function formatNumber(n: number): string {
  return Number.isInteger(n) ? String(n) : String(Number(n.toPrecision(4)));
}
