/**
 * The page's HTTP client for the dashboard API (shapes in src/server/protocol.ts). A `?token=` in the
 * page URL goes along as `Authorization: Bearer` on requests and as `?token=` on the WebSocket URL
 * (browsers cannot set headers on a WebSocket). The token is then kept in sessionStorage and taken
 * out of the address bar, so it does not stay in the history or in a shared screenshot.
 */
const TOKEN_KEY = 'erlmcp-monitor.token';

/**
 * The token from the URL (remembered for this tab) or from an earlier load of this tab.
 * @param {Location} location
 */
function takeToken(location) {
  const url = new URL(location.href);
  const fromUrl = url.searchParams.get('token');
  try {
    if (fromUrl) {
      sessionStorage.setItem(TOKEN_KEY, fromUrl);
      url.searchParams.delete('token');
      history.replaceState(history.state, '', url);
      return fromUrl;
    }
    return sessionStorage.getItem(TOKEN_KEY) || '';
  } catch {
    return fromUrl || ''; // storage disabled: the token stays in the URL
  }
}

export class ApiError extends Error {
  /**
   * @param {string} path
   * @param {number} status HTTP status, 0 for a network failure
   * @param {string} reason the server's `{ error }` text or the network error
   */
  constructor(path, status, reason) {
    super(status ? `${path}: HTTP ${status}: ${reason}` : `${path}: ${reason}`);
    this.status = status;
  }
}

export class ApiClient {
  /**
   * @param {Location} location the page's location (origin and `?token=`)
   */
  constructor(location) {
    this.origin = location.origin;
    this.token = takeToken(location);
    this.wsUrl = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws${this.token ? `?token=${encodeURIComponent(this.token)}` : ''}`;
  }

  /**
   * GETs a JSON document.
   * @param {string} path with query, e.g. `/api/history?dashboard=main&from=1&to=2`
   * @param {AbortSignal} [signal]
   * @returns {Promise<any>}
   * @throws {ApiError} on a network failure, a non-2xx status, or a body that is not JSON
   */
  async get(path, signal) {
    /** @type {Record<string, string>} */
    const headers = { accept: 'application/json' };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    let res;
    try {
      res = await fetch(new URL(path, this.origin), { headers, signal, cache: 'no-store' });
    } catch (err) {
      throw new ApiError(path, 0, err instanceof Error ? err.message : String(err));
    }
    let body;
    try {
      body = await res.json();
    } catch {
      throw new ApiError(path, res.status, 'response is not JSON');
    }
    if (!res.ok)
      throw new ApiError(path, res.status, body && typeof body.error === 'string' ? body.error : res.statusText);
    return body;
  }
}
