/**
 * The live feed: one WebSocket to `/ws` that reconnects by itself.
 *
 * States: `connecting` (first attempt) → `live` (the server's `connected` arrived) →
 * `reconnecting` (dropped; retrying with exponential backoff from `initialDelayMs`, doubling,
 * capped at `maxDelayMs`, with jitter so a restarted server is not hit by every page at once).
 * While live it sends an application `ping` every `pingIntervalMs`; when nothing at all (frame,
 * pong) has arrived for `staleAfterPings` ping intervals the socket is presumed dead and replaced.
 */

/** @typedef {'connecting' | 'live' | 'reconnecting' | 'stopped'} FeedState */

export class LiveFeed {
  /**
   * @param {string} url the ws:// URL (with `?token=` when needed)
   * @param {{
   *   onMessage: (msg: any) => void,
   *   onState: (state: FeedState, detail: { attempt: number, retryInMs?: number }) => void,
   *   pingIntervalMs?: number,   // default 15000
   *   staleAfterPings?: number,  // default 2
   *   initialDelayMs?: number,   // default 500
   *   maxDelayMs?: number,       // default 10000
   * }} opts
   */
  constructor(url, opts) {
    this.url = url;
    this.opts = { pingIntervalMs: 15000, staleAfterPings: 2, initialDelayMs: 500, maxDelayMs: 10000, ...opts };
    /** @type {WebSocket | null} */
    this.ws = null;
    this.attempt = 0;
    this.state = /** @type {FeedState} */ ('stopped');
    this.retryTimer = 0;
    this.pingTimer = 0;
    this.lastMessageAt = 0;
    this.pingId = 0;
    this.onOnline = () => {
      if (this.state === 'reconnecting' && this.retryTimer) {
        clearTimeout(this.retryTimer);
        this.retryTimer = 0;
        this.connect();
      }
    };
  }

  /** Opens the feed. */
  start() {
    if (this.state !== 'stopped') return;
    window.addEventListener('online', this.onOnline);
    this.setState('connecting');
    this.connect();
  }

  /** Closes the feed for good. */
  stop() {
    window.removeEventListener('online', this.onOnline);
    clearTimeout(this.retryTimer);
    clearInterval(this.pingTimer);
    this.setState('stopped');
    if (this.ws) this.ws.close(1000, 'page closed');
    this.ws = null;
  }

  /**
   * Sends a client message (src/server/protocol.ts ClientMsg) if the socket is open.
   * @param {object} msg
   * @returns {boolean} whether it was sent
   */
  send(msg) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(msg));
    return true;
  }

  connect() {
    this.retryTimer = 0;
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.addEventListener('message', (ev) => {
      if (this.ws !== ws) return;
      this.lastMessageAt = Date.now();
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch {
        console.warn('live feed: a message that is not JSON was ignored');
        return;
      }
      if (msg && msg.type === 'connected') {
        this.attempt = 0;
        this.setState('live');
        this.startPings(ws);
      }
      this.opts.onMessage(msg);
    });
    ws.addEventListener('close', () => {
      if (this.ws !== ws) return;
      this.ws = null;
      clearInterval(this.pingTimer);
      if (this.state !== 'stopped') this.scheduleRetry();
    });
    // A failed or dropped socket also fires `close`, which does the retrying.
    ws.addEventListener('error', () => {});
  }

  /** @param {WebSocket} ws */
  startPings(ws) {
    clearInterval(this.pingTimer);
    const { pingIntervalMs, staleAfterPings } = this.opts;
    this.pingTimer = window.setInterval(() => {
      if (this.ws !== ws) return;
      if (Date.now() - this.lastMessageAt > pingIntervalMs * staleAfterPings) {
        // No frame and no pong: the connection is half-open. Replace it.
        ws.close(4000, 'stale');
        this.ws = null;
        clearInterval(this.pingTimer);
        this.scheduleRetry();
        return;
      }
      this.send({ type: 'ping', id: ++this.pingId });
    }, pingIntervalMs);
  }

  scheduleRetry() {
    const { initialDelayMs, maxDelayMs } = this.opts;
    const base = Math.min(maxDelayMs, initialDelayMs * 2 ** this.attempt);
    const delay = Math.round(base * (0.5 + Math.random() * 0.5));
    this.attempt += 1;
    this.setState('reconnecting', delay);
    this.retryTimer = window.setTimeout(() => this.connect(), delay);
  }

  /**
   * @param {FeedState} state
   * @param {number} [retryInMs]
   */
  setState(state, retryInMs) {
    this.state = state;
    this.opts.onState(state, { attempt: this.attempt, retryInMs });
  }
}
