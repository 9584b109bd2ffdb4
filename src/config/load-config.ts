/**
 * Loading the configuration: schema defaults, then the four files in `configDir`, then `ERLMCP_*`
 * environment variables, then programmatic overrides (later wins), validated together and returned
 * deeply frozen. A missing file means its defaults; a missing directory is an error. Every problem is
 * collected and thrown at once as a {@link ConfigError}, one per line, without secret values or file
 * text. The variables and their keys: docs/design-notes.md (and README).
 */
import { readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describeValue, ErrorCode, MonitorError } from '../errors.js';
import { type ConfigOrigin, type ConfigProblem, ConfigError } from './config-error.js';
import { describeIssues } from './describe-issues.js';
import { parseJson } from './parse-json.js';
import { REDACTED, SECRET_PATHS } from './redact-config.js';
import { CONFIG_SECTIONS, type Config, type ConfigSection, type DeepPartial } from './schema.js';
import { suggestKey } from './suggest-key.js';

/** Options of {@link loadConfig}. */
export interface LoadConfigOptions {
  /** Directory holding the four JSON files. Default: none, so every section takes its defaults. */
  configDir?: string;
  /** Where environment overrides are read from. Default: `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Applied last, validated like a file. Default: none. */
  overrides?: DeepPartial<Config>;
}

/** One environment override: which variable sets which key. */
export interface EnvOverride {
  readonly name: string;
  readonly section: ConfigSection;
  /** Key inside the section. */
  readonly path: readonly string[];
  /** How the text is read: as is, as an integer, or as a comma-separated list. */
  readonly parse: 'string' | 'integer' | 'list';
  /** Keys set to `true` along with it (the channel it defines). */
  readonly enables?: readonly string[];
}

/** The environment variables `loadConfig` reads, in the order they are applied. */
export const ENV_OVERRIDES: readonly EnvOverride[] = [
  { name: 'ERLMCP_DASHBOARD_PORT', section: 'dashboard', path: ['port'], parse: 'integer' },
  { name: 'ERLMCP_DASHBOARD_HOST', section: 'dashboard', path: ['host'], parse: 'string' },
  { name: 'ERLMCP_DASHBOARD_TOKEN', section: 'dashboard', path: ['auth_token'], parse: 'string' },
  { name: 'ERLMCP_DATA_DIR', section: 'monitoring', path: ['data_dir'], parse: 'string' },
  { name: 'ERLMCP_EXPORT_ENDPOINT', section: 'monitoring', path: ['export_endpoint'], parse: 'string' },
  { name: 'ERLMCP_SMTP_HOST', section: 'alerting', path: ['channels', 'email', 'host'], parse: 'string' },
  { name: 'ERLMCP_SMTP_PORT', section: 'alerting', path: ['channels', 'email', 'port'], parse: 'integer' },
  { name: 'ERLMCP_SMTP_USER', section: 'alerting', path: ['channels', 'email', 'user'], parse: 'string' },
  { name: 'ERLMCP_SMTP_PASS', section: 'alerting', path: ['channels', 'email', 'pass'], parse: 'string' },
  {
    name: 'ERLMCP_SLACK_WEBHOOK',
    section: 'alerting',
    path: ['channels', 'slack', 'webhook'],
    parse: 'string',
    enables: ['channels', 'slack', 'enabled'],
  },
  { name: 'ERLMCP_TWILIO_ACCOUNT_SID', section: 'alerting', path: ['channels', 'sms', 'account_sid'], parse: 'string' },
  { name: 'ERLMCP_TWILIO_AUTH_TOKEN', section: 'alerting', path: ['channels', 'sms', 'auth_token'], parse: 'string' },
  {
    name: 'ERLMCP_WEBHOOK_URL',
    section: 'alerting',
    path: ['channels', 'webhook', 'url'],
    parse: 'string',
    enables: ['channels', 'webhook', 'enabled'],
  },
  {
    name: 'ERLMCP_ALERTMANAGER_URLS',
    section: 'alerting',
    path: ['channels', 'alertmanager', 'urls'],
    parse: 'list',
    enables: ['channels', 'alertmanager', 'enabled'],
  },
];

/** Secrets shorter than this are not searched for in messages (they would match ordinary text). */
const MIN_SCRUB_LENGTH = 4;

type PlainObject = Record<string, unknown>;
interface Origin {
  origin: ConfigOrigin;
  source: string;
}

/**
 * Loads, validates and freezes the configuration.
 *
 * @param options `configDir` (default: none, all defaults), `env` (default: `process.env`),
 *   `overrides` (default: none); see the module header for the layering and the variables
 * @returns the full configuration, every key present, deeply frozen
 * @throws {ConfigError} `EMON_INVALID_CONFIG` listing every problem (file or variable, key, what is
 *   allowed), also for unreadable files, invalid JSON and a `configDir` that does not exist or is
 *   not a directory
 * @throws {MonitorError} `EMON_INVALID_OPTION` if `options` itself is malformed
 */
export function loadConfig(options: LoadConfigOptions = {}): Config {
  checkOptions(options);
  const env = options.env ?? process.env;
  const overrides: PlainObject = options.overrides ?? {};
  const problems: ConfigProblem[] = [];
  const secrets = new Set<string>();

  if (options.configDir !== undefined) {
    const stat = statSync(options.configDir, { throwIfNoEntry: false });
    if (stat === undefined) {
      // A typo'd path would otherwise run on the defaults without a word.
      const message = `configDir does not exist (resolved to ${resolve(options.configDir)}); create it, or omit configDir to run on the defaults`;
      throw new ConfigError([{ origin: 'file', source: options.configDir, key: '', message }]);
    }
    if (!stat.isDirectory()) {
      throw new ConfigError([
        { origin: 'file', source: options.configDir, key: '', message: 'configDir is not a directory' },
      ]);
    }
  }

  const sections = Object.keys(CONFIG_SECTIONS);
  for (const key of Object.keys(overrides)) {
    if (sections.includes(key)) continue;
    const suggestion = suggestKey(key, sections);
    const help =
      suggestion !== undefined
        ? `did you mean "${suggestion}"?`
        : `allowed: ${sections.map((s) => `"${s}"`).join(', ')}`;
    problems.push({
      origin: 'overrides',
      source: 'overrides',
      key: '',
      message: `unknown key ${describeValue(key)} (${help})`,
    });
  }

  const loaded: PlainObject = {};
  for (const section of sections as ConfigSection[]) {
    const { file, schema } = CONFIG_SECTIONS[section];
    const read = readSection(options.configDir, file);
    if ('message' in read) {
      problems.push(read);
      continue;
    }
    const { input } = read;
    const fallback: Origin =
      read.filePath !== undefined
        ? { origin: 'file', source: read.filePath }
        : { origin: 'defaults', source: `${section} defaults` };
    const origins = new Map<string, Origin>();

    for (const variable of ENV_OVERRIDES) {
      const text = env[variable.name];
      if (variable.section !== section || text === undefined || text.trim() === '') continue;
      const envOrigin: Origin = { origin: 'env', source: variable.name };
      if (setPath(input, variable.path, parseEnvValue(variable, text))) origins.set(pathKey(variable.path), envOrigin);
      if (variable.enables !== undefined && setPath(input, variable.enables, true))
        origins.set(pathKey(variable.enables), envOrigin);
    }

    const patch = overrides[section];
    if (patch !== undefined) {
      if (!isPlainObject(patch)) {
        problems.push({
          origin: 'overrides',
          source: 'overrides',
          key: section,
          message: `expected an object, got ${describeValue(patch)}`,
        });
        continue;
      }
      mergeInto(input, patch, [], origins);
    }

    collectSecrets(section, input, secrets);
    const result = schema.safeParse(input);
    if (result.success) {
      loaded[section] = result.data;
      continue;
    }
    problems.push(
      ...describeIssues(result.error.issues, {
        section,
        schema,
        input,
        originOf(path) {
          for (let i = path.length; i >= 0; i--) {
            const origin = origins.get(pathKey(path.slice(0, i)));
            if (origin !== undefined) return { ...origin, keyFromRoot: true };
          }
          return { ...fallback, keyFromRoot: false };
        },
      }),
    );
  }

  if (problems.length > 0) throw new ConfigError(problems.map((problem) => scrub(problem, secrets)));
  return deepFreeze(structuredClone(loaded)) as unknown as Config;
}

function checkOptions(options: LoadConfigOptions): void {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new MonitorError(
      ErrorCode.InvalidOption,
      `loadConfig options must be an object, got ${describeValue(options)}`,
    );
  }
  const { configDir, env, overrides } = options;
  if (configDir !== undefined && (typeof configDir !== 'string' || configDir === '')) {
    throw new MonitorError(
      ErrorCode.InvalidOption,
      `configDir must be a non-empty string, got ${describeValue(configDir)}`,
    );
  }
  if (env !== undefined && (env === null || typeof env !== 'object')) {
    throw new MonitorError(ErrorCode.InvalidOption, `env must be an object of strings, got ${describeValue(env)}`);
  }
  if (overrides !== undefined && !isPlainObject(overrides)) {
    throw new MonitorError(
      ErrorCode.InvalidOption,
      `overrides must be a plain object, got ${describeValue(overrides)}`,
    );
  }
}

/** The section's file as an object (empty when absent), or the problem reading it. */
function readSection(
  configDir: string | undefined,
  file: string,
): { input: PlainObject; filePath?: string } | ConfigProblem {
  if (configDir === undefined) return { input: {} };
  const filePath = join(configDir, file);
  const problem = (message: string): ConfigProblem => ({ origin: 'file', source: filePath, key: '', message });
  let text: string;
  try {
    text = readFileSync(filePath, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { input: {} };
    return problem(`cannot read the file (${code ?? String(err)})`);
  }
  const parsed = parseJson(text);
  if (!parsed.ok) {
    return problem(
      `invalid JSON at line ${parsed.line}, column ${parsed.column}: expected ${parsed.expected}, found ${parsed.found}`,
    );
  }
  if (!isPlainObject(parsed.value))
    return problem(`expected a JSON object at the top level, got ${describeValue(parsed.value)}`);
  return { input: parsed.value, filePath };
}

/**
 * An integer variable that does not look like one stays text, so the schema reports it as
 * "expected an integer …, got "80a"" under the variable's name.
 */
function parseEnvValue(variable: EnvOverride, text: string): unknown {
  if (variable.parse === 'integer') return /^[+-]?\d+$/.test(text.trim()) ? Number(text.trim()) : text;
  if (variable.parse === 'list')
    return text
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item !== '');
  return text;
}

function isPlainObject(value: unknown): value is PlainObject {
  if (value === null || typeof value !== 'object') return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

const pathKey = (path: readonly PropertyKey[]): string => JSON.stringify(path.map(String));

/** Writes an own data property, so a key such as `__proto__` stays a key (and is reported as unknown). */
function setOwn(target: PlainObject, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
}

/**
 * Sets `path` in `target`, creating objects on the way. Returns false (and changes nothing) when
 * something on the way is not an object: the file's own error at that key is reported instead.
 */
function setPath(target: PlainObject, path: readonly string[], value: unknown): boolean {
  const last = path.at(-1);
  if (last === undefined) return false;
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = Object.hasOwn(node, key) ? node[key] : undefined;
    if (next === undefined) {
      const created: PlainObject = {};
      setOwn(node, key, created);
      node = created;
    } else if (isPlainObject(next)) {
      node = next;
    } else {
      return false;
    }
  }
  setOwn(node, last, value);
  return true;
}

/** Deep-merges `patch` into `target` (objects merge, anything else replaces), recording origins. */
function mergeInto(target: PlainObject, patch: PlainObject, path: string[], origins: Map<string, Origin>): void {
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined) continue;
    const at = [...path, key];
    if (isPlainObject(value)) {
      let node = Object.hasOwn(target, key) ? target[key] : undefined;
      if (!isPlainObject(node)) {
        node = {};
        setOwn(target, key, node);
        // The object is the overrides' own: a problem inside it (a wrong type, an unknown key)
        // must name the overrides, not the file or the defaults.
        origins.set(pathKey(at), { origin: 'overrides', source: 'overrides' });
      }
      mergeInto(node as PlainObject, value, at, origins);
    } else {
      setOwn(target, key, value);
      origins.set(pathKey(at), { origin: 'overrides', source: 'overrides' });
    }
  }
}

/** Remembers the secret values a section holds, to scrub them from messages as a last defence. */
function collectSecrets(section: string, input: PlainObject, secrets: Set<string>): void {
  for (const secretPath of SECRET_PATHS) {
    if (secretPath[0] !== section) continue;
    let value: unknown = input;
    for (const key of secretPath.slice(1))
      value = isPlainObject(value) && Object.hasOwn(value, key) ? value[key] : undefined;
    if (typeof value === 'string' && value.length >= MIN_SCRUB_LENGTH) secrets.add(value);
  }
}

/** User-info after `//`, even in a value that is not a valid URL (`http//user:pass@host`). */
const USERINFO_AFTER_SLASHES = /\/\/[^\s/?#@"]*@/g;

function scrub(problem: ConfigProblem, secrets: ReadonlySet<string>): ConfigProblem {
  let { message, key } = problem;
  for (const secret of secrets) {
    message = message.split(secret).join(REDACTED);
    key = key.split(secret).join(REDACTED);
  }
  message = message.replace(USERINFO_AFTER_SLASHES, `//${REDACTED}@`);
  return { ...problem, key, message };
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const item of Object.values(value)) deepFreeze(item);
    Object.freeze(value);
  }
  return value;
}
