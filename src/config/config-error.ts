/**
 * The error `loadConfig` throws: every problem found, one per line, each naming where the bad
 * value came from (a file, an environment variable or the programmatic overrides), the key, what
 * was wrong and what is allowed. Secrets never appear in it.
 */
import { ErrorCode, MonitorError } from '../errors.js';

/** Where a bad value came from. */
export type ConfigOrigin = 'file' | 'env' | 'overrides' | 'defaults';

/** One problem found while loading the configuration. */
export interface ConfigProblem {
  readonly origin: ConfigOrigin;
  /** The file path, the environment variable name, `overrides`, or `<section> defaults`. */
  readonly source: string;
  /**
   * Dotted key (`escalation_policy.critical.interval`, `slas[1].target`): relative to the file for
   * `file` and `defaults`, from the config root for `env` and `overrides`; '' for the whole file.
   */
  readonly key: string;
  /** What was wrong and what is allowed. */
  readonly message: string;
}

/** The configuration is invalid; `problems` lists every problem, the message has one per line. */
export class ConfigError extends MonitorError {
  readonly problems: readonly ConfigProblem[];

  /** @param problems at least one problem */
  constructor(problems: readonly ConfigProblem[]) {
    super(ErrorCode.InvalidConfig, problems.map(formatProblem).join('\n'));
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/**
 * One line of a {@link ConfigError} message: `configs/dashboard.json: theme: invalid value …`,
 * `ERLMCP_DASHBOARD_PORT (dashboard.port): expected …`.
 * @param problem the problem to render
 */
export function formatProblem(problem: ConfigProblem): string {
  if (problem.origin === 'env') return `${problem.source} (${problem.key}): ${problem.message}`;
  return problem.key === ''
    ? `${problem.source}: ${problem.message}`
    : `${problem.source}: ${problem.key}: ${problem.message}`;
}
