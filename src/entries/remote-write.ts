/**
 * `erlmcp-monitor/remote-write`: Prometheus remote write 1.0 (the encoder and the exporter the
 * collector runs with `export_enabled`). Every export here is public API.
 */
export { encodeWriteRequest, writeRequestBody, REMOTE_WRITE_HEADERS } from '../export/remote-write.js';
export { RemoteWriteExporter } from '../export/remote-write-exporter.js';

export type { RemoteWriteExporterOptions } from '../export/remote-write-exporter.js';
