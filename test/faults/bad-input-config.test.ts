/**
 * Bad configuration, tried systematically (issue 9, item 4): wrong types at every key, out-of-range
 * numbers, unknown keys (with "did you mean" for near misses), prototype-pollution keys, files that
 * are not JSON, empty, or not an object, and bad environment overrides. Each is a ConfigError
 * (`EMON_INVALID_CONFIG`) with one problem naming the file (or variable, or `overrides`), the key
 * path, and what is allowed; Object.prototype is never touched; and `startMonitoring` with such a
 * config rejects, leaving nothing running (no timer, socket or LMDB handle) and nothing written.
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ConfigError, type ConfigProblem } from '../../src/config/config-error.js';
import { loadConfig } from '../../src/config/load-config.js';
import { CONFIG_SECTIONS, type ConfigSection } from '../../src/config/schema.js';
import { ErrorCode } from '../../src/errors.js';
import { startMonitoring } from '../../src/index.js';
import { MetricStore } from '../../src/store/lmdb-store.js';
import { activeResources, leakedAfterSettling, memoryLogger } from '../helpers.js';
import { PROTOTYPE_KEYS, SEED, TrialCounter } from './bad-input-fixture.js';
import { runCleanups, tempDir } from './tree-fixture.js';

afterEach(runCleanups);

const trials = new TrialCounter();
afterAll(() => {
  console.info(`bad-input-config inputs tried: ${trials.summary()}`);
});

const RUNS = 200;
const START_RUNS = 40;

const DEFAULTS = loadConfig({ env: {} }) as unknown as Record<string, Record<string, unknown>>;
const SECTIONS = Object.keys(CONFIG_SECTIONS) as ConfigSection[];

type Path = (string | number)[];
interface Leaf {
  section: ConfigSection;
  path: Path;
  value: unknown;
}

/** Every key of the defaults whose value is not an object (arrays are leaves), and every object. */
function walk(section: ConfigSection, value: unknown, at: Path, leaves: Leaf[], objects: Leaf[]): void {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    objects.push({ section, path: at, value });
    for (const [k, v] of Object.entries(value)) walk(section, v, [...at, k], leaves, objects);
  } else if (at.length > 0) {
    leaves.push({ section, path: at, value });
  }
}
const LEAVES: Leaf[] = [];
const OBJECTS: Leaf[] = [];
for (const s of SECTIONS) walk(s, DEFAULTS[s], [], LEAVES, OBJECTS);

/** `a.b[1].c` as ConfigError keys are written. */
function dotted(p: Path): string {
  return p.reduce<string>((out, k) => (typeof k === 'number' ? `${out}[${k}]` : out === '' ? k : `${out}.${k}`), '');
}

/** `{ a: { b: value } }` for path `['a', 'b']`, with every key an own property (even `__proto__`). */
function nest(p: Path, value: unknown): Record<string, unknown> {
  let out: unknown = value;
  for (let i = p.length - 1; i >= 0; i--) {
    const o: Record<string, unknown> = {};
    Object.defineProperty(o, String(p[i]), { value: out, enumerable: true, configurable: true, writable: true });
    out = o;
  }
  return out as Record<string, unknown>;
}

/** A value of a JSON type the key never has. */
function wrongType(value: unknown): fc.Arbitrary<unknown> {
  const options: fc.Arbitrary<unknown>[] = [fc.constant({}), fc.constant(null)];
  if (typeof value !== 'string') options.push(fc.string({ maxLength: 10 }), fc.constantFrom('1', 'true', ''));
  if (typeof value !== 'number') options.push(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }));
  if (typeof value !== 'boolean') options.push(fc.boolean());
  if (!Array.isArray(value)) options.push(fc.array(fc.integer(), { maxLength: 2 }));
  else options.push(fc.constant('a,b'));
  return fc.oneof(...options);
}

/** Where the files go; `section` written as `content` (an object, or raw text). */
function configDirWith(files: Partial<Record<ConfigSection, unknown>>): string {
  const dir = tempDir('erlmcp-bad-config-');
  for (const [section, content] of Object.entries(files)) {
    writeFileSync(
      path.join(dir, CONFIG_SECTIONS[section as ConfigSection].file),
      typeof content === 'string' ? content : JSON.stringify(content),
    );
  }
  return dir;
}

function loadError(options: Parameters<typeof loadConfig>[0]): ConfigError {
  let thrown: unknown;
  try {
    loadConfig({ env: {}, ...options });
  } catch (err) {
    thrown = err;
  }
  if (!(thrown instanceof ConfigError))
    throw new Error(`expected a ConfigError, got ${thrown === undefined ? 'a valid config' : String(thrown)}`);
  expect(thrown.code).toBe(ErrorCode.InvalidConfig);
  expect(thrown.problems.length).toBeGreaterThan(0);
  return thrown;
}

/** The one problem at `source`/`key`; its message also appears in the error's message. */
function problemAt(err: ConfigError, source: string, key: string): ConfigProblem {
  const found = err.problems.filter((p) => p.source === source && p.key === key);
  expect(found, `problems: ${err.message}`).toHaveLength(1);
  expect(err.message).toContain(`${source}: ${key === '' ? '' : `${key}: `}${found[0]!.message}`);
  return found[0]!;
}

/** Object.prototype as it is now, to prove no config key reached it. */
const prototypeSnapshot = () => Object.getOwnPropertyNames(Object.prototype).sort().join();
const PROTOTYPE_BEFORE = prototypeSnapshot();
function expectPrototypeClean(): void {
  expect(prototypeSnapshot()).toBe(PROTOTYPE_BEFORE);
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
}

const leaf = fc.constantFrom(...LEAVES);
const fileOrOverride = fc.constantFrom('file' as const, 'overrides' as const);

/** Loads `value` at `section`/`p` from a file or from the overrides; the error and where it must point. */
function loadWith(
  via: 'file' | 'overrides',
  section: ConfigSection,
  p: Path,
  value: unknown,
): { err: ConfigError; source: string; key: string } {
  if (via === 'file') {
    const dir = configDirWith({ [section]: nest(p, value) });
    return {
      err: loadError({ configDir: dir }),
      source: path.join(dir, CONFIG_SECTIONS[section].file),
      key: dotted(p),
    };
  }
  return {
    err: loadError({ overrides: nest([section, ...p], value) }),
    source: 'overrides',
    key: dotted([section, ...p]),
  };
}

describe('loadConfig refuses bad configuration with a problem naming the file, the key and what is allowed', () => {
  it('a value of the wrong type at any key', () => {
    fc.assert(
      fc.property(
        leaf.chain((l) => fc.tuple(fc.constant(l), wrongType(l.value), fileOrOverride)),
        ([l, value, via]) => {
          trials.add('wrong type');
          const { err, source, key } = loadWith(via, l.section, l.path, value);
          const problem = err.problems.find(
            (p) => p.source === source && (p.key === key || p.key.startsWith(`${key}.`) || p.key.startsWith(`${key}[`)),
          );
          expect(problem, `no problem at ${source} ${key}: ${err.message}`).toBeDefined();
          expect(problem!.message).toMatch(/expected|allowed|missing|must/);
          expectPrototypeClean();
        },
      ),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('a number out of range: negative or zero intervals, huge numbers, fractions where integers are wanted', () => {
    const numeric = LEAVES.filter(
      (l) =>
        typeof l.value === 'number' &&
        /interval|timeout|period|window|port|size|limit|points|range|retention/.test(String(l.path.at(-1))),
    );
    const outOfRange = fc.oneof(
      fc.integer({ min: -1_000_000, max: -1 }),
      fc.constantFrom(-0.5, 1e300, Number.MAX_SAFE_INTEGER * 4, 2 ** 53 + 2),
      fc.double({ min: 0.01, max: 0.99, noNaN: true }),
    );
    fc.assert(
      fc.property(fc.constantFrom(...numeric), outOfRange, fileOrOverride, (l, value, via) => {
        trials.add('out of range');
        const { err, source, key } = loadWith(via, l.section, l.path, value);
        // A cross-key check (retention_period >= aggregation_interval) may add a second line.
        const atKey = err.problems.filter((p) => p.source === source && p.key === key);
        expect(
          atKey.filter((p) => /^expected .*(integer|number|port).*, got /.test(p.message)),
          err.message,
        ).toHaveLength(1);
        expectPrototypeClean();
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('an unknown key anywhere: near misses get a suggestion, prototype keys are unknown keys and pollute nothing', () => {
    const unknownKey = fc.constantFrom(...OBJECTS).chain((o) => {
      const known = Object.keys(o.value as object);
      const typo =
        known.length === 0
          ? fc.constant('zzzz')
          : fc
              .tuple(fc.constantFrom(...known), fc.nat(), fc.constantFrom('swap', 'drop', 'double', 'case'))
              .map(([k, i, how]) => {
                const at = i % k.length;
                if (how === 'drop' && k.length > 3) return k.slice(0, at) + k.slice(at + 1);
                if (how === 'double') return k.slice(0, at) + k.charAt(at) + k.slice(at);
                if (how === 'swap' && at + 1 < k.length)
                  return k.slice(0, at) + k.charAt(at + 1) + k.charAt(at) + k.slice(at + 2);
                return k.slice(0, at) + k[at]!.toUpperCase() + k.slice(at + 1);
              });
      const key = fc
        .oneof(
          typo.map((k) => ({ k, typo: true })),
          fc
            .oneof(fc.constantFrom(...PROTOTYPE_KEYS), fc.stringMatching(/^[a-z]{12,16}$/))
            .map((k) => ({ k, typo: false })),
        )
        .filter(({ k }) => !known.includes(k));
      const payload = fc.oneof(
        fc.constant({ polluted: true }),
        fc.constant(1),
        fc.constant({ prototype: { polluted: true } }),
      );
      return fc.tuple(fc.constant(o), key, payload, fileOrOverride);
    });
    fc.assert(
      fc.property(unknownKey, ([o, { k: key, typo }, payload, via]) => {
        trials.add('unknown key');
        const parent = [...o.path];
        let err: ConfigError;
        let source: string;
        if (via === 'file') {
          // JSON text, so `__proto__` arrives exactly as JSON.parse makes it: an own key.
          const dir = configDirWith({ [o.section]: JSON.stringify(nest([...parent, key], payload)) });
          err = loadError({ configDir: dir });
          source = path.join(dir, CONFIG_SECTIONS[o.section].file);
        } else {
          err = loadError({ overrides: nest([o.section, ...parent, key], payload) });
          source = 'overrides';
        }
        const where = via === 'file' ? dotted(parent) : dotted([o.section, ...parent]);
        const problem = problemAt(err, source, where);
        expect(problem.message).toContain(`unknown key ${JSON.stringify(key)}`);
        expect(problem.message).toMatch(typo ? /\(did you mean "[^"]+"\?\)$/ : /did you mean "[^"]+"\?|allowed: /);
        expectPrototypeClean();
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('suggests the key a near miss was meant to be', () => {
    const dir = configDirWith({
      dashboard: { prot: 1 },
      monitoring: { colection_interval: 5 },
      alerting: { channels: { email: { hots: 'x' } } },
    });
    const err = loadError({ configDir: dir });
    expect(problemAt(err, path.join(dir, 'dashboard.json'), '').message).toBe(
      'unknown key "prot" (did you mean "port"?)',
    );
    expect(problemAt(err, path.join(dir, 'monitoring.json'), '').message).toBe(
      'unknown key "colection_interval" (did you mean "collection_interval"?)',
    );
    expect(problemAt(err, path.join(dir, 'alerting.json'), 'channels.email').message).toBe(
      'unknown key "hots" (did you mean "host"?)',
    );
  });

  it('a file that is not JSON, is empty, or is not an object: named by file, with line and column, and its text never echoed', () => {
    const MARK = 'S3CRET-MARK';
    const content = fc.oneof(
      fc.constantFrom(
        '',
        ' ',
        '\n\n',
        '\uFEFF',
        '{',
        '}',
        '{"a":',
        '{"a" 1}',
        "{'a': 1}",
        '{"a": 1,}',
        '[1, 2',
        'nul',
        'tru',
        '{"a": 01}',
        '{"a": "\u0001"}',
        `{"${MARK}": }`,
        MARK,
      ),
      fc.string({ minLength: 1, maxLength: 40 }).filter((s) => {
        try {
          JSON.parse(s);
          return false;
        } catch {
          return true;
        }
      }),
      fc.constantFrom('[]', '[{"port": 1}]', '"text"', '1', '-5', 'null', 'true', '1e999'),
    );
    fc.assert(
      fc.property(fc.constantFrom(...SECTIONS), content, (section, text) => {
        trials.add('broken file');
        const dir = configDirWith({ [section]: text });
        const err = loadError({ configDir: dir });
        const problem = problemAt(err, path.join(dir, CONFIG_SECTIONS[section].file), '');
        expect(problem.message).toMatch(
          /^(invalid JSON at line \d+, column \d+: expected .+, found .+|expected a JSON object at the top level, got .+)$/,
        );
        if (text.includes(MARK)) expect(err.message).not.toContain(MARK);
        expectPrototypeClean();
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('a bad environment override: named by variable and key', () => {
    const cases = fc.oneof(
      fc
        .tuple(
          fc.constantFrom('ERLMCP_DASHBOARD_PORT', 'ERLMCP_SMTP_PORT'),
          fc.oneof(
            fc.constantFrom('80a', '-1', '70000', '1.5', '0x50', '1e3', 'NaN', '99999999999999999999'),
            fc.stringMatching(/^[a-z]{1,6}$/),
          ),
        )
        .map(([name, value]) => ({ name, value })),
      fc
        .tuple(
          fc.constantFrom(
            'ERLMCP_EXPORT_ENDPOINT',
            'ERLMCP_WEBHOOK_URL',
            'ERLMCP_SLACK_WEBHOOK',
            'ERLMCP_ALERTMANAGER_URLS',
          ),
          fc.constantFrom('not a url', 'ftp://x', 'http//x', 'javascript:alert(1)'),
        )
        .map(([name, value]) => ({ name, value })),
    );
    fc.assert(
      fc.property(cases, ({ name, value }) => {
        trials.add('bad env');
        const err = loadError({ env: { [name]: value } });
        const problem = err.problems.find((p) => p.origin === 'env' && p.source === name);
        if (name === 'ERLMCP_DASHBOARD_PORT' && /^\d+$/.test(value) && Number(value) === 0) return;
        expect(problem, err.message).toBeDefined();
        expect(err.message).toContain(`${name} (`);
        expect(problem!.message).toMatch(/expected|allowed/);
      }),
      { seed: SEED, numRuns: RUNS / 2 },
    );
  });

  it('options that are not what loadConfig takes are EMON_INVALID_OPTION, not a TypeError', () => {
    const bad = fc.oneof(
      fc.constantFrom(null, 5, 'x', [], true).map((o) => o as never),
      fc
        .oneof(fc.constant(''), fc.integer(), fc.constant(null), fc.constant({}))
        .map((configDir) => ({ configDir }) as never),
      fc.oneof(fc.constant(null), fc.constant('PORT=1'), fc.integer()).map((env) => ({ env }) as never),
      fc
        .oneof(fc.constant(null), fc.constant([]), fc.constant('x'), fc.constant(new Map()))
        .map((overrides) => ({ overrides }) as never),
    );
    fc.assert(
      fc.property(bad, (options) => {
        trials.add('bad options');
        let thrown: unknown;
        try {
          loadConfig(options);
        } catch (err) {
          thrown = err;
        }
        expect((thrown as { code?: unknown }).code).toBe(ErrorCode.InvalidOption);
      }),
      { seed: SEED, numRuns: 50 },
    );
  });
});

describe('startMonitoring with a bad config', () => {
  it('rejects with EMON_INVALID_CONFIG and leaves nothing running and nothing written', async () => {
    const badConfig = fc.oneof(
      leaf.chain((l) => wrongType(l.value).map((v) => ({ overrides: nest([l.section, ...l.path], v) }))),
      fc.constantFrom(...SECTIONS).map((s) => ({ overrides: nest([s, '__proto__'], { polluted: true }) })),
      fc.constantFrom(...SECTIONS).map((s) => ({ file: [s, '{"port": '] as const })),
      fc.constantFrom(...SECTIONS).map((s) => ({ file: [s, '[]'] as const })),
    );
    await fc.assert(
      fc.asyncProperty(badConfig, async (c) => {
        trials.add('startMonitoring with bad config');
        const dataDir = path.join(tempDir('erlmcp-bad-start-'), 'data');
        const configDir = 'file' in c ? configDirWith({ [c.file[0]]: c.file[1] }) : undefined;
        const before = activeResources();
        let thrown: unknown;
        try {
          const mon = await startMonitoring({
            dataDir,
            configDir,
            env: {},
            logger: memoryLogger(),
            processMetrics: false,
            config: ('overrides' in c ? c.overrides : undefined) as never,
          });
          await mon.stop();
        } catch (err) {
          thrown = err;
        }
        expect((thrown as { code?: unknown }).code).toBe(ErrorCode.InvalidConfig);
        expect(await leakedAfterSettling(before)).toEqual([]);
        // Nothing written: no data dir (so no LMDB env), and it can be opened for writing afresh.
        expect(existsSync(dataDir)).toBe(false);
        expectPrototypeClean();
      }),
      { seed: SEED, numRuns: START_RUNS },
    );
  });

  it('leaves an existing data dir untouched, with no writer holding it', async () => {
    const dataDir = path.join(tempDir('erlmcp-bad-start-'), 'data');
    mkdirSync(dataDir);
    await expect(
      startMonitoring({
        dataDir,
        env: {},
        logger: memoryLogger(),
        processMetrics: false,
        config: { dashboard: { port: -1 } },
      }),
    ).rejects.toMatchObject({
      code: ErrorCode.InvalidConfig,
      message: expect.stringContaining('overrides: dashboard.port: expected an integer port from 0 to 65535'),
    });
    expect(readdirSync(dataDir)).toEqual([]);
    const store = MetricStore.open({ dataDir });
    await store.close();
  });
});
