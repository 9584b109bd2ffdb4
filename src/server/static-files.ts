/**
 * `StaticFiles`: the page and its assets, from this package, never from a CDN.
 *
 * - `/` (and `/index.html`): `src/dashboard-page/index.html`;
 * - `/assets/uPlot.iife.min.js`, `/assets/uPlot.min.css`: uPlot's own build, resolved from the
 *   `uplot` package wherever npm installed it;
 * - `/assets/<name>`: any other file directly in `src/dashboard-page/` (a plain file name: no
 *   directories, no leading dot), e.g. `app.js`, `app.css`.
 * The page directory is found from the package root (the nearest directory above this module
 * with a `package.json`), so it is the same whether this runs from `src/` (tests) or `dist/src/`.
 * Files are read on each request (they are small and few; an edited page shows on reload).
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ErrorCode, MonitorError } from '../errors.js';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};
const FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const UPLOT_FILES = new Set(['uPlot.iife.min.js', 'uPlot.min.css']);
/** Files larger than this are not served (nothing in the page comes close). */
const MAX_FILE_BYTES = 8 * 1024 * 1024;

/**
 * The package root: the nearest directory at or above `from` that holds a `package.json`.
 * @param from a file URL or path inside the package (default: this module)
 * @throws {MonitorError} `EMON_INVALID_OPTION` if there is none up to the file-system root
 */
export function packageRoot(from: string = import.meta.url): string {
  let dir = path.dirname(from.startsWith('file:') ? fileURLToPath(from) : from);
  for (;;) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new MonitorError(ErrorCode.InvalidOption, `no package.json found above ${from}`);
    dir = parent;
  }
}

/** A file to send. */
export interface StaticFile {
  body: Buffer;
  contentType: string;
}

export class StaticFiles {
  readonly pageDir: string;
  readonly #uplotDir: string;

  /**
   * @param pageDir the page's directory (default `<package root>/src/dashboard-page`)
   * @throws {MonitorError} `EMON_INVALID_OPTION` if the `uplot` package cannot be found
   */
  constructor(pageDir: string = path.join(packageRoot(), 'src', 'dashboard-page')) {
    this.pageDir = pageDir;
    let main: string;
    try {
      main = createRequire(import.meta.url).resolve('uplot');
    } catch (err) {
      throw new MonitorError(
        ErrorCode.InvalidOption,
        'the dashboard page needs the "uplot" package, which is not installed',
        { cause: err },
      );
    }
    this.#uplotDir = path.dirname(main);
  }

  /** Every URL path it serves: `/`, `/index.html` and `/assets/<name>` for each file (for access tests). */
  async paths(): Promise<string[]> {
    const names: string[] = [];
    for (const entry of await readdir(this.pageDir, { withFileTypes: true })) {
      if (entry.isFile() && FILE_NAME.test(entry.name) && !entry.name.includes('..')) names.push(entry.name);
    }
    return ['/', '/index.html', ...[...UPLOT_FILES, ...names].map((name) => `/assets/${name}`)];
  }

  /**
   * The file for a URL path, or `undefined` if there is none (a 404).
   * @param urlPath the decoded path, e.g. `/` or `/assets/app.js`
   */
  async get(urlPath: string): Promise<StaticFile | undefined> {
    let file: string | undefined;
    if (urlPath === '/' || urlPath === '/index.html') file = path.join(this.pageDir, 'index.html');
    else if (urlPath.startsWith('/assets/')) {
      const name = urlPath.slice('/assets/'.length);
      if (UPLOT_FILES.has(name)) file = path.join(this.#uplotDir, name);
      else if (FILE_NAME.test(name) && !name.includes('..')) file = path.join(this.pageDir, name);
    }
    if (file === undefined) return undefined;
    try {
      const info = await stat(file);
      if (!info.isFile() || info.size > MAX_FILE_BYTES) return undefined;
      return {
        body: await readFile(file),
        contentType: CONTENT_TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream',
      };
    } catch {
      return undefined;
    }
  }
}
