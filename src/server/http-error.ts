/**
 * `HttpError`: a request the server refuses, with the status and the reason the client gets as
 * `{ "error": reason }`. Route code throws it; the HTTP server turns it into the response.
 */
export class HttpError extends Error {
  /**
   * @param status the HTTP status (400 bad parameter, 401 no token, 403 origin/host, 404, 405, 413, 414, 503)
   * @param reason what was wrong and what is allowed, written for the person reading the response
   * @param headers extra response headers (e.g. `allow` for a 405)
   */
  constructor(
    readonly status: number,
    reason: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(reason);
    this.name = 'HttpError';
  }
}
