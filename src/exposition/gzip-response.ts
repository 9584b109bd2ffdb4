/**
 * Writing `/metrics`: gzip when the scraper asks for it (Prometheus sends `Accept-Encoding: gzip`):
 * the exposition is piped through a zlib stream, whose compression runs on libuv's thread pool in
 * 16 KiB pieces, so a large exposition is never compressed in one block on the event loop.
 *
 * A streamed exposition ({@link sendChunks}) is pulled chunk by chunk through a stream pipeline,
 * which asks for the next chunk only when the response (and gzip) took the last one: a slow
 * reader leaves at most a chunk or two buffered here, never the exposition, and the render
 * (which yields between chunks, see exposition-chunks.ts) waits for it.
 */
import type { ServerResponse } from 'node:http';
import { pipeline, Readable } from 'node:stream';
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
export function sendGzipped(
  res: ServerResponse,
  status: number,
  headers: Record<string, string | number>,
  body: string,
): void {
  const { 'content-length': _length, ...rest } = headers;
  res.writeHead(status, { ...rest, 'content-encoding': 'gzip' });
  const gzip = createGzip();
  pipeline(gzip, res, (err) => {
    if (err !== undefined && err !== null) res.destroy();
  });
  gzip.end(body);
}

/**
 * Writes `chunks` as the body of `res` after the status and headers given, gzip-compressed when
 * `gzip` (`content-encoding: gzip` added), chunked (no content-length). The next chunk is pulled
 * only once the response has taken the previous one (backpressure: the drain of the socket, and of
 * zlib when compressing). A failure of the render or the connection destroys the response (the
 * client sees a cut connection, not a short body) and stops the render.
 * @param chunks the body, e.g. a {@link StreamedExposition}'s chunks
 */
export function sendChunks(
  res: ServerResponse,
  status: number,
  headers: Record<string, string | number>,
  chunks: AsyncIterable<string>,
  gzip: boolean,
): void {
  const { 'content-length': _length, ...rest } = headers;
  res.writeHead(status, gzip ? { ...rest, 'content-encoding': 'gzip' } : rest);
  const body = Readable.from(chunks, { objectMode: false });
  const done = (err: NodeJS.ErrnoException | null): void => {
    if (err !== null && err !== undefined) res.destroy();
  };
  if (gzip) pipeline(body, createGzip(), res, done);
  else pipeline(body, res, done);
}
