import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

/** The runtime names of each entry point; their types are in api/*.api.md (`npm run api:check`). */
const PUBLIC_NAMES: Record<string, string[]> = {
  '.': [
    'CallTimeoutError',
    'DeliveryError',
    'ErrorCode',
    'HTTP_METRICS',
    'LOG_METRICS',
    'MCP_METRICS',
    'MonitorError',
    'NoProcError',
    'OTHER_HOST',
    'OTHER_ROUTE',
    'OUTBOUND_METRICS',
    'PG_METRICS',
    'PG_OPERATIONS',
    'SEVERITIES',
    'UNMATCHED_ROUTE',
    'createLogger',
    'expressRoute',
    'fastifyRoute',
    'routeTable',
    'serveMetrics',
    'startMonitoring',
  ],
  './otp': [
    'DEFAULT_CALL_TIMEOUT',
    'OtpSystem',
    'TimerRef',
    'checkChildSpecs',
    'checkFlags',
    'formatExitReason',
    'isOrderlyExit',
    'startServer',
    'startSupervisor',
    'supervisorChild',
    'workerChild',
  ],
  './metrics': [
    'Counter',
    'CounterSeries',
    'DEFAULT_BUCKETS',
    'DROPPED_SERIES_METRIC',
    'DerivedValues',
    'Gauge',
    'GaugeSeries',
    'Histogram',
    'HistogramSeries',
    'Registry',
    'Sketch',
    'SliceClock',
    'SlidingSketch',
    'WINDOWS',
  ],
  './store': ['MetricStore'],
  './exposition': [
    'OPENMETRICS_CONTENT_TYPE',
    'PROMETHEUS_CONTENT_TYPE',
    'negotiateFormat',
    'registrySource',
    'renderExposition',
    'renderOpenMetrics',
    'renderPrometheusText',
    'streamExposition',
  ],
  './notify': [
    'AlertmanagerChannel',
    'DeliveryError',
    'EmailChannel',
    'Outbox',
    'SlackChannel',
    'SmsChannel',
    'WebhookChannel',
    'createChannels',
  ],
  './remote-write': ['REMOTE_WRITE_HEADERS', 'RemoteWriteExporter', 'encodeWriteRequest', 'writeRequestBody'],
  './cluster': ['ClusterView', 'startClusterPrimary', 'startClusterWorker'],
  './config': ['ConfigError', 'ENV_OVERRIDES', 'loadConfig', 'redactConfig'],
  './protocol': [],
  './tree': ['ALERTING_NAME', 'COLLECTOR_NAME', 'DASHBOARD_NAME', 'MONITOR_SUP_NAME', 'PERFORMANCE_MONITOR_NAME'],
};

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  exports: Record<string, { types: string; import: string }>;
};

describe('public entry points (built)', () => {
  it('are exactly the subpaths of package.json `exports`, each with its types beside its module', () => {
    expect(Object.keys(pkg.exports).sort()).toEqual(Object.keys(PUBLIC_NAMES).sort());
    for (const [subpath, target] of Object.entries(pkg.exports)) {
      expect(target.types, subpath).toBe(target.import.replace(/\.js$/, '.d.ts'));
    }
  });

  it.each(Object.entries(PUBLIC_NAMES))('%s exports exactly its public names', async (subpath, names) => {
    // The built output, as a user gets it (a variable path: dist/ need not exist at typecheck).
    const built = new URL(`../${pkg.exports[subpath]!.import}`, import.meta.url).href;
    const entry = (await import(built)) as Record<string, unknown>;
    expect(Object.keys(entry).sort()).toEqual([...names].sort());
  });

  it('keeps the internals off the root: no store, OTP system, series or channel class', async () => {
    const root = (await import(new URL('../dist/src/index.js', import.meta.url).href)) as Record<string, unknown>;
    for (const internal of [
      'MetricStore',
      'OtpSystem',
      'CounterSeries',
      'Registry',
      'Outbox',
      'EmailChannel',
      'MONITOR_SUP_NAME',
    ]) {
      expect(root, internal).not.toHaveProperty(internal);
    }
  });
});
