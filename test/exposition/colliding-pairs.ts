/**
 * Pairs of metrics whose names collide in an exposition format: the registry refuses the second
 * of each pair (test/metrics/registry.test.ts), and the strict OpenMetrics parser rejects the
 * exposition the two would give together (test/exposition/openmetrics-parser.integration.test.ts).
 */
import type { MetricType } from '../../src/metrics/metric.js';
import { Registry } from '../../src/metrics/registry.js';
import { renderOpenMetrics } from '../../src/exposition/openmetrics-text.js';
import { memoryLogger } from '../helpers.js';

export interface Declared {
  name: string;
  type: MetricType;
  unit?: string;
}

export const COLLIDING_PAIRS: readonly (readonly [Declared, Declared])[] = [
  [
    { name: 'hits_total', type: 'counter' },
    { name: 'hits', type: 'gauge' },
  ],
  [
    { name: 'jobs', type: 'counter' },
    { name: 'jobs_total', type: 'gauge' },
  ],
  [
    { name: 'q', type: 'histogram' },
    { name: 'q_count', type: 'counter' },
  ],
  [
    { name: 'z', type: 'histogram' },
    { name: 'z_bucket', type: 'counter' },
  ],
  [
    { name: 'z', type: 'histogram' },
    { name: 'z_sum', type: 'gauge' },
  ],
  [
    { name: 'x', type: 'counter' },
    { name: 'x_created', type: 'gauge' },
  ],
  [
    { name: 'h', type: 'histogram' },
    { name: 'h_created', type: 'counter' },
  ],
  [
    { name: 'rt', type: 'histogram', unit: 'ms' },
    { name: 'rt_seconds_bucket', type: 'gauge' },
  ],
];

/** Declares `m` in `registry` and gives it one series, so it is rendered. */
export function declare(registry: Registry, m: Declared): void {
  const options = m.unit === undefined ? {} : { unit: m.unit };
  if (m.type === 'counter') registry.counter(m.name, options).inc();
  else if (m.type === 'gauge') registry.gauge(m.name, options).set(1);
  else registry.histogram(m.name, { ...options, buckets: [1] }).observe(0.5);
}

/**
 * The OpenMetrics exposition of both metrics together, as a registry without the collision check
 * would write it: each rendered alone, then one after the other with a single `# EOF`.
 */
export async function pairExposition(a: Declared, b: Declared): Promise<string> {
  const parts: string[] = [];
  for (const m of [a, b]) {
    const registry = new Registry({ logger: memoryLogger() });
    declare(registry, m);
    const om = await renderOpenMetrics(registry);
    // Only this metric's family: the registry's own dropped-series counter has no series.
    parts.push(om.slice(0, -'# EOF\n'.length));
  }
  return `${parts.join('')}# EOF\n`;
}
