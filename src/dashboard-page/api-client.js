/**
 * The page's HTTP client for the dashboard API (shapes in src/protocol.ts). A `?token=` in the
 * page URL goes along as `Authorization: Bearer` on requests and as `?token=` on the WebSocket URL.
 */

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
   * @param {Location | URL} location the page's location (origin and `?token=`)
   */
  constructor(location) {
    this.origin = location.origin;
    this.token = new URLSearchParams(location.search).get('token') || '';
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
    if (!res.ok) throw new ApiError(path, res.status, body && typeof body.error === 'string' ? body.error : res.statusText);
    return body;
  }
}
