/**
 * `AlertSignal`: what another process tells the alerting actor about a condition it watches
 * itself (the performance monitor's thresholds, SLAs and burn rates). A signal is keyed by
 * `source` + `key` + `labels`: `firing` raises (or keeps) that alert, `resolved` resolves it. The
 * alerting actor fingerprints, deduplicates, routes and notifies; the sender only reports state
 * transitions (and may repeat `firing` each check; repeats are deduplicated).
 */
import type { Severity } from './severity.js';

export interface AlertSignal {
  /** Who watches the condition, e.g. `'performance_monitor'`. */
  source: string;
  /** What is watched, stable across checks, e.g. `'latency.p95'`, `'sla.response_time'`, `'burn_rate.fast.uptime'`. */
  key: string;
  state: 'firing' | 'resolved';
  severity: Severity;
  /** One line for people, e.g. `'latency p95 182.4 ms > threshold 100 ms (window 1m, 5,210 samples)'`. */
  message: string;
  /** The measured value and the threshold it was checked against, when there is one. */
  value?: number;
  threshold?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** When the sender observed the transition (ms since the epoch). */
  at: number;
}

/** Where a process sends its signals: the alerting actor by default, anything in tests. */
export type AlertSink = (signal: AlertSignal) => void;
