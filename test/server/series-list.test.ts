import { afterEach, describe, expect, it } from 'vitest';
import type { HistoryResponse, SeriesListResponse } from '../../src/server/protocol.js';
import { MAX_COMBINED_SERIES } from '../../src/server/history-query.js';
import { MAX_PAGE } from '../../src/server/series-list.js';
import { runCleanups, startDashboard } from './dashboard-fixture.js';

afterEach(runCleanups);

async function get<T>(url: string): Promise<{ status: number; body: T }> {
  const res = await fetch(url);
  return { status: res.status, body: (await res.json()) as T };
}

describe('/api/series', () => {
  it('pages through every series of a metric, never more than limit at once, and none twice or missing', async () => {
    const f = await startDashboard();
    const c = f.registry.counter('jobs', { labels: ['id'] });
    for (let i = 0; i < 2_500; i++) c.inc({ id: String(i) }, i);
    const seen = new Set<string>();
    let after: string | undefined;
    let pages = 0;
    do {
      const { status, body } = await get<SeriesListResponse>(
        `${f.url}/api/series?metric=jobs&limit=1000${after === undefined ? '' : `&after=${after}`}`,
      );
      expect(status).toBe(200);
      expect(body.items.length).toBeLessThanOrEqual(1000);
      for (const item of body.items) {
        expect(seen.has(item.key!)).toBe(false);
        seen.add(item.key!);
        expect(item.value).toBe(Number(item.labels!.id));
      }
      after = body.next;
      pages++;
    } while (after !== undefined && pages < 10);
    expect(pages).toBe(3);
    expect(seen.size).toBe(2_500);
  });

  it('searches by a substring of the series key, stopping once the page is full', async () => {
    const f = await startDashboard();
    const c = f.registry.counter('jobs', { labels: ['tenant'] });
    for (let i = 0; i < 3_000; i++) c.inc({ tenant: i % 1_000 === 7 ? `acme-${i}` : `t${i}` });
    const first = await get<SeriesListResponse>(`${f.url}/api/series?metric=jobs&match=acme&limit=2`);
    expect(first.body.items.map((s) => s.labels!.tenant)).toEqual(['acme-7', 'acme-1007']);
    expect(first.body.scanned).toBeLessThan(1_100);
    const rest = await get<SeriesListResponse>(
      `${f.url}/api/series?metric=jobs&match=acme&limit=2&after=${first.body.next}`,
    );
    expect(rest.body.items.map((s) => s.labels!.tenant)).toEqual(['acme-2007']);
    expect(rest.body.next).toBeUndefined();
  });

  it('lists metrics without metric=, and refuses a bad limit or an unknown metric with the reason', async () => {
    const f = await startDashboard();
    f.registry.counter('jobs').inc();
    f.registry.gauge('depth').set(3);
    const metrics = await get<SeriesListResponse>(`${f.url}/api/series?match=job`);
    expect(metrics.body.items).toEqual([{ name: 'jobs', type: 'counter' }]);
    const big = await get<{ error: string }>(`${f.url}/api/series?metric=jobs&limit=${MAX_PAGE + 1}`);
    expect(big).toEqual({
      status: 400,
      body: { error: `limit must be an integer from 1 to ${MAX_PAGE}, got "${MAX_PAGE + 1}"` },
    });
    const zero = await get<{ error: string }>(`${f.url}/api/series?metric=jobs&limit=0`);
    expect(zero).toEqual({ status: 400, body: { error: `limit must be an integer from 1 to ${MAX_PAGE}, got "0"` } });
    const missing = await get<{ error: string }>(`${f.url}/api/series?metric=nope`);
    expect(missing).toEqual({
      status: 404,
      body: { error: 'no metric "nope" in the table (list them with /api/series)' },
    });
  });
});

describe('/api/history on a metric with many series', () => {
  it(`refuses to combine more than ${MAX_COMBINED_SERIES} series, and still answers one named series`, async () => {
    const f = await startDashboard();
    const c = f.registry.counter('jobs', { labels: ['id'] });
    for (let i = 0; i <= MAX_COMBINED_SERIES; i++) c.inc({ id: String(i) });
    const all = await get<{ error: string }>(`${f.url}/api/history?metric=jobs`);
    expect(all.status).toBe(400);
    expect(all.body.error).toBe(
      `metric "jobs" has ${MAX_COMBINED_SERIES + 1} series matching no labels: history combines at most ${MAX_COMBINED_SERIES}; name one series with labels (find them with /api/series)`,
    );
    const one = await get<HistoryResponse>(
      `${f.url}/api/history?metric=jobs&labels=${encodeURIComponent('{"id":"5"}')}`,
    );
    expect(one.status).toBe(200);
    expect(one.body.series).toHaveLength(1);
    const absent = await get<HistoryResponse>(
      `${f.url}/api/history?metric=jobs&labels=${encodeURIComponent('{"id":"none"}')}`,
    );
    expect(absent.status).toBe(200);
    expect(absent.body.series[0]!.points).toEqual([]);
  });
});
