/**
 * `runCli`: the `erlmcp-monitor` command line. Parses with node:util `parseArgs` (strict: an
 * unknown flag is an error, not ignored), dispatches to a {@link Command}, and turns the outcome
 * into an exit code: 0 ok, 1 failure (the message on stderr, no stack trace for an expected
 * error), 2 usage error (the message and the usage on stderr). `--help` anywhere prints help on
 * stdout and exits 0.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { MonitorError, toError } from '../errors.js';
import { packageRoot } from '../server/static-files.js';
import { checkConfigCommand } from './check-config-command.js';
import type { CliIo, Command, Flags } from './command.js';
import { inspectCommand } from './inspect-command.js';
import { queryCommand } from './query-command.js';
import { serveCommand } from './serve-command.js';
import { UsageError } from './usage-error.js';

export const COMMANDS: readonly Command[] = [inspectCommand, queryCommand, serveCommand, checkConfigCommand];

const HELP = `Usage: erlmcp-monitor <command> [options]

Reads an erlmcp-monitor metric store (the application's monitoring.data_dir) without writing
it, safe while the application runs, and checks config directories.

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(13)}${c.summary}`).join('\n')}

erlmcp-monitor <command> --help   a command's arguments and options
erlmcp-monitor --version          the package version

Exit codes: 0 ok, 1 failure (the reason on stderr), 2 usage error.`;

/**
 * Runs one command line.
 * @param argv the arguments after the program name
 * @returns the exit code
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined) return usageFailure(new UsageError('no command given'), io);
  if (first === '--help' || first === '-h' || first === 'help') {
    const topic = first === 'help' ? rest[0] : undefined;
    const command = COMMANDS.find((c) => c.name === topic);
    if (topic !== undefined && command === undefined)
      return usageFailure(new UsageError(`unknown command ${JSON.stringify(topic)}`), io);
    io.out(`${command?.help ?? HELP}\n`);
    return 0;
  }
  if (first === '--version' || first === '-v') {
    io.out(`${packageVersion()}\n`);
    return 0;
  }
  const command = COMMANDS.find((c) => c.name === first);
  if (command === undefined) {
    const hint = first.startsWith('-')
      ? `unknown option ${JSON.stringify(first)} before the command`
      : `unknown command ${JSON.stringify(first)}`;
    return usageFailure(new UsageError(hint), io);
  }
  let values: Flags;
  let positionals: string[];
  try {
    // parseArgs infers its values from a literal config; each command's options are built at run time.
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion
    ({ values, positionals } = parseArgs({
      args: joinNegativeValues(rest, command),
      options: { ...command.options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    }) as {
      values: Flags;
      positionals: string[];
    });
  } catch (err) {
    return usageFailure(new UsageError(parseArgsMessage(err), command.name), io);
  }
  if (values.help === true) {
    io.out(`${command.help}\n`);
    return 0;
  }
  try {
    if (positionals.length < command.positionals.length) {
      throw new UsageError(
        `missing ${command.positionals
          .slice(positionals.length)
          .map((p) => `<${p}>`)
          .join(' ')}`,
        command.name,
      );
    }
    if (positionals.length > command.positionals.length) {
      throw new UsageError(
        `unexpected argument ${JSON.stringify(positionals[command.positionals.length])} (${command.name} takes ${command.positionals.map((p) => `<${p}>`).join(' ')})`,
        command.name,
      );
    }
    return await command.run(positionals, values, io);
  } catch (err) {
    if (err instanceof UsageError) return usageFailure(err, io);
    if (err instanceof MonitorError) {
      io.err(`erlmcp-monitor ${command.name}: ${err.message}\n`);
      return 1;
    }
    const error = toError(err);
    io.err(`erlmcp-monitor ${command.name}: unexpected error: ${error.stack ?? error.message}\n`);
    return 1;
  }
}

/**
 * `--from -1h` as `--from=-1h`: parseArgs refuses a string option's value that starts with a dash
 * (it could be a forgotten value followed by a flag), but a relative time or a negative number is
 * what a person types there.
 */
function joinNegativeValues(args: readonly string[], command: Command): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const name = arg.startsWith('--') ? arg.slice(2) : undefined;
    const next = args[i + 1];
    if (
      name !== undefined &&
      command.options[name]?.type === 'string' &&
      next !== undefined &&
      /^-(\d|now)/.test(next)
    ) {
      out.push(`${arg}=${next}`);
      i++;
    } else out.push(arg);
  }
  return out;
}

function usageFailure(err: UsageError, io: CliIo): number {
  const command = COMMANDS.find((c) => c.name === err.command);
  const usage = command === undefined ? HELP : command.help.split('\n\n')[0]!;
  io.err(
    `erlmcp-monitor${command === undefined ? '' : ` ${command.name}`}: ${err.message}\n\n${usage}\n${command === undefined ? '' : `\nMore: erlmcp-monitor ${command.name} --help\n`}`,
  );
  return 2;
}

/** parseArgs' message without its "To specify a positional argument…" advice for dashes. */
function parseArgsMessage(err: unknown): string {
  const message = toError(err).message;
  return message.split('. To specify')[0]!.replace(/\.$/, '');
}

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(path.join(packageRoot(import.meta.url), 'package.json'), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}
