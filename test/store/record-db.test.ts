import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import { expectMonitorError, expectMonitorRejection, tempStores } from './store-fixture.js';

let stores: ReturnType<typeof tempStores>;

beforeEach(() => {
  stores = tempStores();
});

afterEach(async () => {
  await stores.cleanup();
});

describe('RecordDb', () => {
  it('keeps records across a close and reopen, in key order', async () => {
    const store = stores.open();
    const sla = store.records<{ status: string }>('sla_history');
    await sla.put([2000, 1], { status: 'violated' });
    await sla.put([1000, 1], { status: 'ok' });
    await sla.put([1000, 2], { status: 'warning' });
    await store.close();

    const again = stores.open().records<{ status: string }>('sla_history');
    expect(again.range().map(([key, value]) => [key, value.status])).toEqual([
      [[1000, 1], 'ok'],
      [[1000, 2], 'warning'],
      [[2000, 1], 'violated'],
    ]);
    expect(again.range({ start: [1000, 2], end: [2000] }).map(([, v]) => v.status)).toEqual(['warning']);
    expect(again.range({ reverse: true, limit: 1 }).map(([, v]) => v.status)).toEqual(['violated']);
    expect(again.get([1000, 1])).toEqual({ status: 'ok' });
  });

  it('separates collections by name and returns the same collection for the same name', async () => {
    const store = stores.open();
    await store.records<number>('a').put('k', 1);
    await store.records<number>('b').put('k', 2);
    expect(store.records('a')).toBe(store.records('a'));
    expect(store.records<number>('a').get('k')).toBe(1);
    expect(store.records<number>('b').get('k')).toBe(2);
  });

  it('trims the oldest records down to a count and removes single ones', async () => {
    const db = stores.open().records<number>('h');
    for (let i = 0; i < 10; i++) await db.put(i, i * 10);
    expect(await db.trim(4)).toBe(6);
    expect(db.range().map(([k]) => k)).toEqual([6, 7, 8, 9]);
    await db.remove(7);
    expect(db.count()).toBe(3);
    await db.clear();
    expect(db.count()).toBe(0);
  });

  it('lets a read-only opener read what the writer committed, and refuses its writes', async () => {
    const writer = stores.open();
    await writer.records<string>('alerts').put('x', 'firing');
    const reader = stores.open({ readOnly: true });
    expect(reader.records<string>('alerts').get('x')).toBe('firing');
    await expectMonitorRejection(reader.records<string>('alerts').put('y', 'z'), ErrorCode.StoreFailed, /read-only/);
    expectMonitorError(() => reader.records('missing'), ErrorCode.StoreFailed, /no collection "missing"/);
  });

  it('rejects bad names, keys and values and writes nothing', async () => {
    const store = stores.open();
    expectMonitorError(() => store.records('bad name!'), ErrorCode.InvalidOption, /invalid record collection name/);
    const db = store.records<unknown>('c');
    expectMonitorError(() => db.put('', 1), ErrorCode.InvalidRecord, /invalid key ""/);
    expectMonitorError(() => db.put([Number.NaN], 1), ErrorCode.InvalidRecord, /invalid key/);
    expectMonitorError(() => db.put('k', undefined), ErrorCode.InvalidRecord, /value is undefined/);
    expect(db.count()).toBe(0);
  });

  it('waits for pending record writes on close, then refuses more', async () => {
    const store = stores.open();
    const db = store.records<number>('outbox');
    const write = db.put('n1', 1);
    await store.close();
    await write;
    expect(() => db.get('n1')).toThrow(/closed/);
    expect(stores.open().records<number>('outbox').get('n1')).toBe(1);
  });
});
