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
  formatTick(v: number, unit: string): string;
  displayUnit(unit: string): string;
}
const mod = (await import(pathToFileURL(path.resolve('src/dashboard-page/dom.js')).href)) as Module;

describe('page number format', () => {
  it('keeps three significant digits, with k/M suffixes and a dash for no value', () => {
    expect([1234, 12_345, 0.01234, 42.25, 0, null, Number.NaN].map(mod.formatNumber)).toEqual([
      '1234',
      '12.3k',
      '0.0123',
      '42.3',
      '0',
      '–',
      '–',
    ]);
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

  it('spells a unit one way: req/sec and rps as req/s', () => {
    expect(mod.formatValue(219, 'req/sec')).toBe('219 req/s');
    expect(mod.formatValue(10_000, 'rps')).toBe('10k req/s');
    expect(mod.displayUnit('req/sec')).toBe('req/s');
    expect(mod.displayUnit('ratio')).toBe('%');
  });

  it('shows bytes with binary prefixes, not as a share of the machine', () => {
    expect(mod.formatValue(123_456_789, 'bytes')).toBe('118 MiB');
    expect(mod.formatValue(1536, 'bytes')).toBe('1.5 KiB');
    expect(mod.formatValue(512, 'bytes')).toBe('512 B');
    expect(mod.formatValue(3 * 2 ** 30, 'bytes')).toBe('3 GiB');
    expect(mod.formatValue(null, 'bytes')).toBe('–');
    expect(mod.formatTick(64 * 2 ** 20, 'bytes')).toBe('64 MiB');
  });
});
