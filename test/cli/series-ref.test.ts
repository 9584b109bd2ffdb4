import { describe, expect, it } from 'vitest';
import { closestKeys, parseSeriesRef, resolveSeries } from '../../src/cli/series-ref.js';
import { ErrorCode } from '../../src/errors.js';
import type { SeriesDef } from '../../src/store/types.js';
import { expectMonitorError } from '../helpers.js';

function def(id: number, name: string, labels: Record<string, string> = {}, suffix = ''): SeriesDef {
  const pairs = Object.entries(labels).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  const base = pairs.length === 0 ? name : `${name}{${pairs.join(',')}}`;
  return { id, key: `${base}${suffix}`, name: `${name}${suffix}`, type: 'gauge', help: '', unit: '', labels };
}

const DEFS: SeriesDef[] = [
  def(1, 'requests.total', { method: 'GET', code: '200' }),
  def(2, 'requests.total', { method: 'POST', code: '500' }),
  def(3, 'cpu.usage'),
  def(4, 'http.latency', { route: '/a"b' }, '#p95'),
];

describe('parseSeriesRef', () => {
  it('reads name{labels} quoted or not, escapes, spaces, and a derived suffix', () => {
    expect(parseSeriesRef('a.b{x="1", y=2}')).toEqual({ name: 'a.b', labels: { x: '1', y: '2' } });
    expect(parseSeriesRef('a{x="q\\"u\\\\o\\nte"}')).toEqual({ name: 'a', labels: { x: 'q"u\\o\nte' } });
    expect(parseSeriesRef('h{r="/"}#p95')).toEqual({ name: 'h#p95', labels: { r: '/' } });
    expect(parseSeriesRef('plain')).toEqual({ name: 'plain', labels: {} });
    expect(parseSeriesRef('a{x="1"')).toBeUndefined();
    expect(parseSeriesRef('a{1x="1"}')).toBeUndefined();
  });
});

describe('resolveSeries', () => {
  it('finds a series by key, by name{labels} in any order, by a name with one series, and by id', () => {
    expect(resolveSeries(DEFS, 'requests.total{method="GET",code="200"}', '/d').id).toBe(1);
    expect(resolveSeries(DEFS, 'requests.total{code=500,method=POST}', '/d').id).toBe(2);
    expect(resolveSeries(DEFS, 'cpu.usage', '/d').id).toBe(3);
    expect(resolveSeries(DEFS, 'http.latency{route="/a\\"b"}#p95', '/d').id).toBe(4);
    expect(resolveSeries(DEFS, '2', '/d').id).toBe(2);
    expect(resolveSeries(DEFS, '#3', '/d').id).toBe(3);
  });

  it('asks for labels when a name has several series, listing them', () => {
    expectMonitorError(
      () => resolveSeries(DEFS, 'requests.total', '/d'),
      ErrorCode.InvalidQuery,
      /"requests.total" has 2 series in \/d; name one with its labels, e.g.:\n {2}requests.total\{method="GET",code="200"\}/,
    );
  });

  it('lists the closest keys for an unknown series, and the id range for an unknown id', () => {
    expectMonitorError(
      () => resolveSeries(DEFS, 'cpu.usgae', '/d'),
      ErrorCode.InvalidQuery,
      /no series "cpu.usgae" in \/d; closest:\n {2}cpu.usage\n/,
    );
    expectMonitorError(
      () => resolveSeries(DEFS, 'requests.total{method="PUT"}', '/d'),
      ErrorCode.InvalidQuery,
      /closest:\n {2}requests.total\{method="GET",code="200"\}\n {2}requests.total\{method="POST",code="500"\}/,
    );
    expectMonitorError(
      () => resolveSeries(DEFS, '99', '/d'),
      ErrorCode.InvalidQuery,
      /^no series with id 99 in \/d \(ids run from 1 to 4\); list them with: erlmcp-monitor inspect \/d --series$/,
    );
    expectMonitorError(
      () => resolveSeries([], 'x', '/d'),
      ErrorCode.InvalidQuery,
      /^no series "x" in \/d \(the store has no series yet\)\n/,
    );
  });

  it('suggests nothing far away', () => {
    expect(closestKeys(DEFS, 'zzzzzzzzzzzz')).toEqual([]);
  });
});
