/**
 * The page's number formatting (src/dashboard-page/dom.js; its formatters touch no DOM, so they
 * run here as they do in the page).
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

interface Module {
  formatNumber(v: number | null | undefined): string;
  formatValue(v: number | null | undefined, unit: string): string;
}
const mod = (await import(pathToFileURL(path.resolve('src/dashboard-page/dom.js')).href)) as Module;

describe('page number format', () => {
  it('keeps three significant digits, with k/M suffixes and a dash for no value', () => {
    expect([1234, 12_345, 0.01234, 42.25, 0, null, Number.NaN].map(mod.formatNumber)).toEqual(['1234', '12.3k', '0.0123', '42.3', '0', '–', '–']);
  });

  it('does not round an SLO target such as 99.999 up to 100', () => {
    expect(mod.formatNumber(99.999)).toBe('99.999');
    expect(mod.formatNumber(99.95)).toBe('99.95');
    expect(mod.formatNumber(99.9)).toBe('99.9');
  });

  it('shows percent units as %, ratios as percentages, and other units after a space', () => {
    expect(mod.formatValue(99.999, 'percentage')).toBe('99.999%');
    expect(mod.formatValue(91.5, 'percent')).toBe('91.5%');
    expect(mod.formatValue(0.0842, 'ratio')).toBe('8.42%');
    expect(mod.formatValue(668, 'ms')).toBe('668 ms');
  });
});
