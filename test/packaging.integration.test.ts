/**
 * The package as a user gets it: `npm pack`, the tarball installed into an app of its own (outside
 * this repo, so nothing resolves from the repo's node_modules), imported by name, and the README's
 * "Using it" example typechecked as a strict consumer (module/moduleResolution nodenext,
 * `skipLibCheck: false`) and run. The example is read from README.md, so the README cannot rot.
 * Every subpath of package.json `exports` is imported at run time and typechecked the same way.
 *
 * No network: the app's lockfile is the repo's, cut down to the runtime dependencies (plus
 * @types/node for the consumer), so `npm ci --offline` takes every tarball from the npm cache that
 * the repo's own `npm ci` filled. `npm pack --ignore-scripts` packs the dist/ that `npm test` has
 * just built (its `prepare` would rebuild dist/ under the feet of the other test files).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MetricStore } from '../src/store/lmdb-store.js';
import { until } from './helpers.js';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const TSC = path.join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');
/** Marks the README's examples: the fence after each marker is typechecked; the one marked "and run" also runs. */
const EXAMPLE_MARKER =
  /<!-- example: typechecked (and run )?by test\/packaging\.integration\.test\.ts -->\n```ts\n([\s\S]*?)^```$/gm;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end (bounded by `timeoutMs`), never rejecting: the caller asserts on the result. */
function run(
  file: string,
  args: string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number },
): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      {
        cwd: options.cwd,
        env: options.env ?? cleanEnv(),
        timeout: options.timeoutMs ?? 120_000,
        killSignal: 'SIGKILL',
        maxBuffer: 16 * 1024 * 1024,
      },
      (err, stdout, stderr) =>
        resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : null, stdout, stderr }),
    );
  });
}

/** The environment without what `npm test` sets for its own package (it would leak into the app's npm). */
function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^npm_(package|lifecycle)_/.test(key) && key !== 'INIT_CWD') env[key] = value;
  }
  return { ...env, ...extra };
}

/** The README's marked examples, in order. */
function readmeExamples(): { run: boolean; code: string }[] {
  const readme = readFileSync(path.join(REPO, 'README.md'), 'utf8');
  return [...readme.matchAll(EXAMPLE_MARKER)].map((m) => ({ run: m[1] !== undefined, code: m[2]! }));
}

interface LockEntry {
  dev?: boolean;
  [key: string]: unknown;
}

/**
 * package.json and package-lock.json of an app that depends on the tarball: the repo's lock entries
 * of its runtime dependencies (what the tarball pulls in) plus @types/node for the consumer.
 */
function writeApp(appDir: string, tarball: string): void {
  const pkg = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')) as {
    version: string;
    dependencies: Record<string, string>;
    devDependencies: Record<string, string>;
    engines: Record<string, string>;
    bin: Record<string, string>;
  };
  const lock = JSON.parse(readFileSync(path.join(REPO, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, LockEntry>;
  };
  const spec = `file:${path.relative(appDir, tarball)}`;
  const manifest = {
    name: 'packaging-test-app',
    version: '1.0.0',
    private: true,
    type: 'module',
    dependencies: { 'erlmcp-monitor': spec },
    devDependencies: { '@types/node': pkg.devDependencies['@types/node']! },
  };
  const packages: Record<string, unknown> = {
    '': {
      name: manifest.name,
      version: manifest.version,
      dependencies: manifest.dependencies,
      devDependencies: manifest.devDependencies,
    },
    // npm ci links the package's bin from its lock entry, not from the tarball's package.json.
    'node_modules/erlmcp-monitor': {
      version: pkg.version,
      resolved: spec,
      license: 'MIT',
      dependencies: pkg.dependencies,
      engines: pkg.engines,
      bin: pkg.bin,
    },
  };
  for (const [key, entry] of Object.entries(lock.packages)) {
    if (key.startsWith('node_modules/') && entry.dev !== true) packages[key] = entry;
  }
  for (const key of ['node_modules/@types/node', 'node_modules/undici-types'])
    packages[key] = { ...lock.packages[key], dev: true };
  writeFileSync(path.join(appDir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  writeFileSync(
    path.join(appDir, 'package-lock.json'),
    `${JSON.stringify({ name: manifest.name, version: manifest.version, lockfileVersion: 3, requires: true, packages }, null, 2)}\n`,
  );
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** The package's subpath exports (`erlmcp-monitor/otp`, ...), from package.json. */
function subpaths(): { specifier: string; built: string }[] {
  const { exports } = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')) as {
    exports: Record<string, { import: string }>;
  };
  return Object.entries(exports)
    .filter(([subpath]) => subpath !== '.')
    .map(([subpath, target]) => ({
      specifier: `erlmcp-monitor/${subpath.slice(2)}`,
      built: path.join(REPO, target.import),
    }));
}

let work: string;
let appDir: string;
let packedFiles: string[];

beforeAll(async () => {
  if (!existsSync(path.join(REPO, 'dist', 'src', 'index.js')))
    throw new Error('dist/ is not built: run `npm run build` (npm test builds it first)');
  work = mkdtempSync(path.join(os.tmpdir(), 'erlmcp-packaging-'));
  const pack = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: REPO });
  expect(pack.code, `npm pack failed:\n${pack.stderr}`).toBe(0);
  const [packed] = JSON.parse(pack.stdout) as { filename: string; files: { path: string }[] }[];
  packedFiles = packed!.files.map((f) => f.path);
  appDir = path.join(work, 'app');
  mkdirSync(appDir);
  writeApp(appDir, path.join(work, packed!.filename));
  const install = await run('npm', ['ci', '--offline', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: appDir });
  expect(
    install.code,
    `npm ci --offline in the test app failed (its tarballs come from the npm cache the repo's npm ci filled):\n${install.stderr}`,
  ).toBe(0);
}, 240_000);

afterAll(() => {
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

describe('the packed package', () => {
  it('ships the build, the page, the configs and the docs, and no tests, benches, demo or source maps', () => {
    for (const file of [
      'package.json',
      'README.md',
      'LICENSE',
      'CHANGELOG.md',
      'dist/src/index.js',
      'dist/src/index.d.ts',
      'dist/src/server/protocol.d.ts',
      'dist/src/entries/otp.js',
      'dist/src/entries/store.d.ts',
      'dist/actors/collector.js',
      'dist/src/cli/main.js',
      'src/dashboard-page/index.html',
      'src/dashboard-page/app.js',
      'configs/dashboard.json',
      'docs/grafana/erlmcp-monitor.json',
      'docs/CLI.md',
    ]) {
      expect(packedFiles, file).toContain(file);
    }
    const unwanted = packedFiles.filter((f) =>
      /^(test|bench|dist\/test|dist\/bench|dist\/src\/demo)\/|\.map$|^src\/(?!dashboard-page\/)|^actors\//.test(f),
    );
    expect(unwanted).toEqual([]);
  });

  it('installs from the tarball, imports by its name (a path into dist/ is refused), and starts and stops', async () => {
    const dataDir = path.join(work, 'import-data');
    const script = `
      const m = await import('erlmcp-monitor');
      const mon = await m.startMonitoring({ dataDir: ${JSON.stringify(dataDir)}, env: { ERLMCP_DASHBOARD_PORT: '0' }, logger: { debug() {}, info() {}, warn() {}, error() {} } });
      mon.metrics.counter('orders.placed', { help: 'Orders placed' }).inc(2);
      const { url } = await mon.dashboardAddress();
      const page = await fetch(url + '/');
      const metrics = await (await fetch(url + '/metrics')).text();
      await mon.stop();
      let deep = 'imported';
      try { await import('erlmcp-monitor/dist/src/index.js'); } catch (err) { deep = err.code; }
      console.log(JSON.stringify({ names: Object.keys(m).sort(), page: page.status, counted: /^orders_placed_total 2$/m.test(metrics), deep }));
    `;
    const result = await run(process.execPath, ['--input-type=module', '-e', script], {
      cwd: appDir,
      timeoutMs: 60_000,
    });
    expect(result.code, result.stderr).toBe(0);
    const built = (await import(path.join(REPO, 'dist', 'src', 'index.js'))) as Record<string, unknown>;
    expect(JSON.parse(result.stdout)).toEqual({
      names: Object.keys(built).sort(),
      page: 200,
      counted: true,
      deep: 'ERR_PACKAGE_PATH_NOT_EXPORTED',
    });
  }, 90_000);

  it('imports every subpath export by name, each with the names of the built entry', async () => {
    const entries = subpaths();
    expect(entries.map((e) => e.specifier)).toContain('erlmcp-monitor/store');
    const script = `
      const names = {};
      for (const specifier of ${JSON.stringify(entries.map((e) => e.specifier))}) names[specifier] = Object.keys(await import(specifier)).sort();
      console.log(JSON.stringify(names));
    `;
    const result = await run(process.execPath, ['--input-type=module', '-e', script], {
      cwd: appDir,
      timeoutMs: 60_000,
    });
    expect(result.code, result.stderr).toBe(0);
    const expected: Record<string, string[]> = {};
    for (const { specifier, built } of entries)
      expected[specifier] = Object.keys((await import(built)) as Record<string, unknown>).sort();
    expect(JSON.parse(result.stdout)).toEqual(expected);
  }, 90_000);

  it('runs the erlmcp-monitor bin through npx from the install: help, inspect, query, check-config', async () => {
    const dataDir = path.join(work, 'cli-data');
    const store = MetricStore.open({ dataDir });
    const id = store.defineSeries('orders.placed{channel="web"}', {
      name: 'orders.placed',
      type: 'counter',
      labels: { channel: 'web' },
    });
    await store.flush({
      current: [[id, { v: 3 }]],
      points: [
        { id, ts: 1_000, value: 1 },
        { id, ts: 2_000, value: 3 },
      ],
    });
    await store.close();
    const npx = (...args: string[]) =>
      run('npx', ['--no', '--', 'erlmcp-monitor', ...args], { cwd: appDir, timeoutMs: 60_000 });

    const help = await npx('--help');
    expect(help.code, help.stderr).toBe(0);
    expect(help.stdout).toMatch(/^Usage: erlmcp-monitor <command>/);
    const inspect = await npx('inspect', dataDir, '--json');
    expect(inspect.code, inspect.stderr).toBe(0);
    expect(JSON.parse(inspect.stdout)).toMatchObject({ dataDir, series: 1, points: 2, writer: { alive: false } });
    const query = await npx('query', dataDir, 'orders.placed{channel=web}', '--from', '0', '--to', '5000');
    expect(query.code, query.stderr).toBe(0);
    expect(query.stdout).toBe('ts,time,value\n1000,1970-01-01T00:00:01.000Z,1\n2000,1970-01-01T00:00:02.000Z,3\n');
    const configs = path.join(appDir, 'node_modules', 'erlmcp-monitor', 'configs');
    const check = await npx('check-config', configs);
    expect([check.code, check.stdout], check.stderr).toEqual([
      0,
      `${configs}: ok (checked monitoring.json, performance_monitor.json, alerting.json, dashboard.json)\n`,
    ]);
    const usage = await npx('inspect');
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('erlmcp-monitor inspect: missing <dataDir>');
  }, 120_000);

  it("typechecks the README's examples and every subpath's declarations as a strict consumer (nodenext, skipLibCheck false), and runs the first example", async () => {
    const examples = readmeExamples();
    expect(examples.filter((e) => e.run)).toHaveLength(1);
    expect(examples.length).toBeGreaterThanOrEqual(2);
    const files = examples.map((e, i) => (e.run ? 'example.ts' : `example-${i}.ts`));
    examples.forEach((e, i) => writeFileSync(path.join(appDir, files[i]!), e.code));
    // Each subpath's whole declaration graph is checked (skipLibCheck false): e.g. no lmdb type may reach it.
    const imports = subpaths().map((e, i) => `import * as entry${i} from '${e.specifier}';\nexport { entry${i} };\n`);
    writeFileSync(path.join(appDir, 'subpaths.ts'), imports.join(''));
    files.push('subpaths.ts');
    const tsconfig = {
      compilerOptions: {
        module: 'nodenext',
        moduleResolution: 'nodenext',
        target: 'es2022',
        lib: ['es2023'],
        types: ['node'],
        strict: true,
        skipLibCheck: false,
        outDir: 'out',
      },
      files,
    };
    writeFileSync(path.join(appDir, 'tsconfig.json'), JSON.stringify(tsconfig));
    const tsc = await run(process.execPath, [TSC, '-p', '.'], { cwd: appDir, timeoutMs: 150_000 });
    expect(tsc.stdout + tsc.stderr).toBe('');
    expect(tsc.code).toBe(0);

    // Run in a directory of its own: the example keeps its data in ./.erlmcp-monitor.
    const runDir = path.join(work, 'run');
    mkdirSync(runDir);
    const port = await freePort();
    const child: ChildProcess = spawn(process.execPath, [path.join(appDir, 'out', 'example.js')], {
      cwd: runDir,
      env: cleanEnv({ PORT: String(port), ERLMCP_DASHBOARD_PORT: '0' }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const bound = setTimeout(() => child.kill('SIGKILL'), 60_000);
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<[number | null, string | null]>((resolve) =>
      child.on('exit', (code, signal) => resolve([code, signal])),
    );
    try {
      const serving = until(() => expect(out).toMatch(/^orders_placed_total\{channel="phone"\} 1$/m), 30_000).then(
        () => 'serving',
      );
      expect(await Promise.race([serving, exited.then(() => 'exited early')]), err).toBe('serving');
      await until(
        async () => expect(await (await fetch(`http://127.0.0.1:${port}/order`)).text()).toBe('ok\n'),
        10_000,
      );
      child.kill('SIGTERM');
      expect(await exited, err).toEqual([0, null]);
    } finally {
      clearTimeout(bound);
      child.kill('SIGKILL');
    }
    // It stopped in order: the last flush holds the request it served.
    const store = MetricStore.open({ dataDir: path.join(runDir, '.erlmcp-monitor'), readOnly: true });
    try {
      const id = store.seriesId('orders.placed{channel="web"}');
      expect(id).toBeDefined();
      expect(store.latest(id!)![1]).toBe(1);
    } finally {
      await store.close();
    }
  }, 240_000);
});
