/**
 * Another process opens the store read-only (the compiled MetricStore from dist/) while this
 * process keeps writing: it sees what was committed, and keeps seeing new commits while it stays open.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import { MetricStore } from '../../src/store/lmdb-store.js';
import {
  assertBuilt,
  expectMonitorError,
  killChildren,
  type LineChild,
  spawnFixture,
  tempStores,
} from './store-fixture.js';

interface ReaderAnswer {
  id: number | undefined;
  defs: string[];
  points: [number, number][];
  latest: [number, number] | null;
  current: unknown;
  writeError: string | null;
}

let stores: ReturnType<typeof tempStores> | undefined;
let child: LineChild | undefined;

beforeAll(() => assertBuilt());

afterEach(async () => {
  await killChildren();
  child = undefined;
  await stores?.cleanup();
  stores = undefined;
});

async function ask(reader: LineChild, key: string): Promise<ReaderAnswer> {
  reader.send(key);
  return JSON.parse(await reader.nextLine()) as ReaderAnswer;
}

describe('MetricStore read-only from another process', () => {
  it('sees committed points, current values and definitions, and new commits while it stays open', async () => {
    stores = tempStores();
    const writer = stores.open();
    const cpu = writer.defineSeries('cpu.percent', { name: 'cpu.percent', type: 'gauge', unit: '%' });
    writer.defineSeries('requests.total{method="GET"}', {
      name: 'requests.total',
      type: 'counter',
      labels: { method: 'GET' },
    });
    await writer.flush({
      current: [[cpu, { v: 12.5 }]],
      points: [
        { id: cpu, ts: 1_000, value: 10 },
        { id: cpu, ts: 2_000, value: 12.5 },
      ],
    });

    child = spawnFixture('reader.mjs', [stores.dir], 15_000);
    expect(await child.nextLine()).toBe('ready');
    const first = await ask(child, 'cpu.percent');
    expect(first).toEqual({
      id: cpu,
      defs: ['cpu.percent', 'requests.total{method="GET"}'],
      points: [
        [1_000, 10],
        [2_000, 12.5],
      ],
      latest: [2_000, 12.5],
      current: { v: 12.5 },
      writeError: ErrorCode.StoreFailed,
    });

    // The reader stays open; these commits must show up in its next answer.
    const mem = writer.defineSeries('memory.rss', { name: 'memory.rss', type: 'gauge', unit: 'bytes' });
    await writer.flush({
      current: [
        [cpu, { v: 40 }],
        [mem, { v: 1024 }],
      ],
      points: [
        { id: cpu, ts: 3_000, value: 40 },
        { id: mem, ts: 3_000, value: 1024 },
      ],
    });
    const second = await ask(child, 'cpu.percent');
    expect(second.points).toEqual([
      [1_000, 10],
      [2_000, 12.5],
      [3_000, 40],
    ]);
    expect(second.latest).toEqual([3_000, 40]);
    expect(second.current).toEqual({ v: 40 });
    expect(second.defs).toContain('memory.rss');
    expect((await ask(child, 'memory.rss')).points).toEqual([[3_000, 1024]]);
    expect((await ask(child, 'no.such.series')).id).toBeUndefined();
  });

  it('refuses a second writer while another process writes, and takes over once that process is gone', async () => {
    stores = tempStores();
    child = spawnFixture('flush-loop.mjs', [stores.dir, '10'], 15_000);
    expect(await child.nextLine()).toBe('flushed 1');
    expectMonitorError(
      () => MetricStore.open({ dataDir: stores!.dir }),
      ErrorCode.StoreLocked,
      new RegExp(
        `^the metric store at ${stores.dir} is already open for writing by another process \\(pid ${child.proc.pid} on host .*\\): it holds the lock on .*writer\\.lock\\. A store has one writer: .*readOnly: true \\}\\)$`,
      ),
    );
    const reader = stores.open({ readOnly: true });
    expect(reader.queryRange(reader.seriesId('seq')!, 10, 19, 100)).toHaveLength(10);
    await reader.close();

    child.proc.kill('SIGKILL');
    await child.exited;
    const writer = stores.open();
    expect(writer.defineSeries('seq', { name: 'seq', type: 'counter' })).toBe(1);
  });
});
