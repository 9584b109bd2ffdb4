/**
 * `erlmcp-monitor/store`: the LMDB metric store, to read history from another process (open it
 * `readOnly`). Every export here is public API.
 */
export { MetricStore } from '../store/lmdb-store.js';

export type { SeriesDef, StoreOptions, RangePoint, StoreStats, WriteStatus } from '../store/types.js';
