// Loader hook for worker threads started from the TypeScript sources under vitest (Node 20 has no
// type stripping): a worker given `execArgv: ['--import', <this file>]` loads `.ts` modules,
// transpiled by TypeScript, and resolves their `./x.js` imports to `./x.ts`. See
// src/store/flush-writer.ts (threadProgram).
import { register } from 'node:module';

register('./ts-worker-loader.mjs', import.meta.url);
