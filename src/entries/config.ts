/**
 * `erlmcp-monitor/config`: the configuration loader `startMonitoring` uses (files, environment,
 * overrides), to check or show a configuration. Every export here is public API.
 */
export { loadConfig, redactConfig, ConfigError, ENV_OVERRIDES } from '../config/index.js';

export type {
  Config,
  DeepPartial,
  MonitoringConfig,
  PerformanceMonitorConfig,
  AlertingConfig,
  DashboardConfig,
  LoadConfigOptions,
} from '../config/index.js';
