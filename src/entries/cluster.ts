/**
 * `erlmcp-monitor/cluster`: `node:cluster` workers report their tables to the primary, which
 * merges them and serves one exposition. Every export here is public API.
 */
export { startClusterPrimary } from '../cluster/cluster-primary.js';
export { startClusterWorker } from '../cluster/cluster-worker.js';
export { ClusterView } from '../cluster/cluster-view.js';

export type { ClusterPrimary, ClusterPrimaryOptions } from '../cluster/cluster-primary.js';
export type { ClusterWorkerOptions, ClusterWorkerReporter } from '../cluster/cluster-worker.js';
export type { ClusterAggregation } from '../cluster/cluster-view.js';
