import { afterEach, describe, expect, it } from 'vitest';
import { decodeWriteRequestBody } from '../../src/export/remote-write.js';
import { RemoteWriteExporter } from '../../src/export/remote-write-exporter.js';
import { Registry } from '../../src/metrics/registry.js';
import { memoryLogger, until } from '../helpers.js';
import { startReceiver } from './receiver-fixture.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('RemoteWriteExporter with a namespaced registry', () => {
  it('sends the namespaced names the scrape shows, runtime families unprefixed', async () => {
    const receiver = await startReceiver([{ status: 204 }]);
    cleanups.push(() => receiver.close());
    const registry = new Registry({ logger: memoryLogger(), namespace: 'shop' });
    const exporter = new RemoteWriteExporter({
      endpoint: `${receiver.url}/api/v1/write`,
      registry,
      logger: memoryLogger(),
      externalLabels: { job: 'test' },
    });
    cleanups.push(() => exporter.close(500));
    registry.counter('jobs').inc(3);
    registry.gauge('process.open_fds').set(12);
    await exporter.collect(1_000_000);
    await until(() => expect(receiver.requests).toHaveLength(1));
    const names = decodeWriteRequestBody(receiver.requests[0]!.body).timeseries.map(
      (ts) => ts.labels.find((l) => l.name === '__name__')!.value,
    );
    expect(names).toEqual(['shop_jobs_total', 'process_open_fds']);
  });
});
