/**
 * `erlmcp-monitor/exposition`: the Prometheus text format and OpenMetrics renderers and their
 * content negotiation, for serving a table from a server of your own. Every export here is public API.
 */
export { renderPrometheusText, PROMETHEUS_CONTENT_TYPE } from '../exposition/prometheus-text.js';
export { renderOpenMetrics, OPENMETRICS_CONTENT_TYPE } from '../exposition/openmetrics-text.js';
export { renderExposition, streamExposition, negotiateFormat, registrySource } from '../exposition/negotiate.js';

export type { ExpositionFormat, Exposition, ExpositionSource, StreamedExposition } from '../exposition/negotiate.js';
