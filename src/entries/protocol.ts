/**
 * `erlmcp-monitor/protocol`: the dashboard's wire protocol (the live feed over `WS /ws` and the
 * JSON API), for clients of your own. Types only. Every export here is public API.
 */
export type {
  AlertView,
  ChartDef,
  ChartSeriesDef,
  ChartType,
  ClientMsg,
  DashboardDef,
  HistoryResponse,
  Point,
  RealtimeResponse,
  Scores,
  ServerMsg,
  SlaView,
  Subscription,
} from '../server/protocol.js';
export type {
  ChartPoints,
  DashboardResponse,
  FrameHealth,
  HealthResponse,
  SeriesStat,
  StoreHealth,
} from '../server/protocol.js';
export type { DashboardSources } from '../server/dashboard-sources.js';
