import { describe, expect, it } from 'vitest';

describe('public index (built)', () => {
  it('exports exactly the public names', async () => {
    const index = (await import('../dist/src/index.js')) as Record<string, unknown>;
    expect(Object.keys(index).sort()).toEqual(
      [
        'CallTimeoutError',
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
