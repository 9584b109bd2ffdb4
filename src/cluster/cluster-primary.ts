/**
 * The primary side of a node:cluster deployment: it runs the monitoring tree (the one writable
 * store of the LMDB env), receives the workers' metric reports over the cluster IPC channel, and
 * merges them with its own table into a {@link ClusterView}, so one `/metrics` shows every
 * process (labelled by worker, or summed, per `cluster_aggregation`).
 */
import type { Cluster, Worker } from 'node:cluster';
import type { Logger } from '../logger.js';
import type { Registry } from '../metrics/registry.js';
import { type Exposition, renderExposition } from '../exposition/negotiate.js';
import { isClusterMetricsMessage } from './cluster-messages.js';
import { type ClusterAggregation, ClusterView, PRIMARY_SOURCE } from './cluster-view.js';
import { snapshotChanged } from './registry-snapshot.js';

/** Options of {@link startClusterPrimary}. */
export interface ClusterPrimaryOptions {
  /** The node:cluster module (in the primary). */
  cluster: Cluster;
  /** The primary's own table, shown as source `primary` (omit to show only workers). */
  local?: Registry;
  mode: ClusterAggregation;
  logger: Logger;
  /** Prefix of the exposed names (see `RegistryOptions.namespace`); default `local`'s, else none. */
  namespace?: string;
}

/** The running primary side. */
export interface ClusterPrimary {
  readonly view: ClusterView;
  /** Merges the primary's own changed series now (`exposition` does it first). */
  refresh(): void;
  /** The merged exposition in the format the Accept header asks for. */
  exposition(accept: string | undefined): Promise<Exposition>;
  /** Stops listening to the workers. */
  close(): void;
}

/** Starts merging worker reports into a new view. */
export function startClusterPrimary(options: ClusterPrimaryOptions): ClusterPrimary {
  const view = new ClusterView({
    mode: options.mode,
    logger: options.logger,
    namespace: options.namespace ?? options.local?.namespace,
  });
  const sent = new Map<string, number>();
  const onMessage = (worker: Worker, msg: unknown) => {
    if (isClusterMetricsMessage(msg)) view.merge(String(worker.id), msg.metrics);
  };
  const onExit = (worker: Worker) => view.forget(String(worker.id));
  options.cluster.on('message', onMessage);
  options.cluster.on('exit', onExit);
  const refresh = () => {
    if (options.local !== undefined) view.merge(PRIMARY_SOURCE, snapshotChanged(options.local, sent));
  };
  return {
    view,
    refresh,
    exposition(accept) {
      refresh();
      return renderExposition(view.registry, accept);
    },
    close() {
      options.cluster.off('message', onMessage);
      options.cluster.off('exit', onExit);
    },
  };
}
