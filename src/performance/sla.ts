/**
 * SLAs: each configured SLA's current value over its window, its compliance and its status
 * (`ok`, `warning` within 5 %, `violated`, `no_data`). Unlike the source's `current / target`, the
 * ratio follows the SLA's direction (lower is better for response time and error rate), capped at
 * 100. The ratio is lenient for availability: its error budget and burn-rate alerts (`burn-rate.ts`)
 * watch that closely. Per-kind definitions: docs/design-notes.md.
 */
import type { SlaConfig } from '../config/schema.js';
import { QUANTILES } from '../metrics/window-stats.js';
import type { SlaView } from '../server/protocol.js';
import type { WindowCounts } from './counter-history.js';
import type { LatencyWindow } from './latency-history.js';

/** Below this compliance (%) an SLA is violated (the source's rule). */
export const VIOLATION_COMPLIANCE = 95;

/** One SLA's evaluation: the dashboard's `SlaView` plus what it rests on. */
export interface SlaResult extends SlaView {
  /** The SLA's configured window, ms. */
  window_ms: number;
  /** The time the value actually covers (less than the window until that much history exists), ms. */
  covered_ms: number;
  /** Requests (or response-time observations) behind the value. */
  samples: number;
  /** When it was evaluated, ms since the epoch. */
  at: number;
}

/** What an SLA's current value is computed from. */
export interface SlaInputs {
  /** Requests and errors over the last `windowMs`; undefined without request history. */
  counts(windowMs: number): WindowCounts | undefined;
  /** Response times over the last `windowMs`; undefined without latency history. */
  latency(windowMs: number): LatencyWindow | undefined;
  /** Error budget left over the SLA's window (availability and error-rate SLOs), 0..1 or null. */
  budgetRemaining?(sla: SlaConfig): number | null;
}

/** The source's compliance ratio in the SLA's direction, capped at 100 (see the module comment). */
export function compliance(current: number, target: number, direction: SlaConfig['direction']): number {
  if (direction === 'higher_is_better') return target <= 0 ? 100 : Math.min(100, Math.max(0, (current / target) * 100));
  if (current <= 0) return 100;
  return Math.min(100, Math.max(0, (target / current) * 100));
}

/** ok / warning / violated for a compliance (%). */
export function slaStatus(compliancePercent: number): 'ok' | 'warning' | 'violated' {
  if (compliancePercent >= 100) return 'ok';
  return compliancePercent >= VIOLATION_COMPLIANCE ? 'warning' : 'violated';
}

/** The SLA's current value over its window, or why there is none. */
export function slaCurrent(
  sla: SlaConfig,
  inputs: SlaInputs,
): { current: number | null; covered_ms: number; samples: number } {
  if (sla.kind === 'response_time') {
    const w = inputs.latency(sla.window);
    const p95 = w?.sketch.quantile(QUANTILES.p95);
    return { current: p95 ?? null, covered_ms: w?.coveredMs ?? 0, samples: w?.sketch.count ?? 0 };
  }
  const c = inputs.counts(sla.window);
  if (c === undefined || c.coveredMs <= 0) return { current: null, covered_ms: 0, samples: 0 };
  const covered = { covered_ms: c.coveredMs, samples: c.requests };
  switch (sla.kind) {
    case 'throughput':
      return { current: c.requests / (c.coveredMs / 1000), ...covered };
    case 'availability':
      return { current: c.requests === 0 ? null : (1 - Math.min(1, c.errors / c.requests)) * 100, ...covered };
    case 'error_rate':
      return { current: c.requests === 0 ? null : Math.min(1, c.errors / c.requests), ...covered };
  }
}

/** Evaluates one SLA at `at`. */
export function evaluateSla(sla: SlaConfig, inputs: SlaInputs, at: number): SlaResult {
  const { current, covered_ms, samples } = slaCurrent(sla, inputs);
  const c = current === null ? null : compliance(current, sla.target, sla.direction);
  const result: SlaResult = {
    name: sla.name,
    kind: sla.kind,
    target: sla.target,
    unit: sla.unit,
    direction: sla.direction,
    current,
    compliance: c,
    status: c === null ? 'no_data' : slaStatus(c),
    window_ms: sla.window,
    covered_ms,
    samples,
    at,
  };
  if ((sla.kind === 'availability' || sla.kind === 'error_rate') && inputs.budgetRemaining !== undefined) {
    result.budget_remaining = inputs.budgetRemaining(sla);
  }
  return result;
}
