/**
 * Monitoring must never leak an error into its host: any unhandled rejection or uncaught
 * exception during a test fails that test.
 */
import { afterEach, expect } from 'vitest';

const escaped: unknown[] = [];
process.on('unhandledRejection', (reason) => escaped.push(reason));
process.on('uncaughtException', (err) => escaped.push(err));

afterEach(() => {
  const seen = escaped.splice(0);
  expect(seen, 'unhandled rejections / uncaught exceptions').toEqual([]);
});
