import { afterEach, describe, expect, it, vi } from 'vitest';
import { flushTable } from '../../src/store/table-store.js';
import type { HistoryResponse } from '../../src/server/protocol.js';
import { MAX_COMBINED_SERIES } from '../../src/server/history-query.js';
import { newRegistry } from '../metrics/table-fixture.js';
import { runCleanups, startDashboard } from './dashboard-fixture.js';

afterEach(runCleanups);

const T0 = 1_700_000_000_000;

async function getJson<T>(url: string): Promise<{ status: number; body: T }> {
  const res = await fetch(url);
  return { status: res.status, body: (await res.json()) as T };
}

describe('dashboard history with a chart series wider than one may combine', () => {
  it(`answers every chart, combining the first ${MAX_COMBINED_SERIES} series of the wide one and marking it truncated`, async () => {
    const f = await startDashboard();
    const routes = MAX_COMBINED_SERIES + 50;
    const requests = f.registry.counter('http.server.requests', { labels: ['server', 'method', 'code'] });
    for (let i = 0; i < routes; i++) requests.inc({ server: `s${i}`, method: 'GET', code: '200' }, 1);
    requests.inc({ server: 's0', method: 'GET', code: '500' }, 1);
    await flushTable(f.registry, f.store, T0);
    for (let i = 0; i < routes; i++) requests.inc({ server: `s${i}`, method: 'GET', code: '200' }, 2);
    requests.inc({ server: 's0', method: 'GET', code: '500' }, 3);
    await flushTable(f.registry, f.store, T0 + 1000);
    // The series are matched and counted by slot: no handle per series (a million-series metric would make a million).
    const handles = vi.spyOn(requests, 'seriesAt');
    const lists = vi.spyOn(requests, 'series');

    for (const path of ['history', 'export']) {
      const got = await getJson<HistoryResponse>(`${f.url}/api/${path}?dashboard=main&from=${T0}&to=${T0 + 10_000}`);
      expect(got.status).toBe(200);
      const byChart = new Map(got.body.series.map((s) => [`${s.chart}/${s.label}`, s]));
      const ok = byChart.get('status_codes/2xx')!;
      expect(ok.truncated).toEqual({ combined: MAX_COMBINED_SERIES, matching: routes });
      // Each combined series rose by 2 in 1 s: the rate is the sum over the ones combined.
      expect(ok.points).toEqual([[T0 + 1000, 2 * MAX_COMBINED_SERIES]]);
      const bad = byChart.get('status_codes/5xx')!;
      expect(bad.truncated).toBeUndefined();
      expect(bad.points).toEqual([[T0 + 1000, 3]]);
    }
    // A single-metric query for as many is still refused, with the reason.
    const all = await getJson<{ error: string }>(
      `${f.url}/api/history?metric=http.server.requests&from=${T0}&to=${T0 + 10_000}`,
    );
    expect(all.status).toBe(400);
    expect(all.body.error).toContain(`has ${routes + 1} series matching no labels`);
    expect(all.body.error).toContain(`history combines at most ${MAX_COMBINED_SERIES}`);
    expect(handles).not.toHaveBeenCalled();
    expect(lists).not.toHaveBeenCalled();
  });
});

describe('history of a series the table does not hold', () => {
  it('reads it from the store by key while its metric has other series in the table', async () => {
    const f = await startDashboard({
      config: {
        dashboards: [
          {
            name: 'jobs',
            title: 'Jobs',
            charts: [
              {
                id: 'old',
                title: 'Old',
                series: [{ label: 'old', metric: 'jobs', labels: { queue: 'old', tenant: 'a' } }],
              },
            ],
          },
        ],
      },
    });
    // An earlier run wrote `jobs{tenant="a",queue="old"}`; this run's table has only another series.
    const { registry: earlier } = newRegistry();
    const before = earlier.counter('jobs', { labels: ['tenant', 'queue'] });
    before.inc({ tenant: 'a', queue: 'old' }, 4);
    await flushTable(earlier, f.store, T0);
    before.inc({ tenant: 'a', queue: 'old' }, 6);
    await flushTable(earlier, f.store, T0 + 2000);
    f.registry.counter('jobs', { labels: ['tenant', 'queue'] }).inc({ tenant: 'a', queue: 'new' }, 1);

    // Labels given in another order than declared still find the stored key.
    const labels = encodeURIComponent(JSON.stringify({ queue: 'old', tenant: 'a' }));
    const one = await getJson<HistoryResponse>(
      `${f.url}/api/history?metric=jobs&labels=${labels}&from=${T0}&to=${T0 + 10_000}`,
    );
    expect(one.status).toBe(200);
    expect(one.body.series[0]!.points).toEqual([
      [T0, 4],
      [T0 + 2000, 10],
    ]);
    const rate = await getJson<HistoryResponse>(
      `${f.url}/api/history?metric=jobs&stat=rate&labels=${labels}&from=${T0}&to=${T0 + 10_000}`,
    );
    expect(rate.body.series[0]!.points).toEqual([[T0 + 2000, 3]]);
    const dash = await getJson<HistoryResponse>(`${f.url}/api/history?dashboard=jobs&from=${T0}&to=${T0 + 10_000}`);
    expect(dash.body.series[0]!.points).toEqual([
      [T0, 4],
      [T0 + 2000, 10],
    ]);

    const missing = encodeURIComponent(JSON.stringify({ tenant: 'b', queue: 'old' }));
    const none = await getJson<HistoryResponse>(
      `${f.url}/api/history?metric=jobs&labels=${missing}&from=${T0}&to=${T0 + 10_000}`,
    );
    expect(none.status).toBe(200);
    expect(none.body.series[0]!.points).toEqual([]);
  });
});

describe('history of a label_prefix naming a label the metric does not have', () => {
  it('matches no series, from the table or from the store, even for a name every object inherits', async () => {
    const chart = (id: string, metric: string) => ({
      id,
      title: id,
      series: ['constructor', 'toString', 'nope'].map((name) => ({
        label: name,
        metric,
        label_prefix: { [name]: '' },
      })),
    });
    const f = await startDashboard({
      config: {
        dashboards: [{ name: 'odd', title: 'Odd', charts: [chart('stored', 'jobs'), chart('table', 'hits')] }],
      },
    });
    // `jobs` only an earlier run wrote (read from the store's definitions); `hits` in this run's table.
    const { registry: earlier } = newRegistry();
    earlier.counter('jobs', { labels: ['queue'] }).inc({ queue: 'a' }, 4);
    await flushTable(earlier, f.store, T0);
    f.registry.counter('hits', { labels: ['queue'] }).inc({ queue: 'a' }, 1);
    await flushTable(f.registry, f.store, T0 + 1000);

    const got = await getJson<HistoryResponse>(`${f.url}/api/history?dashboard=odd&from=${T0}&to=${T0 + 10_000}`);
    expect(got.status).toBe(200);
    expect(got.body.series.map((s) => [s.chart, s.label, s.points])).toEqual(
      ['stored', 'table'].flatMap((c) => ['constructor', 'toString', 'nope'].map((l) => [c, l, []])),
    );
  });
});
