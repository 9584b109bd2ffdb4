import { describe, expect, it } from 'vitest';

describe('public index (built)', () => {
  it('exports exactly the public names', async () => {
    // The built output, as a user gets it (a variable path: dist/ need not exist at typecheck).
    const built = '../dist/src/index.js';
    const index = (await import(built)) as Record<string, unknown>;
    expect(Object.keys(index).sort()).toEqual(
      [
        'COLLECTOR_NAME',
        'CallTimeoutError',
        'ConfigError',
        'Counter',
        'CounterSeries',
        'DEFAULT_BUCKETS',
        'DROPPED_SERIES_METRIC',
        'ENV_OVERRIDES',
        'Gauge',
        'GaugeSeries',
        'Histogram',
        'HistogramSeries',
        'MetricStore',
        'PROMETHEUS_CONTENT_TYPE',
        'Registry',
        'SliceClock',
        'Sketch',
        'SlidingSketch',
        'WINDOWS',
        'loadConfig',
        'redactConfig',
        'renderPrometheusText',
        'serveMetrics',
        'DEFAULT_CALL_TIMEOUT',
        'ErrorCode',
        'MonitorError',
        'NoProcError',
        'OtpSystem',
        'TimerRef',
        'checkChildSpecs',
        'checkFlags',
        'createLogger',
        'formatExitReason',
        'isOrderlyExit',
        'startMonitoring',
        'startServer',
        'startSupervisor',
        'supervisorChild',
        'workerChild',
      ].sort(),
    );
  });
});
