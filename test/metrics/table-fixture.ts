import { Registry } from '../../src/metrics/registry.js';
import { SliceClock } from '../../src/metrics/slice-clock.js';
import { memoryLogger } from '../helpers.js';

export function newRegistry(seriesLimit?: number) {
  const logger = memoryLogger();
  const clock = new SliceClock(10_000, 0);
  const registry = new Registry({ logger, clock, ...(seriesLimit === undefined ? {} : { seriesLimit }) });
  return { registry, logger, clock };
}

/** Everything in the table, to prove a refused update changed nothing. */
export function tableState(registry: Registry): string {
  return JSON.stringify(
    registry
      .metrics()
      .map((m) => ({ name: m.name, type: m.type, series: m.series().map((s) => [s.key, s.snapshot()]) })),
  );
}
