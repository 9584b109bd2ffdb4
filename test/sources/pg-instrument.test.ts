import { execFile } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import {
  CLIENT_ERROR_CODE,
  errorCodeOf,
  instrumentPg,
  operationOf,
  PG_METRICS,
  PG_OPERATIONS,
} from '../../src/sources/pg-instrument.js';
import { expectMonitorError } from '../helpers.js';
import { newRegistry } from '../metrics/table-fixture.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

/** Just enough of a pg-pool for the checks that need no server. */
class FakePool extends EventEmitter {
  totalCount = 0;
  idleCount = 0;
  waitingCount = 0;
  options = { max: 4 };
  connect(): Promise<never> {
    return Promise.reject(new Error('no server'));
  }
}

describe('operationOf', () => {
  it('reads the first keyword, whatever its case, after blanks, comments and parentheses', () => {
    expect(operationOf('SELECT 1')).toBe('SELECT');
    expect(operationOf('  \n\tselect * from t')).toBe('SELECT');
    expect(operationOf('insert into t values ($1)')).toBe('INSERT');
    expect(operationOf('Update t set a = 1')).toBe('UPDATE');
    expect(operationOf('DELETE FROM t')).toBe('DELETE');
    expect(operationOf('-- a note\n  -- another\nDELETE FROM t')).toBe('DELETE');
    expect(operationOf('/* a /* nested */ comment */ UPDATE t SET a = 2')).toBe('UPDATE');
    expect(operationOf('((SELECT 1) UNION (SELECT 2))')).toBe('SELECT');
    expect(operationOf('with x as (delete from t returning *) select * from x')).toBe('WITH');
    expect(operationOf('begin')).toBe('BEGIN');
    expect(operationOf('COMMIT;')).toBe('COMMIT');
    expect(operationOf('ROLLBACK TO SAVEPOINT a')).toBe('ROLLBACK');
  });

  it('counts the synonyms of BEGIN, COMMIT and ROLLBACK as those', () => {
    expect(operationOf('START TRANSACTION')).toBe('BEGIN');
    expect(operationOf('end')).toBe('COMMIT');
    expect(operationOf('ABORT')).toBe('ROLLBACK');
  });

  it('answers "other" for anything else, so no text of a query becomes a label value', () => {
    for (const text of [
      'SELEC 1',
      'selectx',
      '',
      '   ',
      '-- only a comment',
      '/* unterminated',
      '1 + 1',
      'sélect',
      'x'.repeat(5000),
      undefined,
      null,
      42,
      {},
    ]) {
      expect(operationOf(text)).toBe('other');
    }
    expect(operationOf('SELECTSELECTSELECT')).toBe('other');
  });

  it('only ever answers one of a fixed set of values', () => {
    const allowed = new Set<string>([...PG_OPERATIONS, 'other']);
    const words = ['select', 'truncate', 'drop', 'notify', 'grant', 'foo', 'listen', 'merge', 'explain', 'copy'];
    for (const w of words) expect(allowed.has(operationOf(`${w} something`))).toBe(true);
  });
});

describe('errorCodeOf', () => {
  it("is the server's SQLSTATE for a database error and 'client' otherwise", () => {
    expect(errorCodeOf(Object.assign(new Error('dup'), { code: '23505', severity: 'ERROR' }))).toBe('23505');
    expect(errorCodeOf(Object.assign(new Error('no table'), { code: '42P01', severity: 'ERROR' }))).toBe('42P01');
    // A socket error's code looks like a SQLSTATE but comes with no severity.
    expect(errorCodeOf(Object.assign(new Error('pipe'), { code: 'EPIPE' }))).toBe(CLIENT_ERROR_CODE);
    expect(errorCodeOf(Object.assign(new Error('reset'), { code: 'ECONNRESET' }))).toBe(CLIENT_ERROR_CODE);
    expect(errorCodeOf(new Error('Query read timeout'))).toBe(CLIENT_ERROR_CODE);
    expect(errorCodeOf(Object.assign(new Error('odd'), { code: 'drop table x', severity: 'ERROR' }))).toBe(
      CLIENT_ERROR_CODE,
    );
    expect(errorCodeOf('a string')).toBe(CLIENT_ERROR_CODE);
  });
});

describe('instrument.pg', () => {
  it('refuses what is not a pool, with what was wrong', () => {
    const { registry } = newRegistry();
    expectMonitorError(
      () => instrumentPg(registry, null as never),
      ErrorCode.InvalidOption,
      'instrument.pg: expected a node-postgres Pool (new pg.Pool(...)), got null',
    );
    expectMonitorError(
      () => instrumentPg(registry, {} as never),
      ErrorCode.InvalidOption,
      /has no connect\(\) or emit\(\)/,
    );
    const client = Object.assign(new EventEmitter(), { connect() {}, query() {} });
    expectMonitorError(
      () => instrumentPg(registry, client as never),
      ErrorCode.InvalidOption,
      /a single pg\.Client is not supported: instrument the Pool/,
    );
    expectMonitorError(
      () => instrumentPg(registry, new FakePool(), { name: '' }),
      ErrorCode.InvalidOption,
      'instrument.pg: name must be a non-empty string (the "pool" label), got ""',
    );
    expectMonitorError(
      () => instrumentPg(registry, new FakePool(), 'main' as never),
      ErrorCode.InvalidOption,
      /options must be an object/,
    );
    expect(registry.get(PG_METRICS.queryDuration)).toBeUndefined();
  });

  it('refuses a pool instrumented twice and two pools under one name, until removed', () => {
    const { registry } = newRegistry();
    const pool = new FakePool();
    const remove = instrumentPg(registry, pool, { name: 'main' });
    expectMonitorError(
      () => instrumentPg(registry, pool, { name: 'other' }),
      ErrorCode.InvalidOption,
      /this pool is instrumented already/,
    );
    expectMonitorError(
      () => instrumentPg(registry, new FakePool(), { name: 'main' }),
      ErrorCode.InvalidOption,
      'instrument.pg: another pool is instrumented as "main" in this table; give each pool its own name option',
    );
    remove();
    remove();
    expect(Object.hasOwn(pool, 'connect')).toBe(false);
    expect(Object.hasOwn(pool, 'emit')).toBe(false);
    instrumentPg(registry, pool, { name: 'main' })();
  });

  it('owns its metric names: the application cannot declare them, nor take them first', () => {
    const { registry } = newRegistry();
    instrumentPg(registry, new FakePool());
    expect(Object.values(PG_METRICS).map((name) => registry.ownerOf(name))).toEqual(Array(7).fill('instrument.pg'));
    expectMonitorError(
      () => registry.counter(PG_METRICS.queryErrors),
      ErrorCode.MetricConflict,
      /owned by instrument\.pg/,
    );

    const other = newRegistry().registry;
    other.gauge(PG_METRICS.connections);
    expectMonitorError(() => instrumentPg(other, new FakePool()), ErrorCode.MetricConflict, /db\.pool\.connections/);
  });

  it("reads the pool's counts and max when instrumented, and counts a failed checkout", async () => {
    const { registry } = newRegistry();
    const pool = new FakePool();
    Object.assign(pool, { totalCount: 3, idleCount: 1, waitingCount: 2 });
    instrumentPg(registry, pool, { name: 'p' });
    const connections = registry.require(PG_METRICS.connections, 'gauge');
    expect(connections.get({ pool: 'p', state: 'idle' })).toBe(1);
    expect(connections.get({ pool: 'p', state: 'used' })).toBe(2);
    expect(registry.require(PG_METRICS.waiting, 'gauge').get({ pool: 'p' })).toBe(2);
    expect(registry.require(PG_METRICS.max, 'gauge').get({ pool: 'p' })).toBe(4);
    await expect(pool.connect()).rejects.toThrow('no server');
    expect(registry.require(PG_METRICS.poolErrors, 'counter').get({ pool: 'p', kind: 'acquire' })).toBe(1);
  });

  it("counts an 'error' nobody listens to and lets EventEmitter throw it, as without the instrumentation", () => {
    const { registry } = newRegistry();
    const pool = new FakePool();
    instrumentPg(registry, pool, { name: 'p' });
    expect(() => pool.emit('error', new Error('idle client lost'))).toThrow('idle client lost');
    expect(registry.require(PG_METRICS.poolErrors, 'counter').get({ pool: 'p', kind: 'idle' })).toBe(1);
  });

  it('keeps the pool working when its counts cannot be read, and says so once', async () => {
    const { registry, logger } = newRegistry();
    const pool = new FakePool();
    instrumentPg(registry, pool, { name: 'odd' }, logger);
    Object.assign(pool, { totalCount: Number.NaN });
    await expect(pool.connect()).rejects.toThrow('no server');
    expect(pool.emit('remove', {})).toBe(false);
    expect(registry.require(PG_METRICS.poolErrors, 'counter').get({ pool: 'odd', kind: 'acquire' })).toBe(1);
    expect(logger.records.filter((r) => r.level === 'warn').map((r) => r.msg)).toEqual([
      'instrument.pg (pool "odd"): could not read the pool\'s connection counts',
    ]);
  });

  it('importing the built package does not load pg', async () => {
    const index = path.join(REPO, 'dist', 'src', 'index.js');
    expect(existsSync(index), 'dist/ is built by `npm test` (npm run build)').toBe(true);
    // Node puts every CommonJS module it loads, also through import, in require.cache: pg is CommonJS.
    const script = `
      import { createRequire } from 'node:module';
      const require = createRequire(${JSON.stringify(path.join(REPO, 'package.json'))});
      const loaded = () => Object.keys(require.cache).filter((f) => /[\\\\/]node_modules[\\\\/](pg|pg-pool|pg-protocol)[\\\\/]/.test(f)).length;
      const mod = await import(${JSON.stringify(index)});
      if (typeof mod.startMonitoring !== 'function') throw new Error('index did not load');
      const before = loaded();
      await import('pg');
      console.log(JSON.stringify({ before, after: loaded() }));
    `;
    const out = await new Promise<string>((resolve, reject) =>
      execFile(
        process.execPath,
        ['--input-type=module', '-e', script],
        { cwd: REPO, timeout: 60_000 },
        (err, stdout, stderr) => (err === null ? resolve(stdout) : reject(new Error(`${err.message}\n${stderr}`))),
      ),
    );
    const { before, after } = JSON.parse(out) as { before: number; after: number };
    expect(before).toBe(0);
    expect(after).toBeGreaterThan(0); // the check sees pg once something does load it
  });
});
