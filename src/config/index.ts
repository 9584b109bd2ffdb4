/**
 * Configuration: the four validated config files, environment overrides and secret redaction.
 */
export { ConfigError, formatProblem } from './config-error.js';
export { ENV_OVERRIDES, loadConfig } from './load-config.js';
export { isSecretPath, REDACTED, redactConfig, SECRET_PATHS } from './redact-config.js';
export {
  alertingSchema,
  CHANNEL_NAMES,
  CONFIG_SECTIONS,
  dashboardSchema,
  MAX_TIMER_MS,
  monitoringSchema,
  performanceMonitorSchema,
  SEVERITIES,
  SLA_KINDS,
} from './schema.js';

export type { ConfigOrigin, ConfigProblem } from './config-error.js';
export type { EnvOverride, LoadConfigOptions } from './load-config.js';
export type {
  AlertingConfig,
  ChannelName,
  Config,
  ConfigSection,
  DashboardConfig,
  DeepPartial,
  DeepReadonly,
  MonitoringConfig,
  PerformanceMonitorConfig,
  Severity,
  SlaConfig,
} from './schema.js';
