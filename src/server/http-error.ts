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

/** The content type of every JSON answer (errors and the API). */
export const JSON_TYPE = 'application/json; charset=utf-8';

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  413: 'Content Too Large',
  414: 'URI Too Long',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/**
 * The whole response for `err`, to write straight to a socket where no `ServerResponse` exists (a
 * refused upgrade, a request Node's parser refused): `{ "error": reason }`, closing the connection.
 */
export function rawAnswer(err: HttpError): string {
  const body = JSON.stringify({ error: err.message });
  const extra = Object.entries(err.headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  return `HTTP/1.1 ${err.status} ${STATUS_TEXT[err.status] ?? 'Error'}\r\nContent-Type: ${JSON_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nX-Content-Type-Options: nosniff\r\n${extra}Connection: close\r\n\r\n${body}`;
}
