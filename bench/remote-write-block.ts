/**
 * The remote-write export of 10,000 counter series, as the collector runs it every
 * `export_interval`: `RemoteWriteExporter.collect` (every series, 1,000-sample batches, encoded and
 * snappy-compressed on the main thread) with the queue persisted in a real LMDB store, sending to
 * a 127.0.0.1 receiver that answers 204. Prints the wall time of one collect, the longest
 * event-loop block during it (setImmediate gap probe: CPU and wall) and the bytes queued.
 * Run after `npm run build`: `node dist/bench/remote-write-block.js`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { PersistedBatch } from '../src/export/export-queue.js';
import { RemoteWriteExporter } from '../src/export/remote-write-exporter.js';
import { createLogger } from '../src/logger.js';
import { Registry } from '../src/metrics/registry.js';
import { MetricStore } from '../src/store/lmdb-store.js';
import { fmtMs, median, startBlockProbe } from './harness.js';

const SERIES = 10_000;
const RUNS = 7;

async function main(): Promise<void> {
  let bytes = 0;
  const server = http.createServer((req, res) => {
    req.on('data', (chunk: Buffer) => (bytes += chunk.length));
    req.on('end', () => res.writeHead(204).end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'erlmcp-rw-bench-'));
  const store = MetricStore.open({ dataDir: dir });
  const logger = createLogger({ level: 'silent' });
  const registry = new Registry({ seriesLimit: SERIES + 100, logger });
  const c = registry.counter('http.requests', { help: 'requests', labels: ['route', 'code'] });
  for (let i = 0; i < SERIES; i++) c.inc({ route: `/api/v1/resource/${i}`, code: String(200 + (i % 5)) }, i + 1);
  for (const persist of [false, true]) {
    const exporter = new RemoteWriteExporter({
      endpoint: `http://127.0.0.1:${port}/api/v1/write`,
      registry,
      logger,
      externalLabels: { job: 'bench', instance: 'host-1' },
      persist: persist ? store.records<PersistedBatch>('remote_write_queue') : undefined,
    });
    const walls: number[] = [];
    const cpus: number[] = [];
    const blockWalls: number[] = [];
    let batches = 0;
    for (let r = 0; r < RUNS; r++) {
      bytes = 0;
      const probe = startBlockProbe();
      const t0 = performance.now();
      const summary = await exporter.collect(Date.now());
      walls.push(performance.now() - t0);
      const block = probe.stop();
      cpus.push(block.cpuMs);
      blockWalls.push(block.wallMs);
      batches = summary.batches;
      while (exporter.queue.pending > 0) await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await exporter.close(1000);
    console.log(
      `${SERIES} series, persist=${persist}: collect wall ${fmtMs(median(walls))} (median of ${RUNS}), ` +
        `longest block CPU ${fmtMs(median(cpus))} / wall ${fmtMs(median(blockWalls))} (worst ${fmtMs(Math.max(...blockWalls))}), ` +
        `${batches} batches, ${(bytes / 1024).toFixed(0)} KiB sent per round`,
    );
  }
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  server.close();
}

await main();
