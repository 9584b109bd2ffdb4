/**
 * Secrets in the configuration and how they stay out of logs, dashboard frames and error messages.
 *
 * The secret keys are the SMTP password, the Twilio auth token, the Slack webhook and the generic
 * webhook URL (anyone holding one can post to it: the token is often in its path or query) and the
 * dashboard token. A non-empty secret shows as `[redacted]`; an
 * empty one stays empty, so a display still tells "no token" from "a token". Credentials embedded
 * in any URL (`https://user:pass@host`) are redacted too.
 */
import type { Config } from './schema.js';

/** What a secret is replaced with. */
export const REDACTED = '[redacted]';

/** Paths (section first) of the keys whose values are secrets. */
export const SECRET_PATHS: readonly (readonly string[])[] = [
  ['alerting', 'channels', 'email', 'pass'],
  ['alerting', 'channels', 'sms', 'auth_token'],
  ['alerting', 'channels', 'slack', 'webhook'],
  ['alerting', 'channels', 'webhook', 'url'],
  ['dashboard', 'auth_token'],
];

/**
 * Whether `path` (section first, e.g. `['dashboard', 'auth_token']`) holds a secret.
 * @param path keys from the config root
 */
export function isSecretPath(path: readonly PropertyKey[]): boolean {
  return SECRET_PATHS.some((secret) => secret.length === path.length && secret.every((key, i) => key === path[i]));
}

const URL_USERINFO = /^([a-z][a-z0-9+.-]*:\/\/)[^/?#@\s]*@/i;

/**
 * Replaces the user-info part of a URL (`https://user:pass@host/...`) with `[redacted]`;
 * other text is returned unchanged.
 * @param text any string
 */
export function redactUrlCredentials(text: string): string {
  return text.replace(URL_USERINFO, `$1${REDACTED}@`);
}

/**
 * A deep copy of `config` with every non-empty secret replaced by `"[redacted]"` and URL
 * credentials removed, for logging or showing on the dashboard. `config` is not changed.
 * @param config a loaded config (any plain-data shape is accepted)
 * @returns plain data of the same shape
 */
export function redactConfig(config: Config): unknown {
  return redactValue(config, []);
}

function redactValue(value: unknown, path: PropertyKey[]): unknown {
  if (typeof value === 'string') {
    return value !== '' && isSecretPath(path) ? REDACTED : redactUrlCredentials(value);
  }
  if (Array.isArray(value)) return value.map((item: unknown, i) => redactValue(item, [...path, i]));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, redactValue(item, [...path, key])]));
  }
  return value;
}
