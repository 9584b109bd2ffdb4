/**
 * The Python reference client's strict OpenMetrics parser (Debian's python3-prometheus-client,
 * `prometheus_client.openmetrics.parser`) on the demo's full metric set, and on the exposition of
 * every pair of names the registry refuses (test/exposition/colliding-pairs.ts): the parser
 * rejects each such pair, which is why the registry does.
 */
import { spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { renderOpenMetrics } from '../../src/exposition/openmetrics-text.js';
import { Registry } from '../../src/metrics/registry.js';
import { memoryLogger } from '../helpers.js';
import { missingSystemDeps } from '../system-deps.js';
import { COLLIDING_PAIRS, declare, pairExposition } from './colliding-pairs.js';
import { demoMonitor } from './demo-metrics.js';

const PYTHON = '/usr/bin/python3';
const PARSER = '/usr/lib/python3/dist-packages/prometheus_client/openmetrics/parser.py';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Parses stdin strictly; prints the families as JSON, or exits 1 with the parser's error. */
const SCRIPT = `
import json, sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
try:
    families = [{"name": f.name, "type": f.type, "unit": f.unit, "samples": len(f.samples)} for f in text_string_to_metric_families(sys.stdin.read())]
except Exception as e:
    print(f"{type(e).__name__}: {e}", file=sys.stderr)
    sys.exit(1)
print(json.dumps(families))
`;

interface Parsed {
  ok: boolean;
  families: { name: string; type: string; unit: string; samples: number }[];
  error: string;
}

function parse(exposition: string): Parsed {
  const run = spawnSync(PYTHON, ['-c', SCRIPT], { input: exposition, encoding: 'utf8', timeout: 20_000 });
  if (run.status === 0) return { ok: true, families: JSON.parse(run.stdout) as Parsed['families'], error: '' };
  return {
    ok: false,
    families: [],
    error: run.stderr.trim() || `exit ${String(run.status)} ${String(run.error ?? '')}`,
  };
}

const missing = missingSystemDeps(PYTHON, PARSER);

describe.skipIf(missing !== undefined)(
  `strict OpenMetrics parser${missing === undefined ? '' : ` (skipped: ${missing})`}`,
  () => {
    it.each([[''], ['shop']])(
      'accepts the full demo set (namespace %j) once the performance monitor has published',
      async (namespace) => {
        const mon = await demoMonitor(cleanups, { namespace });
        const parsed = parse(await renderOpenMetrics(mon.metrics));
        expect(parsed.error).toBe('');
        const ns = namespace === '' ? '' : `${namespace}_`;
        const byName = new Map(parsed.families.map((f) => [f.name, f]));
        expect(byName.get(`${ns}http_server_requests`)).toMatchObject({ type: 'counter' });
        expect(byName.get(`${ns}http_server_duration_seconds`)).toMatchObject({ type: 'histogram', unit: 'seconds' });
        expect(byName.get(`${ns}perf_latency_seconds`)).toMatchObject({ type: 'gauge', unit: 'seconds', samples: 3 });
        expect(byName.get(`${ns}perf_throughput_requests_per_second`)).toMatchObject({ type: 'gauge', samples: 1 });
        expect(byName.get(`${ns}perf_sla_compliance_percent`)).toMatchObject({ type: 'gauge', unit: 'percent' });
        // Every family the registry rendered came back.
        const rendered = mon.metrics.metrics().filter((m) => m.series().length > 0).length;
        expect(parsed.families).toHaveLength(rendered);
      },
    );

    it.each(COLLIDING_PAIRS)('rejects the exposition of %o beside %o, the pair the registry refuses', async (a, b) => {
      const together = await pairExposition(a, b);
      const parsed = parse(together);
      expect(parsed.ok).toBe(false);
      expect(parsed.error).toMatch(/^ValueError: (Clashing name|Received metadata after samples|Duplicate)/);
      // ... while each alone is accepted (so the rejection is the collision's).
      for (const m of [a, b]) {
        const registry = new Registry({ logger: memoryLogger() });
        declare(registry, m);
        expect(parse(await renderOpenMetrics(registry)).error).toBe('');
      }
      const registry = new Registry({ logger: memoryLogger() });
      declare(registry, a);
      expect(() => declare(registry, b)).toThrow(/rename one of them/);
    });
  },
);
