/**
 * `npm run bench`: runs every suite, prints one markdown table per suite and writes the figures to
 * bench/results/latest.json with the machine, Node and package versions.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { markdownTable, type SuiteResult } from './harness.js';
import { expositionSuite } from './exposition.bench.js';
import { metricsSuite } from './metrics.bench.js';
import { otpSuite } from './otp.bench.js';
import { storeSuite } from './store.bench.js';

const suites: { run: () => Promise<SuiteResult>; baseline?: string }[] = [
  { run: metricsSuite },
  { run: otpSuite, baseline: 'bare nact dispatch (baseline)' },
  { run: storeSuite },
  { run: expositionSuite },
];

const root = fileURLToPath(new URL('../../', import.meta.url));
const results: SuiteResult[] = [];
for (const suite of suites) {
  const result = await suite.run();
  results.push(result);
  console.log(`${markdownTable(result, suite.baseline)}\n`);
}

const pkg = (name: string) => {
  try {
    return (JSON.parse(readFileSync(`${root}node_modules/${name}/package.json`, 'utf8')) as { version: string }).version;
  } catch {
    return undefined;
  }
};
mkdirSync(`${root}bench/results`, { recursive: true });
writeFileSync(
  `${root}bench/results/latest.json`,
  JSON.stringify(
    {
      date: new Date().toISOString(),
      machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, memoryGiB: Math.round(os.totalmem() / 2 ** 30), platform: `${os.platform()} ${os.release()}` },
      node: process.version,
      packages: { nact: pkg('nact'), tinybench: pkg('tinybench'), lmdb: pkg('lmdb'), 'prom-client': pkg('prom-client'), '@opentelemetry/sdk-metrics': pkg('@opentelemetry/sdk-metrics') },
      results,
    },
    null,
    2,
  ),
);
console.log('figures written to bench/results/latest.json');
