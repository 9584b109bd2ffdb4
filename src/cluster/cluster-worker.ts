/**
 * The worker side of a node:cluster deployment: the worker records into its own in-memory
 * `Registry` (no store: the primary is the single writer of the LMDB env; a worker that wants
 * history opens the env with `MetricStore.open({ dataDir, readOnly: true })`), and every
 * `intervalMs` sends the series that changed to the primary over the IPC channel.
 */
import { ErrorCode, MonitorError } from '../errors.js';
import type { Registry } from '../metrics/registry.js';
import { CLUSTER_METRICS_MESSAGE, type ClusterMetricsMessage } from './cluster-messages.js';
import { snapshotChanged } from './registry-snapshot.js';

/** Options of {@link startClusterWorker}. */
export interface ClusterWorkerOptions {
  registry: Registry;
  /** ms between reports (default 1000). */
  intervalMs?: number;
  /** Sends one message to the primary (default `process.send`, which node:cluster workers have). */
  send?: (msg: ClusterMetricsMessage) => void;
}

/** A running reporter. */
export interface ClusterWorkerReporter {
  /** Sends the changed series now. */
  report(): void;
  /** Sends a last report and stops the timer. */
  stop(): void;
}

/**
 * Starts reporting. @throws {MonitorError} `EMON_INVALID_OPTION` when there is no IPC channel
 * (not a cluster worker) or for a bad interval
 */
export function startClusterWorker(options: ClusterWorkerOptions): ClusterWorkerReporter {
  const send =
    options.send ??
    (process.send === undefined
      ? undefined
      : (msg: ClusterMetricsMessage) => {
          // A primary that is gone closes the channel; reporting then has nowhere to go.
          if (process.connected) process.send!(msg);
        });
  if (send === undefined)
    throw new MonitorError(
      ErrorCode.InvalidOption,
      'cluster worker: this process has no IPC channel to a primary (start it with node:cluster fork)',
    );
  const intervalMs = options.intervalMs ?? 1000;
  if (!Number.isInteger(intervalMs) || intervalMs < 1 || intervalMs > 2_147_483_647) {
    throw new MonitorError(
      ErrorCode.InvalidOption,
      `cluster worker: intervalMs must be a positive integer (ms), got ${String(intervalMs)}`,
    );
  }
  const sent = new Map<string, number>();
  const report = () => {
    const metrics = snapshotChanged(options.registry, sent);
    if (metrics.length > 0) send({ type: CLUSTER_METRICS_MESSAGE, metrics });
  };
  const timer = setInterval(report, intervalMs);
  // Reporting alone must not keep a worker alive that has finished its work.
  timer.unref();
  return {
    report,
    stop() {
      clearInterval(timer);
      report();
    },
  };
}
