/**
 * gzip for `/metrics` when the scraper asks for it (Prometheus sends `Accept-Encoding: gzip`): the
 * exposition is piped through a zlib stream, whose compression runs on libuv's thread pool in
 * 16 KiB pieces, so a large exposition is never compressed in one block on the event loop (the
 * rendering itself yields between chunks, see exposition-chunks.ts).
 */
import type { ServerResponse } from 'node:http';
import { pipeline } from 'node:stream';
import { createGzip } from 'node:zlib';

/** What `/metrics` answers vary on: the format (Accept) and the compression (Accept-Encoding). */
export const METRICS_VARY = 'Accept, Accept-Encoding';

/**
 * Whether an Accept-Encoding header accepts gzip (RFC 9110: `gzip`, `x-gzip` or `*` with a
 * non-zero `q`; an explicit `gzip;q=0` refuses it even beside `*`).
 */
export function acceptsGzip(acceptEncoding: string | string[] | undefined): boolean {
  if (acceptEncoding === undefined) return false;
  const header = Array.isArray(acceptEncoding) ? acceptEncoding.join(',') : acceptEncoding;
  let star: boolean | undefined;
  for (const part of header.split(',')) {
    const [coding, ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    if (coding === undefined || coding === '') continue;
    let q = 1;
    for (const p of params) {
      const m = /^q\s*=\s*([0-9.]+)$/.exec(p);
      if (m !== null) q = Number(m[1]);
    }
    const ok = Number.isFinite(q) && q > 0;
    if (coding === 'gzip' || coding === 'x-gzip') return ok;
    if (coding === '*') star = ok;
  }
  return star ?? false;
}

/**
 * Ends `res` with `body` gzip-compressed through a zlib stream, after the status and headers
 * given (`content-encoding: gzip` added; no content-length, the response is chunked).
 * A failure of the stream destroys the response (the client sees a cut connection, not a wrong body).
 */
export function sendGzipped(res: ServerResponse, status: number, headers: Record<string, string | number>, body: string): void {
  const { 'content-length': _length, ...rest } = headers;
  res.writeHead(status, { ...rest, 'content-encoding': 'gzip' });
  const gzip = createGzip();
  pipeline(gzip, res, (err) => {
    if (err !== undefined && err !== null) res.destroy();
  });
  gzip.end(body);
}
