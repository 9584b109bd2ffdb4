/**
 * The command line itself, in-process: help, usage errors and exit codes (0 ok, 1 failure,
 * 2 usage), and check-config over real config directories.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CliIo } from '../../src/cli/command.js';
import { COMMANDS, runCli } from '../../src/cli/run-cli.js';
import { run } from './cli-fixture.js';

describe('runCli', () => {
  it('prints the command list for --help, -h and help (stdout, exit 0), and each command its own help', async () => {
    for (const flag of ['--help', '-h', 'help']) {
      const r = await run(flag);
      expect(r.code).toBe(0);
      expect(r.err).toBe('');
      for (const c of COMMANDS) expect(r.out).toContain(`  ${c.name}`);
    }
    for (const c of COMMANDS) {
      for (const argv of [
        [c.name, '--help'],
        [c.name, '-h'],
        ['help', c.name],
        [c.name, 'some-dir', '--help'],
      ]) {
        const r = await run(...argv);
        expect([r.code, r.err], argv.join(' ')).toEqual([0, '']);
        expect(r.out).toMatch(new RegExp(`^Usage: erlmcp-monitor ${c.name} `));
      }
    }
  });

  it('prints the version of the package', async () => {
    const pkg = JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    expect(await run('--version')).toEqual({ code: 0, out: `${pkg.version}\n`, err: '' });
  });

  it('exits 2 with the usage on stderr for no command, an unknown command, an unknown flag, a missing or extra argument', async () => {
    const cases: [string[], string][] = [
      [[], 'erlmcp-monitor: no command given\n\nUsage: erlmcp-monitor <command>'],
      [['inspekt', '/x'], 'erlmcp-monitor: unknown command "inspekt"\n\nUsage: erlmcp-monitor <command>'],
      [['--bogus'], 'erlmcp-monitor: unknown option "--bogus" before the command'],
      [
        ['inspect', '/x', '--bogus'],
        "erlmcp-monitor inspect: Unknown option '--bogus'\n\nUsage: erlmcp-monitor inspect <dataDir>",
      ],
      [['inspect'], 'erlmcp-monitor inspect: missing <dataDir>\n\nUsage: erlmcp-monitor inspect <dataDir>'],
      [['query', '/x'], 'erlmcp-monitor query: missing <series>'],
      [['inspect', '/x', '/y'], 'erlmcp-monitor inspect: unexpected argument "/y" (inspect takes <dataDir>)'],
      [['query', '/x', 's', '--format', 'xml'], 'erlmcp-monitor query: --format must be csv or json, got "xml"'],
      [['query', '/x', 's', '--points', '0'], 'erlmcp-monitor query: --points must be an integer >= 1, got "0"'],
      [
        ['query', '/x', 's', '--from', 'now', '--to', '-1h'],
        'erlmcp-monitor query: --from (2026-12-06T00:00:00.000Z) is after --to (2026-12-05T23:00:00.000Z)',
      ],
      [
        ['serve', '/x', '--port', '70000'],
        'erlmcp-monitor serve: --port must be an integer from 0 to 65535, got "70000"',
      ],
      [['inspect', '/x', '--json=yes'], "erlmcp-monitor inspect: Option '--json' does not take an argument"],
    ];
    for (const [argv, start] of cases) {
      const r = await run(...argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.out).toBe('');
      expect(r.err.startsWith(start), `${argv.join(' ')}\n${r.err}`).toBe(true);
    }
  });

  it('takes a relative time after a flag as its value, not as a flag', async () => {
    const r = await run('query', '/no/such/dir', 's', '--from', '-1h', '--to', 'now');
    expect(r.code).toBe(1); // past parsing: the missing directory is the failure
    expect(r.err).toContain('/no/such/dir does not exist');
  });
});

describe('check-config', () => {
  let work: string;
  beforeAll(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'emon-check-config-'));
  });
  afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

  it("accepts the package's own configs (exit 0)", async () => {
    const configs = path.resolve('configs');
    const r = await run('check-config', configs);
    expect(r).toEqual({
      code: 0,
      out: `${configs}: ok (checked monitoring.json, performance_monitor.json, alerting.json, dashboard.json)\n`,
      err: '',
    });
  });

  it('reports every problem with its file, key and what is allowed (exit 1), as text and JSON', async () => {
    const dir = path.join(work, 'bad');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'dashboard.json'), JSON.stringify({ theme: 'blue', port: 'x' }));
    fs.writeFileSync(path.join(dir, 'monitoring.json'), '{ "aggregation_interval": 10,\n  oops }');
    const r = await run('check-config', dir);
    expect(r.code).toBe(1);
    expect(r.out).toBe('');
    const lines = r.err.trim().split('\n');
    expect(lines).toContain(
      `${path.join(dir, 'dashboard.json')}: theme: invalid value "blue" (allowed: "dark", "light")`,
    );
    expect(
      lines.some((l) => l.startsWith(`${path.join(dir, 'dashboard.json')}: port: `) && l.includes('0 to 65535')),
    ).toBe(true);
    expect(lines.some((l) => l.startsWith(`${path.join(dir, 'monitoring.json')}: `) && l.includes('line 2'))).toBe(
      true,
    );
    expect(lines.at(-1)).toBe(`3 problems in ${dir}`);

    const json = await run('check-config', dir, '--json');
    expect(json.code).toBe(1);
    const parsed = JSON.parse(json.out) as {
      ok: boolean;
      files: string[];
      problems: { source: string; key: string }[];
    };
    expect(parsed.ok).toBe(false);
    expect(parsed.files).toEqual(['monitoring.json', 'dashboard.json']);
    expect(parsed.problems.map((p) => p.key)).toEqual(expect.arrayContaining(['theme', 'port']));
  });

  it('applies the ERLMCP_* variables only with --env', async () => {
    const dir = path.join(work, 'env');
    fs.mkdirSync(dir);
    let err = '';
    const io: CliIo = {
      out: () => undefined,
      err: (t) => (err += t),
      now: Date.now,
      signal: new AbortController().signal,
      env: { ERLMCP_DASHBOARD_PORT: 'eighty' },
    };
    expect(await runCli(['check-config', dir], io)).toBe(0);
    expect(await runCli(['check-config', dir, '--env'], io)).toBe(1);
    expect(err).toContain('ERLMCP_DASHBOARD_PORT (dashboard.port)');
  });

  it('refuses a missing directory and a file, exit 1', async () => {
    const missing = path.join(work, 'nope');
    expect(await run('check-config', missing)).toEqual({
      code: 1,
      out: '',
      err: `erlmcp-monitor check-config: ${missing} does not exist: give the directory holding the config files (monitoring.json, performance_monitor.json, alerting.json, dashboard.json)\n`,
    });
    const file = path.join(work, 'file.json');
    fs.writeFileSync(file, '{}');
    expect((await run('check-config', file)).err).toContain(`${file} is not a directory`);
  });
});
