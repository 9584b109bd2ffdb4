/**
 * `erlmcp-monitor check-config <configDir>`: loads monitoring.json, performance_monitor.json,
 * alerting.json and dashboard.json with the library's own loader (`loadConfig`), so it accepts
 * and refuses exactly what the application would, and prints every problem (file, key, what is
 * allowed), one per line. Secrets never appear (the loader keeps them out of its messages).
 */
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, type ConfigProblem, formatProblem } from '../config/config-error.js';
import { loadConfig } from '../config/load-config.js';
import { ErrorCode, MonitorError } from '../errors.js';
import { CONFIG_SECTIONS, type ConfigSection } from '../config/schema.js';
import type { Command, Flags, CliIo } from './command.js';

export const checkConfigCommand: Command = {
  name: 'check-config',
  summary: 'validate the four config files; every problem, exit 0 or 1',
  positionals: ['configDir'],
  options: {
    json: { type: 'boolean' },
    env: { type: 'boolean' },
  },
  help: `Usage: erlmcp-monitor check-config <configDir> [--env] [--json]

Loads monitoring.json, performance_monitor.json, alerting.json and dashboard.json from
<configDir> with the library's config loader and reports every problem: the file, the key
(e.g. slas[1].target), what was wrong and what is allowed. A missing file means that section's
defaults. Exit 0 when the configuration is valid, 1 when it is not.

Options:
  --env       also apply the ERLMCP_* environment variables, as the application does
  --json      { ok, configDir, files, problems: [{ source, key, message }] }
  -h, --help  this help`,

  async run([configDir], flags: Flags, io: CliIo): Promise<number> {
    const dir = path.resolve(configDir!);
    const stat = fs.statSync(dir, { throwIfNoEntry: false });
    if (!stat?.isDirectory()) {
      throw new MonitorError(
        ErrorCode.InvalidConfig,
        `${dir} ${stat === undefined ? 'does not exist' : 'is not a directory'}: give the directory holding the config files (monitoring.json, performance_monitor.json, alerting.json, dashboard.json)`,
      );
    }
    const files = (Object.keys(CONFIG_SECTIONS) as ConfigSection[]).map((s) => CONFIG_SECTIONS[s].file);
    const present = files.filter((f) => fs.existsSync(path.join(dir, f)));
    let problems: readonly ConfigProblem[] = [];
    try {
      loadConfig({ configDir: dir, env: flags.env === true ? io.env : {} });
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems = err.problems;
    }
    if (flags.json === true) {
      const shown = problems.map(({ source, key, message }) => ({ source, key, message }));
      io.out(
        `${JSON.stringify({ ok: problems.length === 0, configDir: dir, files: present, problems: shown }, null, 2)}\n`,
      );
    } else if (problems.length === 0) {
      const missing = files.filter((f) => !present.includes(f));
      io.out(
        `${dir}: ok (${present.length === 0 ? 'no config files: every section takes its defaults' : `checked ${present.join(', ')}`}${present.length > 0 && missing.length > 0 ? `; defaults for ${missing.join(', ')}` : ''})\n`,
      );
    } else {
      io.err(
        `${problems.map(formatProblem).join('\n')}\n${problems.length} problem${problems.length === 1 ? '' : 's'} in ${dir}\n`,
      );
    }
    return problems.length === 0 ? 0 : 1;
  },
};
