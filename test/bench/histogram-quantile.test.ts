import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { histogramQuantile } from '../../bench/percentile.bench.js';
import { missingSystemDeps } from '../system-deps.js';

type Buckets = { le: number; count: number }[];

const BUCKETS: Buckets = [
  { le: 1, count: 10 },
  { le: 2, count: 20 },
  { le: 4, count: 30 },
  { le: Infinity, count: 40 },
];

describe('histogramQuantile (the bench’s copy of Prometheus histogram_quantile)', () => {
  it('interpolates linearly inside the bucket that holds the rank', () => {
    expect(histogramQuantile(0.6, BUCKETS)).toBeCloseTo(2.8, 12); // rank 24: 4 of 10 into (2, 4]
    expect(histogramQuantile(0.5, BUCKETS)).toBeCloseTo(2, 12);
  });

  it('starts the first bucket at 0 and answers the last finite bound for ranks in +Inf', () => {
    expect(histogramQuantile(0.1, BUCKETS)).toBeCloseTo(0.4, 12);
    expect(histogramQuantile(0.9, BUCKETS)).toBe(4);
  });

  it('is NaN without observations or without a +Inf bucket', () => {
    expect(
      histogramQuantile(
        0.5,
        BUCKETS.map((b) => ({ ...b, count: 0 })),
      ),
    ).toBeNaN();
    expect(histogramQuantile(0.5, BUCKETS.slice(0, 3))).toBeNaN();
  });

  const skip = missingSystemDeps('/usr/bin/promtool');
  it.skipIf(skip !== undefined)(
    `agrees with promtool's own histogram_quantile${skip ? ` (skipped: ${skip})` : ''}`,
    async () => {
      // Uneven buckets and counts, as prom-client's defaults produce them.
      const cases: { buckets: Buckets; q: number }[] = [
        { buckets: BUCKETS, q: 0.6 },
        { buckets: BUCKETS, q: 0.95 },
        {
          buckets: [
            { le: 0.005, count: 3 },
            { le: 0.01, count: 17 },
            { le: 0.025, count: 160 },
            { le: 0.05, count: 411 },
            { le: 0.1, count: 733 },
            { le: 0.25, count: 951 },
            { le: 0.5, count: 990 },
            { le: Infinity, count: 1000 },
          ],
          q: 0.99,
        },
      ];
      for (const [i, c] of cases.entries()) {
        const ours = histogramQuantile(c.q, c.buckets);
        const dir = mkdtempSync(path.join(os.tmpdir(), 'erlmcp-promtool-'));
        try {
          const series = c.buckets
            .map(
              (b) =>
                `      - series: 'h_bucket{le="${b.le === Infinity ? '+Inf' : b.le}"}'\n        values: '${b.count}'`,
            )
            .join('\n');
          const file = path.join(dir, 'test.yml');
          writeFileSync(
            file,
            `tests:\n  - interval: 1m\n    input_series:\n${series}\n    promql_expr_test:\n      - expr: histogram_quantile(${c.q}, h_bucket)\n        eval_time: 0m\n        exp_samples:\n          - labels: '{}'\n            value: ${ours}\n`,
          );
          // promtool exits non-zero (and says what it got) when the value differs from ours.
          const result = await promisify(execFile)('/usr/bin/promtool', ['test', 'rules', file]).catch(
            (err: unknown) => err as { stdout?: string; stderr?: string },
          );
          expect(`${result.stdout ?? ''}${result.stderr ?? ''}`, `case ${i}`).toMatch(/SUCCESS/);
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      }
    },
  );
});
