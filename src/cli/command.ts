/**
 * `Command`: one subcommand of `erlmcp-monitor`: its flags (node:util `parseArgs` options), its
 * positional arguments, its help text, and what it runs. `run-cli.ts` parses and dispatches.
 */
import type { ParseArgsConfig } from 'node:util';

/** Where a command writes and what it reads from its surroundings (injected, so tests run it in-process). */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  /** Wall clock, ms. */
  now(): number;
  /** Aborted when the process is asked to stop (SIGINT, SIGTERM): `serve` then shuts down. */
  signal: AbortSignal;
  env: NodeJS.ProcessEnv;
}

export type Flags = Record<string, string | boolean | undefined>;

export interface Command {
  name: string;
  /** One line for the command list. */
  summary: string;
  /** The whole `--help` text. */
  help: string;
  options: NonNullable<ParseArgsConfig['options']>;
  /** Names of the positional arguments, all required. */
  positionals: readonly string[];
  /**
   * @returns the exit code (0 ok, 1 failure)
   * @throws {UsageError} exit 2; {@link MonitorError} exit 1 with its message
   */
  run(args: string[], flags: Flags, io: CliIo): Promise<number>;
}
