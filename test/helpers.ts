import { vi } from 'vitest';
import type { Logger } from '../src/logger.js';

export interface LogRecord {
  level: 'debug' | 'info' | 'warn' | 'error';
  msg: string;
  fields: Record<string, unknown>;
}

/** A logger that keeps records in memory instead of writing them. */
export function memoryLogger(): Logger & { records: LogRecord[] } {
  const records: LogRecord[] = [];
  const at = (level: LogRecord['level']) => (fields: object, msg: string) => records.push({ level, msg, fields: fields as Record<string, unknown> });
  return { records, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** Waits until `check` stops throwing (polls; fails after `timeout` ms). Not a timing assumption. */
export function until(check: () => void, timeout = 5000): Promise<void> {
  return vi.waitFor(check, { timeout, interval: 2 });
}

/** Lets pending setImmediate callbacks (nact's afterStop) run. */
export function flushImmediates(): Promise<void> {
  return new Promise((resolve) => setImmediate(() => setImmediate(resolve)));
}

/** The active-resource multiset as a sorted list, for before/after comparisons. */
export function activeResources(): string[] {
  return process.getActiveResourcesInfo().filter((r) => r !== 'Immediate').sort();
}

/** Resources present now that were not before (a multiset difference): what a test leaked. */
export function leakedResources(before: string[]): string[] {
  const remaining = [...before];
  const leaked: string[] = [];
  for (const r of activeResources()) {
    const i = remaining.indexOf(r);
    if (i >= 0) remaining.splice(i, 1);
    else leaked.push(r);
  }
  return leaked;
}
