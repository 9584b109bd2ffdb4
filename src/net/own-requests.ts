/**
 * The monitor's own outbound HTTP requests (notifications, Alertmanager, remote write: all sent by
 * `src/net/post.ts`) carry this mark, so `instrument.outbound` leaves them out of the host's
 * `http.client.*` metrics: an alert storm or a failing webhook would otherwise show up as the
 * service's own outbound traffic and errors, and could feed the very rules that raised them.
 * A global symbol, so two copies of the package in one process agree on it.
 */
export const OWN_REQUEST = Symbol.for('erlmcp-monitor.ownRequest');

/** Marks `req` as the monitor's own; call before `req.end()` (Node publishes the request's start then). */
export function markOwnRequest(req: object): void {
  (req as { [OWN_REQUEST]?: true })[OWN_REQUEST] = true;
}

/** Whether `req` was sent by the monitor itself. */
export function isOwnRequest(req: object): boolean {
  return (req as { [OWN_REQUEST]?: true })[OWN_REQUEST] === true;
}
