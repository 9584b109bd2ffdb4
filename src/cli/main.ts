#!/usr/bin/env node
/**
 * The `erlmcp-monitor` executable (package.json `bin`): runs `runCli` on the process's arguments
 * and exits with its code. SIGINT/SIGTERM stop a running `serve` in order (server, then store).
 */
import { runCli } from './run-cli.js';

const stop = new AbortController();
process.once('SIGINT', () => stop.abort());
process.once('SIGTERM', () => stop.abort());

const code = await runCli(process.argv.slice(2), {
  out: (text) => void process.stdout.write(text),
  err: (text) => void process.stderr.write(text),
  now: Date.now,
  signal: stop.signal,
  env: process.env,
});
process.exitCode = code;
process.removeAllListeners('SIGINT');
process.removeAllListeners('SIGTERM');
