/**
 * erlmcp_monitor_sup: the top supervisor of the monitoring tree (one_for_one, 10 restarts in 60 s,
 * like erlmcp's observability supervisor). Its children, in start order, are the metric table
 * owner, the collector, the performance monitor, alerting and the dashboard; they stop in reverse.
 */
import { type ChildSpec, type OtpSystem, startSupervisor, type SupervisorPid } from '../src/otp/index.js';

export const MONITOR_SUP_NAME = 'erlmcp_monitor_sup';

export const MONITOR_SUP_FLAGS = { strategy: 'one_for_one', intensity: 10, period: 60_000 } as const;

/** Starts the top supervisor with the given children (in start order). */
export function startMonitorSup(system: OtpSystem, children: readonly ChildSpec[]): Promise<SupervisorPid> {
  return startSupervisor(system, { flags: MONITOR_SUP_FLAGS, children }, { name: MONITOR_SUP_NAME });
}
