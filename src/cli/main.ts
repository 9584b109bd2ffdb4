#!/usr/bin/env node
/**
 * The `erlmcp-monitor` executable (package.json `bin`): runs `runCli` on the process's arguments
 * and exits with its code. The first SIGINT/SIGTERM stops a running `serve` in order (server, then
 * store); a second one exits at once (130), should that shutdown hang.
 */
import { runCli } from './run-cli.js';

const stop = new AbortController();
const onSignal = (): void => {
  if (stop.signal.aborted) process.exit(130);
  stop.abort();
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);
// `erlmcp-monitor query ... | head`: the reader has what it wanted; not an error worth a stack trace.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

const code = await runCli(process.argv.slice(2), {
  out: (text) => void process.stdout.write(text),
  err: (text) => void process.stderr.write(text),
  now: Date.now,
  signal: stop.signal,
  env: process.env,
});
process.exitCode = code;
process.off('SIGINT', onSignal);
process.off('SIGTERM', onSignal);
