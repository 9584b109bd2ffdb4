/**
 * `npm start`: the embedded demo. Starts the monitoring tree with `configs/`, an instrumented
 * demo HTTP service on 127.0.0.1 under a bounded loopback load (some errors, some slow requests),
 * and `/metrics` in the Prometheus text format. Ctrl-C stops everything in order.
 *
 * Environment: DEMO_PORT (service port, default any free port), DEMO_LOAD_SECONDS (default 1800).
 */
import { fileURLToPath } from 'node:url';
import { startMonitoring } from '../index.js';
import { serveMetrics } from '../server/metrics-server.js';
import { startDemoService, startLoad } from './demo-service.js';

const configDir = fileURLToPath(new URL('../../../configs', import.meta.url));
const mon = await startMonitoring({ configDir });
const service = await startDemoService(Number(process.env.DEMO_PORT ?? 0));
mon.instrument.http(service.server, { name: 'demo' });
const metrics = await serveMetrics(mon.metrics, { host: mon.config.dashboard.host, port: mon.config.dashboard.port });
const load = startLoad(service.url, { durationMs: Number(process.env.DEMO_LOAD_SECONDS ?? 1800) * 1000 });
let stopping = false;
void load.done.then((n) => {
  if (!stopping) console.log(`load generator finished after ${n} requests; the service keeps running`);
});

console.log(`erlmcp-monitor demo
  demo service  ${service.url}/   (routes /api/items, /api/slow, /api/flaky)
  metrics       ${metrics.url}/metrics
  health        ${metrics.url}/health
  data          ${mon.config.monitoring.data_dir}
Press Ctrl-C to stop.`);

async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log(`\n${signal}: stopping...`);
  load.stop();
  await service.close();
  await metrics.close();
  await mon.stop();
  console.log('stopped cleanly: timers cancelled, last flush written, store closed.');
}
process.once('SIGINT', () => void shutdown('SIGINT'));
process.once('SIGTERM', () => void shutdown('SIGTERM'));
