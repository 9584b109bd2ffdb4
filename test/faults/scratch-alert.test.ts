import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { open } from 'lmdb';
import { afterEach, it } from 'vitest';
import { onCleanup, runCleanups, startTree } from './tree-fixture.js';
afterEach(runCleanups);
it('with webhook', async () => {
  let posts = 0;
  const server = http.createServer((req, res) => { req.resume(); req.on('end', () => { posts++; res.writeHead(200).end('ok'); }); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  onCleanup(() => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  const slow = { monitoring: { collection_interval: 60000, aggregation_interval: 60000 }, performance_monitor: { check_interval: 60000 } };
  const { mon, dataDir } = await startTree({ config: { ...slow, alerting: { check_interval: 60000, channels: { webhook: { enabled: true, url } }, routing: { info: ['webhook'] } } } as never });
  const env = open({ path: dataDir, readOnly: true, maxDbs: 64 });
  const txn = () => (env.getStats() as { lastTxnId: number }).lastTxnId;
  const before = txn();
  const t0 = performance.now();
  const res = await Promise.allSettled(Array.from({ length: 10_000 }, (_, i) => mon.alerting.sendAlert('info', `m${i}`)));
  const t1 = performance.now();
  const codes: Record<string, number> = {};
  for (const r of res) { const k = r.status === 'fulfilled' ? 'ok' : (r.reason as { code: string }).code; codes[k] = (codes[k] ?? 0) + 1; }
  console.log('took', Math.round(t1 - t0), codes, 'txns', txn() - before, 'posts so far', posts);
  await env.close();
}, 120_000);
