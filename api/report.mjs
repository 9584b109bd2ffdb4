/**
 * The API report: API Extractor reads the built declarations of each entry point of package.json
 * `exports` and writes its public surface to api/<entry>.api.md. `--check` (in `npm test`) fails
 * when a report differs from the checked-in one, so a change to the public surface is a reviewed
 * diff; without it the reports are rewritten (`npm run api:update`). Needs `npm run build` first.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CompilerState, Extractor, ExtractorConfig } from '@microsoft/api-extractor';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const check = process.argv.includes('--check');
const pkg = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8'));
const temp = mkdtempSync(path.join(os.tmpdir(), 'erlmcp-api-report-'));

/** The report's name for a subpath: `.` → index, `./otp` → otp. */
const reportName = (subpath) => (subpath === '.' ? 'index' : subpath.slice(2));

const entries = Object.entries(pkg.exports).map(([subpath, target]) => ({
  subpath,
  name: reportName(subpath),
  entry: path.join(REPO, target.types),
}));
const failed = [];
let compilerState;
try {
  for (const { subpath, name, entry } of entries) {
    const config = ExtractorConfig.prepare({
      configObject: {
        projectFolder: REPO,
        mainEntryPointFilePath: entry,
        compiler: {
          overrideTsconfig: {
            compilerOptions: {
              module: 'nodenext',
              moduleResolution: 'nodenext',
              target: 'es2022',
              lib: ['es2023'],
              types: ['node'],
              strict: true,
              skipLibCheck: true,
            },
            files: entries.map((e) => e.entry),
          },
        },
        // Forgotten exports (types reachable from the surface but not exported by name) are written
        // out too: a change to their shape changes what users hold just the same.
        apiReport: {
          enabled: true,
          reportFileName: name,
          reportFolder: path.join(REPO, 'api'),
          reportTempFolder: temp,
          includeForgottenExports: true,
        },
        docModel: { enabled: false },
        dtsRollup: { enabled: false },
        tsdocMetadata: { enabled: false },
        messages: {
          // The package has one release level (no @public/@beta tags) and JSDoc, not strict TSDoc.
          extractorMessageReporting: {
            default: { logLevel: 'warning' },
            'ae-missing-release-tag': { logLevel: 'none' },
            // A type reachable from the surface but not exported by name is in the report already
            // (includeForgottenExports); the message itself names a .d.ts line, which any comment
            // edit would move, so it stays out of the file.
            'ae-forgotten-export': { logLevel: 'none', addToApiReportFile: false },
            'ae-unresolved-link': { logLevel: 'none' },
            // Undocumented members are a documentation matter, not a change of surface.
            'ae-undocumented': { logLevel: 'none' },
          },
          tsdocMessageReporting: { default: { logLevel: 'none' } },
          compilerMessageReporting: { default: { logLevel: 'error' } },
        },
      },
      configObjectFullPath: path.join(REPO, 'api', `${name}.api-extractor.json`),
      packageJsonFullPath: path.join(REPO, 'package.json'),
    });
    // One compiler program for every entry: the declarations are read and checked once.
    compilerState ??= CompilerState.create(config, { additionalEntryPoints: entries.map((e) => e.entry) });
    const result = Extractor.invoke(config, { localBuild: !check, messageCallback: quiet, compilerState });
    if (!result.succeeded || (check && result.apiReportChanged)) failed.push(subpath);
    console.log(
      `${subpath.padEnd(16)} api/${name}.api.md ${result.apiReportChanged ? (check ? 'DIFFERS' : 'updated') : 'unchanged'}`,
    );
    if (check && result.apiReportChanged) {
      const diff = spawnSync(
        'git',
        ['diff', '--no-index', '--no-color', path.join('api', `${name}.api.md`), path.join(temp, `${name}.api.md`)],
        { cwd: REPO, encoding: 'utf8' },
      );
      console.log(diff.stdout);
    }
  }
} finally {
  rmSync(temp, { recursive: true, force: true });
}
if (failed.length > 0) {
  console.error(
    check
      ? `The public API changed (${failed.join(', ')}): review the diff, then run \`npm run api:update\` and commit api/*.api.md.`
      : `API Extractor failed for ${failed.join(', ')}.`,
  );
  process.exitCode = 1;
}

/** Prints warnings and errors, without API Extractor's banners and its advice to copy files (the diff says it). */
function quiet(message) {
  if (message.logLevel === 'info' || message.logLevel === 'verbose') message.handled = true;
  if (message.messageId === 'console-api-report-not-copied' || message.messageId === 'console-api-report-copied')
    message.handled = true;
}
