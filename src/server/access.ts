/**
 * Who may use the dashboard server. Token: when `auth_token` is set, the API, `/metrics` and the live
 * feed require it (Bearer header, or `?token=` since browsers cannot set WebSocket headers); a
 * non-loopback bind must have one; compared as SHA-256 digests with `timingSafeEqual`, so neither
 * content nor length leaks through timing. Origin: a request carrying one must come from the server's
 * own origin or `allowed_origins`. Host: on a loopback bind it must name a loopback or allowed host,
 * against DNS rebinding. Details: docs/design-notes.md.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { ErrorCode, MonitorError } from '../errors.js';
import { isLoopbackHost } from '../net/loopback.js';

/** The setting names a refusal names, so the error points at what its user can change. */
export interface AccessSettings {
  host: string;
  token: string;
  origins: string;
  /** How to set the token, e.g. `set ERLMCP_DASHBOARD_TOKEN`. */
  tokenHint: string;
}

/** The dashboard server's settings (the default). */
export const DASHBOARD_SETTINGS: AccessSettings = {
  host: 'dashboard.host',
  token: 'dashboard.auth_token',
  origins: 'dashboard.allowed_origins',
  tokenHint: 'set ERLMCP_DASHBOARD_TOKEN',
};

/**
 * Refuses a bind that would expose the server without a token.
 * @throws {MonitorError} `EMON_INVALID_CONFIG` when `host` is not loopback and `token` is empty
 */
export function checkBind(host: string, token: string, settings: AccessSettings = DASHBOARD_SETTINGS): void {
  if (!isLoopbackHost(host) && token === '') {
    throw new MonitorError(
      ErrorCode.InvalidConfig,
      `${settings.host} ${JSON.stringify(host)} is not a loopback address, so ${settings.token} must be set (${settings.tokenHint}, or bind 127.0.0.1)`,
    );
  }
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** The host part of a `Host` header or origin authority (`[::1]:8080` → `[::1]`, `a.b:80` → `a.b`). */
function hostPart(authority: string): string {
  if (authority.startsWith('[')) {
    const end = authority.indexOf(']');
    return end < 0 ? authority : authority.slice(0, end + 1);
  }
  const colon = authority.lastIndexOf(':');
  return colon < 0 ? authority : authority.slice(0, colon);
}

export interface AccessOptions {
  /** `dashboard.auth_token`; `''` = no token. */
  token: string;
  /** `dashboard.allowed_origins`, e.g. `['http://localhost:3000']`. */
  allowedOrigins: readonly string[];
  /** The bind address (`dashboard.host`). */
  host: string;
  /** The names refusals give (default the dashboard's). */
  settings?: AccessSettings;
}

/** The access checks of one server (see the module header). */
export class Access {
  /** Whether requests must carry the token. */
  readonly tokenRequired: boolean;
  /** The setting names refusals give. */
  readonly settings: AccessSettings;
  readonly #tokenDigest: Buffer;
  readonly #origins: ReadonlySet<string>;
  /** Host names a `Host` header may carry, or `undefined` for any (non-loopback bind). */
  readonly #hosts: ReadonlySet<string> | undefined;

  /** @throws {MonitorError} as {@link checkBind} */
  constructor(options: AccessOptions) {
    this.settings = options.settings ?? DASHBOARD_SETTINGS;
    checkBind(options.host, options.token, this.settings);
    this.tokenRequired = options.token !== '';
    this.#tokenDigest = digest(options.token);
    this.#origins = new Set(options.allowedOrigins.map((o) => o.toLowerCase()));
    if (isLoopbackHost(options.host)) {
      const hosts = new Set<string>([options.host.toLowerCase()]);
      for (const origin of this.#origins) hosts.add(hostPart(new URL(origin).host));
      this.#hosts = hosts;
    }
  }

  /**
   * Whether the request carries the token (always true when none is configured).
   * @param headers the request headers (`authorization: Bearer <t>`)
   * @param query the request's query parameters (`token`)
   */
  hasToken(headers: IncomingHttpHeaders, query: URLSearchParams): boolean {
    if (!this.tokenRequired) return true;
    const auth = headers.authorization;
    let given: string | null;
    // Exactly what follows "Bearer ": no trimming, so " <token>" is as wrong as any other string
    // (Node has already dropped the whitespace around the header value).
    if (typeof auth === 'string' && /^bearer /i.test(auth)) given = auth.slice(7);
    else given = query.get('token');
    if (given === null) return false;
    return timingSafeEqual(digest(given), this.#tokenDigest);
  }

  /** Whether the `Host` header names this server (see the module header; always true off loopback). */
  hostAllowed(headers: IncomingHttpHeaders): boolean {
    if (this.#hosts === undefined) return true;
    const host = headers.host;
    if (typeof host !== 'string' || host === '') return false;
    const name = hostPart(host.toLowerCase());
    return isLoopbackHost(name) || this.#hosts.has(name);
  }

  /**
   * Whether the request's `Origin` (if any) is the server's own (http or, behind a TLS proxy,
   * https on the same host) or an allowed one.
   * @param headers the request headers (`origin`, `host`)
   */
  originAllowed(headers: IncomingHttpHeaders): boolean {
    const origin = headers.origin;
    if (origin === undefined) return true;
    const o = origin.toLowerCase();
    if (this.#origins.has(o)) return true;
    const host = headers.host?.toLowerCase();
    return host !== undefined && (o === `http://${host}` || o === `https://${host}`);
  }
}
