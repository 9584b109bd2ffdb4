/**
 * What the dashboard shows of the tree's other processes: each source is looked up by name at
 * each use, so it follows restarts, and a process that is down is shown as down.
 */
import type { DerivedValues } from '../src/metrics/derived-values.js';
import type { OtpSystem, ServerRef } from '../src/otp/index.js';
import type { Scores } from '../src/server/protocol.js';
import { type DashboardSources, storeHealthOf } from '../src/server/dashboard-sources.js';
import type { StreamedExposition } from '../src/exposition/negotiate.js';
import type { MetricStore } from '../src/store/lmdb-store.js';
import { ALERTING_NAME, type AlertingProtocol } from './alerting.js';
import { COLLECTOR_NAME } from './collector.js';
import { DASHBOARD_NAME } from './dashboard.js';
import { PERFORMANCE_MONITOR_NAME, type PerformanceMonitorProtocol } from './performance-monitor.js';

export interface TreeViewParts {
  system: OtpSystem;
  performance: ServerRef<PerformanceMonitorProtocol>;
  alerting: ServerRef<AlertingProtocol>;
  derived: DerivedValues;
  exposition: (accept: string | undefined) => StreamedExposition;
  store: MetricStore;
}

/** The dashboard's sources in the running tree. */
export function treeDashboardSources({
  system,
  performance,
  alerting,
  derived,
  exposition,
  store,
}: TreeViewParts): DashboardSources {
  const names = [COLLECTOR_NAME, PERFORMANCE_MONITOR_NAME, ALERTING_NAME, DASHBOARD_NAME];
  return {
    report: () => performance.call({ type: 'report' }),
    slas: () => performance.call({ type: 'check_slas' }),
    deadLetters: () => alerting.call({ type: 'dead_letters' }),
    alerts: () => alerting.call({ type: 'alert_views' }),
    scores: () => derivedScores(derived),
    metrics: async (accept) => exposition(accept),
    processes: () =>
      Object.fromEntries(names.map((name) => [name, system.whereis(name) === undefined ? 'down' : 'running'])),
    storeHealth: () => storeHealthOf(store.writeStatus()),
  };
}

/** The newest `score.*` figures the performance monitor derived; `null` until there is one. */
export function derivedScores(derived: DerivedValues): Scores | null {
  const score = (kind: keyof Scores): number | null => derived.get(`score.${kind}`)?.value ?? null;
  const scores: Scores = {
    latency: score('latency'),
    throughput: score('throughput'),
    error_rate: score('error_rate'),
    resources: score('resources'),
    overall: score('overall'),
  };
  return Object.values(scores).some((value) => value !== null) ? scores : null;
}
