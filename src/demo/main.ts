/**
 * `npm start`: the embedded demo. Starts the monitoring tree with `configs/` (collector,
 * performance monitor, alerting, and the dashboard on 127.0.0.1), an instrumented demo HTTP
 * service under a bounded loopback load (some errors, some slow requests), and a demo alert rule
 * on the error rate. Ctrl-C stops everything in order.
 *
 * `configs/` holds the source design's SLAs and thresholds (99.999 % uptime, 100 ms, 10,000 req/s),
 * which a demo at about 20 req/s with 25 % failing `/api/flaky` requests violates on purpose; the
 * library's own defaults (no configDir) set no SLA and no throughput threshold.
 *
 * Environment: DEMO_PORT (service port, default any free port), DEMO_LOAD_SECONDS (default 1800).
 */
import { fileURLToPath } from 'node:url';
import { routeTable, startMonitoring } from '../index.js';
import { startDemoService, startLoad } from './demo-service.js';

const configDir = fileURLToPath(new URL('../../../configs', import.meta.url));
const mon = await startMonitoring({
  configDir,
  alertRules: [
    {
      name: 'demo_high_error_rate',
      metric: 'error_rate',
      condition: 'gt',
      threshold: 0.2,
      duration: 30_000,
      severity: 'warning',
      annotations: {
        summary: 'More than 20% of demo requests fail',
        description: 'error rate {{ $value }} over the performance window',
      },
    },
  ],
});
const service = await startDemoService(Number(process.env.DEMO_PORT ?? 0));
mon.instrument.http(service.server, {
  name: 'demo',
  route: routeTable(['/', '/api/items', '/api/slow', '/api/flaky']),
});
const dashboard = await mon.dashboardAddress();
const load = startLoad(service.url, { durationMs: Number(process.env.DEMO_LOAD_SECONDS ?? 1800) * 1000 });
let stopping = false;
void load.done.then((n) => {
  if (!stopping) console.log(`load generator finished after ${n} requests; the service keeps running`);
});

console.log(`erlmcp-monitor demo
  demo service  ${service.url}/   (routes /api/items, /api/slow, /api/flaky)
  dashboard     ${dashboard.url}/
  metrics       ${dashboard.url}/metrics
  health        ${dashboard.url}/health
  data          ${mon.config.monitoring.data_dir}
SLAs and thresholds: the source design's, from configs/ (99.999 % uptime, 100 ms, 10,000 req/s),
which this demo violates on purpose; embedded without a configDir there are none.
Press Ctrl-C to stop.`);

async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log(`\n${signal}: stopping...`);
  load.stop();
  await service.close();
  await mon.stop();
  console.log('stopped cleanly: timers cancelled, last flush written, store closed.');
}
process.once('SIGINT', () => void shutdown('SIGINT'));
process.once('SIGTERM', () => void shutdown('SIGTERM'));
