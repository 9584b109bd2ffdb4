import { describe, expect, it } from 'vitest';
import { csvText, historyToCsv } from '../../src/server/csv-export.js';

describe('csv export', () => {
  it('quotes fields with commas, quotes and line breaks, doubling quotes', () => {
    expect(csvText('plain')).toBe('plain');
    expect(csvText('a,b')).toBe('"a,b"');
    expect(csvText('say "hi"')).toBe('"say ""hi"""');
    expect(csvText('two\nlines')).toBe('"two\nlines"');
    expect(csvText('cr\rlf')).toBe('"cr\rlf"');
  });

  it('neutralizes text that a spreadsheet would run as a formula', () => {
    expect(csvText('=HYPERLINK("http://x")')).toBe(`"'=HYPERLINK(""http://x"")"`);
    expect(csvText('+1')).toBe("'+1");
    expect(csvText('-2')).toBe("'-2");
    expect(csvText('@SUM(A1)')).toBe("'@SUM(A1)");
    expect(csvText('\tx')).toBe("'\tx");
  });

  it('writes one row per point with ISO time and an empty value for no data', () => {
    const csv = historyToCsv({
      from: 0,
      to: 2000,
      series: [
        {
          chart: 'c1',
          label: '=p95',
          metric: 'm',
          labels: { a: 'x,y' },
          stat: 'p95',
          points: [
            [1000, 1.5],
            [2000, null],
          ],
        },
      ],
    });
    expect(csv.split('\r\n')).toEqual([
      'chart,series,metric,labels,stat,timestamp_ms,time,value',
      `c1,'=p95,m,"{""a"":""x,y""}",p95,1000,1970-01-01T00:00:01.000Z,1.5`,
      `c1,'=p95,m,"{""a"":""x,y""}",p95,2000,1970-01-01T00:00:02.000Z,`,
      '',
    ]);
  });
});
