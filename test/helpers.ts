import { expect, vi } from 'vitest';
import { type ErrorCode, MonitorError } from '../src/errors.js';
import type { Logger } from '../src/logger.js';

export interface LogRecord {
  level: 'debug' | 'info' | 'warn' | 'error';
  msg: string;
  fields: Record<string, unknown>;
}

/** A logger that keeps records in memory instead of writing them. */
export function memoryLogger(): Logger & { records: LogRecord[] } {
  const records: LogRecord[] = [];
  const at = (level: LogRecord['level']) => (fields: object, msg: string) =>
    records.push({ level, msg, fields: fields as Record<string, unknown> });
  return { records, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** Waits until `check` stops throwing (polls; fails after `timeout` ms). Not a timing assumption. */
export function until(check: () => void | Promise<void>, timeout = 5000): Promise<void> {
  return vi.waitFor(check, { timeout, interval: 2 });
}

/**
 * What a test leaked, after giving short-lived resources of the runner (a pipe's write timeout,
 * vitest's own timers) up to `boundMs` to go away. Checks between 10 ms sleeps, never while a
 * timer of its own is pending, so it cannot see itself; a real leak (an uncleared backoff timer,
 * an open socket) is still there at the end and is returned.
 */
export async function leakedAfterSettling(before: string[], boundMs = 2000): Promise<string[]> {
  const deadline = performance.now() + boundMs;
  let leaked = leakedResources(before);
  while (leaked.length > 0 && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 10));
    leaked = leakedResources(before);
  }
  return leaked;
}

/** Lets pending setImmediate callbacks (nact's afterStop) run. */
export function flushImmediates(): Promise<void> {
  return new Promise((resolve) => setImmediate(() => setImmediate(resolve)));
}

/** The active-resource multiset as a sorted list, for before/after comparisons. */
export function activeResources(): string[] {
  return process
    .getActiveResourcesInfo()
    .filter((r) => r !== 'Immediate')
    .sort();
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

export { mulberry32 } from '../bench/prng.js';

/** Asserts that `fn` throws a MonitorError with `code` and a message equal to (or matching) `message`. */
export function expectMonitorError(fn: () => unknown, code: ErrorCode, message: string | RegExp): void {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  expect(thrown).toBeInstanceOf(MonitorError);
  expect((thrown as MonitorError).code).toBe(code);
  if (typeof message === 'string') expect((thrown as MonitorError).message).toBe(message);
  else expect((thrown as MonitorError).message).toMatch(message);
}
