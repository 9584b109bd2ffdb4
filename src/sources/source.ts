/**
 * A metric source measures something on each collection tick and writes it into the metric
 * table (gauges, counters, histograms it registered when constructed). The collector starts the
 * sources of one incarnation in `init`, calls `collect` every `collection_interval`, and stops
 * them in `terminate`; a source that throws is logged and skipped for that tick, never fatal.
 */
export interface MetricSource {
  /** For logs, e.g. `'process'`. */
  readonly name: string;
  /** Begins measuring (enable observers, take the first reading). */
  start(): void;
  /** Writes the current readings into the metric table. */
  collect(): void;
  /** Releases what `start` took (observers, histograms). Idempotent. */
  stop(): void;
}
