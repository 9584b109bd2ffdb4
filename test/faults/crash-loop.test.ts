/**
 * Issue 9, item 1 (crash loop): an actor that crashes on every check exceeds the top supervisor's
 * intensity (10 restarts in 60 s). The tree then gives up cleanly: the supervisor's own report and
 * one line saying the host carries on, `stopped` settles, `onStop` runs once, nothing escapes to
 * the process, no timer or socket of the tree is left, and the host's own HTTP service and metric
 * table carry on.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MONITOR_SUP_NAME } from '../../actors/monitor-tree.js';
import { PERFORMANCE_MONITOR_NAME } from '../../actors/performance-monitor.js';
import { ErrorCode, MonitorError } from '../../src/errors.js';
import { PerformanceEvaluator } from '../../src/performance/evaluator.js';
import { activeResources, leakedAfterSettling, until } from '../helpers.js';
import { throwAlways } from './crash-fixture.js';
import { fdsUnder } from './hygiene-fixture.js';
import { hostService, onCleanup, runCleanups, startTree } from './tree-fixture.js';

afterEach(runCleanups);

/** Counts what reaches the process-level handlers while a test runs. */
function watchProcess(): { escaped: unknown[] } {
  const escaped: unknown[] = [];
  const onError = (err: unknown) => escaped.push(err);
  process.on('uncaughtException', onError);
  process.on('unhandledRejection', onError);
  onCleanup(() => {
    process.off('uncaughtException', onError);
    process.off('unhandledRejection', onError);
  });
  return { escaped };
}

describe('a crash loop beyond the restart intensity', () => {
  it('stops the tree, the supervisor reporting why and the tree saying so; the host service and the metric table keep working', async () => {
    const { escaped } = watchProcess();
    const host = await hostService();
    const before = activeResources();
    const onStop = vi.fn();
    const { mon, logger, dataDir } = await startTree({ onStop });
    mon.instrument.http(host.server, { name: 'host' });
    expect((await fetch(`${host.url}/`)).status).toBe(200);

    const injected = throwAlways(PerformanceEvaluator.prototype, 'evaluate', 'evaluate, every time');
    const reason = await mon.stopped;
    injected.restore();

    expect(typeof reason).toBe('object');
    const crash = (reason as { crash: MonitorError }).crash;
    expect(crash).toBeInstanceOf(MonitorError);
    expect(crash.code).toBe(ErrorCode.MaxRestartIntensity);
    expect(crash.message).toMatch(
      /^erlmcp_monitor_sup: more than 10 restart\(s\) within 60000 ms; last: child "erlmcp_performance_monitor" exited with EMON_CALLBACK_FAILED erlmcp_performance_monitor: handleInfo\(check\) threw: injected: evaluate, every time/,
    );
    // 10 restarts allowed, the 11th crash ends it.
    expect(injected.thrown).toBe(11);
    const restarts = logger.records.filter((r) => r.msg === 'child terminated: restarting');
    expect(restarts).toHaveLength(11);
    expect(restarts.every((r) => r.fields.child === PERFORMANCE_MONITOR_NAME)).toBe(true);

    // The supervisor reports its own give-up (OTP's supervisor_report, reached_max_restart_intensity,
    // naming the offender), then startMonitoring says the host carries on, with the reason. Was one
    // line: the supervisor stayed silent and exited with the reason; OTP's reports itself and exits shutdown.
    const aboutTheTree = logger.records.filter(
      (r) =>
        r.fields.server === MONITOR_SUP_NAME ||
        (r.fields.supervisor === MONITOR_SUP_NAME && r.fields.child === undefined) ||
        /intensity/i.test(`${r.msg} ${JSON.stringify(r.fields)}`),
    );
    expect(aboutTheTree.map((r) => `${r.level}: ${r.msg}`)).toEqual([
      'error: supervisor gave up: reached_max_restart_intensity',
      'error: monitoring tree stopped: the host application keeps running without monitoring',
    ]);
    expect(aboutTheTree[0]!.fields).toMatchObject({
      supervisor: MONITOR_SUP_NAME,
      offender: PERFORMANCE_MONITOR_NAME,
      detail: crash.message,
    });
    expect(aboutTheTree[1]!.fields.reason).toBe(`EMON_MAX_RESTART_INTENSITY ${crash.message}`);

    // The host keeps answering, and its requests are still counted in the table.
    const served = () =>
      Number(
        mon.metrics.getMetric('http.server.requests', { server: 'host', method: 'GET', route: '', code: '200' })
          ?.value ?? 0,
      );
    await until(() => expect(served()).toBe(1)); // the request before the crash loop
    for (let i = 0; i < 5; i++) expect((await fetch(`${host.url}/`)).status).toBe(200);
    await until(() => expect(served()).toBe(6)); // counted when each response closes
    mon.metrics.gauge('after_give_up').set(7);
    expect(mon.metrics.getMetric('after_give_up')?.value).toBe(7);

    // The tree's API answers (rejects) at once instead of hanging; the store is closed.
    await expect(mon.collector.call({ type: 'stats' })).rejects.toMatchObject({ code: ErrorCode.NoProc });
    await expect(mon.alerting.getActiveAlerts()).rejects.toMatchObject({ code: ErrorCode.NoProc });
    await expect(mon.dashboardAddress()).rejects.toMatchObject({ code: ErrorCode.NoProc });
    expect(fdsUnder(dataDir)).toEqual([]);

    expect(onStop).toHaveBeenCalledTimes(1);
    expect(onStop).toHaveBeenCalledWith(reason);
    await mon.stop(); // idempotent after giving up
    expect(onStop).toHaveBeenCalledTimes(1);

    // Nothing of the tree is left running (the host service was there before and stays; the
    // test's own keep-alive connections to it are closed first).
    host.server.closeAllConnections();
    expect(await leakedAfterSettling(before)).toEqual([]);
    expect(escaped).toEqual([]);
  });
});
