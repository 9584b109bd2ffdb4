/**
 * The performance summary's 0–100 scores (latency, throughput, error rate, resources, overall),
 * with the source's formulas (`calculate_performance_summary`), clamped to 0..100.
 *
 * Unlike the source, a score without data is `null` rather than invented from a 0 reading, and
 * overall is the mean of the scores that exist. Formulas: docs/design-notes.md.
 */
import type { PerformanceMonitorConfig } from '../config/schema.js';
import type { Scores } from '../server/protocol.js';
import type { Measurements } from './measurements.js';

function clamp(score: number): number {
  return Math.min(100, Math.max(0, score));
}

function mean(values: readonly (number | null)[]): number | null {
  const present = values.filter((v): v is number => v !== null);
  return present.length === 0 ? null : present.reduce((a, b) => a + b, 0) / present.length;
}

/** Scores of `m` against the thresholds of `config` (see the module comment). */
export function computeScores(m: Measurements, config: PerformanceMonitorConfig): Scores {
  const p95 = m['latency.p95'].value;
  const throughput = m.throughput.value;
  const errorRate = m.error_rate.value;
  const cpu = m.cpu.value;
  const memory = m.memory.value;
  const latency = p95 === null ? null : clamp(100 - (p95 / config.latency_threshold) * 100);
  const target = config.throughput_threshold;
  const throughputScore = throughput === null || target === undefined ? null : clamp((throughput / target) * 100);
  const errorScore =
    errorRate === null
      ? null
      : config.error_rate_threshold === 0
        ? errorRate > 0
          ? 0
          : 100
        : clamp(100 - (errorRate / config.error_rate_threshold) * 100);
  const resources = mean([cpu === null ? null : clamp(100 - cpu), memory === null ? null : clamp(100 - memory)]);
  return {
    latency,
    throughput: throughputScore,
    error_rate: errorScore,
    resources,
    overall: mean([latency, throughputScore, errorScore, resources]),
  };
}
