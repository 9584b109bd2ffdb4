/**
 * instrument.pg against a real PostgreSQL (Debian's, a cluster of its own made by initdb in a temp
 * dir, on 127.0.0.1 at a free port) through the real node-postgres pool: the pool gauges follow
 * checkouts, waiting is counted while the pool is exhausted, query counts and error codes equal what
 * was sent, and removing the instrumentation (or stopping the monitor) restores pg's own methods.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startMonitoring } from '../../src/index.js';
import type { Registry } from '../../src/metrics/registry.js';
import { instrumentPg, PG_METRICS, PG_OPERATIONS } from '../../src/sources/pg-instrument.js';
import { until } from '../helpers.js';
import { newRegistry } from '../metrics/table-fixture.js';
import { missingPostgres, type RunningPostgres, startPostgres } from '../postgres-server.js';

const missing = missingPostgres();

let server: RunningPostgres | undefined;
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function newPool(options: pg.PoolConfig = {}): pg.Pool {
  const pool = new pg.Pool({
    host: server!.host,
    port: server!.port,
    user: server!.user,
    database: server!.database,
    ...options,
  });
  cleanups.push(() => pool.end());
  return pool;
}

/** Count and error count of every `db.query.*` series, keyed `operation` and `operation code`. */
function queryCounts(
  registry: Registry,
  pool: string,
): { counts: Record<string, number>; errors: Record<string, number> } {
  const counts: Record<string, number> = {};
  const duration = registry.require(PG_METRICS.queryDuration, 'histogram');
  for (const s of duration.series()) {
    if (s.labels.pool === pool) counts[s.labels.operation!] = duration.get(s.labels)!.count;
  }
  const errors: Record<string, number> = {};
  const errorCounter = registry.require(PG_METRICS.queryErrors, 'counter');
  for (const s of errorCounter.series()) {
    if (s.labels.pool === pool) errors[`${s.labels.operation} ${s.labels.code}`] = errorCounter.get(s.labels)!;
  }
  return { counts, errors };
}

function gauges(registry: Registry, pool: string) {
  const connections = registry.require(PG_METRICS.connections, 'gauge');
  return {
    idle: connections.get({ pool, state: 'idle' }),
    used: connections.get({ pool, state: 'used' }),
    waiting: registry.require(PG_METRICS.waiting, 'gauge').get({ pool }),
  };
}

describe.skipIf(missing !== undefined)(
  `instrument.pg against a real PostgreSQL${missing === undefined ? '' : ` (skipped: ${missing})`}`,
  () => {
    beforeAll(async () => {
      server = await startPostgres(async (port) => {
        const client = new pg.Client({
          host: '127.0.0.1',
          port,
          user: 'postgres',
          database: 'postgres',
          connectionTimeoutMillis: 5000,
        });
        try {
          await client.connect();
          await client.query('SELECT 1');
        } finally {
          await client.end().catch(() => undefined);
        }
      });
    }, 180_000);

    afterAll(async () => {
      await server?.stop();
    }, 60_000);

    it('follows checkouts in the pool gauges, and counts waiting checkouts while the pool is exhausted', async () => {
      const { registry } = newRegistry();
      const pool = newPool({ max: 2, idleTimeoutMillis: 0 });
      instrumentPg(registry, pool, { name: 'main' });
      expect(registry.require(PG_METRICS.max, 'gauge').get({ pool: 'main' })).toBe(2);
      expect(gauges(registry, 'main')).toEqual({ idle: 0, used: 0, waiting: 0 });

      const a = await pool.connect();
      expect(gauges(registry, 'main')).toEqual({ idle: 0, used: 1, waiting: 0 });
      const b = await pool.connect();
      expect(gauges(registry, 'main')).toEqual({ idle: 0, used: 2, waiting: 0 });

      // Exhausted: the third checkout and a pool.query wait.
      const third = pool.connect();
      const queued = pool.query('SELECT 42 AS answer');
      expect(gauges(registry, 'main')).toEqual({ idle: 0, used: 2, waiting: 2 });
      expect(pool.waitingCount).toBe(2);

      a.release();
      const c = await third;
      await until(() => expect(gauges(registry, 'main')).toEqual({ idle: 0, used: 2, waiting: 1 }));
      b.release();
      expect((await queued).rows).toEqual([{ answer: 42 }]);
      await until(() => expect(gauges(registry, 'main')).toEqual({ idle: 1, used: 1, waiting: 0 }));
      c.release();
      await until(() => expect(gauges(registry, 'main')).toEqual({ idle: 2, used: 0, waiting: 0 }));
      expect({ idle: pool.idleCount, total: pool.totalCount, waiting: pool.waitingCount }).toEqual({
        idle: 2,
        total: 2,
        waiting: 0,
      });

      // A client released with an error is removed from the pool: total drops.
      const d = await pool.connect();
      d.release(new Error('discard this connection'));
      await until(() => expect(gauges(registry, 'main')).toEqual({ idle: 1, used: 0, waiting: 0 }));

      // Four successful checkouts (a, b, third, pool.query's), then d's.
      const acquire = registry.require(PG_METRICS.acquireDuration, 'histogram').get({ pool: 'main' })!;
      expect(acquire.count).toBe(5);
      const poolErrors = registry.require(PG_METRICS.poolErrors, 'counter');
      expect([
        poolErrors.get({ pool: 'main', kind: 'acquire' }),
        poolErrors.get({ pool: 'main', kind: 'idle' }),
      ]).toEqual([0, 0]);
    });

    it('counts every query by operation, in every calling form, and errors by SQLSTATE', async () => {
      const { registry } = newRegistry();
      const pool = newPool({ max: 3 });
      instrumentPg(registry, pool, { name: 'q' });

      await pool.query('CREATE TEMP TABLE IF NOT EXISTS t_unused (id int)'); // 1 CREATE, on some pooled client
      const client = await pool.connect();
      try {
        await client.query('CREATE TEMP TABLE items (id int PRIMARY KEY, name text)'); // CREATE
        await client.query('BEGIN');
        await client.query('INSERT INTO items VALUES ($1, $2)', [1, 'one']); // parameterized
        await client.query({ text: 'INSERT INTO items VALUES ($1, $2)', values: [2, 'two'] }); // QueryConfig
        await client.query({ name: 'ins', text: 'INSERT INTO items VALUES ($1, $2)', values: [3, 'three'] }); // prepared
        await client.query('COMMIT');
        await new Promise<void>((resolve, reject) =>
          client.query('UPDATE items SET name = $1 WHERE id = $2', ['uno', 1], (err) =>
            err ? reject(err) : resolve(),
          ),
        ); // callback
        await new Promise<void>((resolve, reject) =>
          client.query('/* report */ SELECT count(*) FROM items', (err) => (err ? reject(err) : resolve())),
        ); // text + callback
        await new Promise<void>(
          (resolve, reject) =>
            void client.query({
              text: 'DELETE FROM items WHERE id = $1',
              values: [3],
              callback: (err: Error | null) => (err ? reject(err) : resolve()),
            } as pg.QueryConfig),
        ); // config.callback
        const rows = await new Promise<unknown[]>((resolve, reject) => {
          const q = client.query(new pg.Query('SELECT id FROM items ORDER BY id'));
          q.on('end', (r: pg.QueryResult) => resolve(r.rows));
          q.on('error', reject);
        }); // submittable
        expect(rows).toEqual([{ id: 1 }, { id: 2 }]);

        // Errors: unique violation, missing table, syntax error, then a rolled-back transaction.
        await expect(client.query('INSERT INTO items VALUES ($1, $2)', [1, 'again'])).rejects.toMatchObject({
          code: '23505',
        });
        await expect(client.query('SELECT * FROM no_such_table')).rejects.toMatchObject({ code: '42P01' });
        await expect(client.query('SELEC 1')).rejects.toMatchObject({ code: '42601' });
        await client.query('BEGIN');
        await expect(client.query('UPDATE items SET id = 2 WHERE id = 1')).rejects.toMatchObject({ code: '23505' });
        await expect(client.query('SELECT 1')).rejects.toMatchObject({ code: '25P02' }); // in failed transaction
        await client.query('ROLLBACK');
        const failed = new pg.Query('SELECT 1/0');
        await new Promise<void>((resolve) => {
          failed.on('error', () => resolve());
          client.query(failed);
        }); // a submittable that fails
      } finally {
        client.release();
      }
      await expect(pool.query('DELETE FROM no_such_table')).rejects.toMatchObject({ code: '42P01' });

      expect(queryCounts(registry, 'q')).toEqual({
        counts: { CREATE: 2, BEGIN: 2, INSERT: 4, COMMIT: 1, UPDATE: 2, SELECT: 5, DELETE: 2, ROLLBACK: 1, other: 1 },
        errors: {
          'INSERT 23505': 1,
          'SELECT 42P01': 1,
          'other 42601': 1,
          'UPDATE 23505': 1,
          'SELECT 25P02': 1,
          'SELECT 22012': 1,
          'DELETE 42P01': 1,
        },
      });
      // Every label value is from a fixed set: no SQL text, table name or parameter leaked into one.
      const allowed = new Set<string>([...PG_OPERATIONS, 'other']);
      for (const name of [PG_METRICS.queryDuration, PG_METRICS.queryErrors]) {
        for (const s of registry.get(name)!.series())
          expect(allowed.has(s.labels.operation!), s.labels.operation).toBe(true);
      }
    });

    it("counts a failed checkout, and a lost idle connection as the pool's error event", async () => {
      const { registry } = newRegistry();
      const pool = newPool({ max: 1, connectionTimeoutMillis: 200, idleTimeoutMillis: 0 });
      const poolErrors: Error[] = [];
      pool.on('error', (err) => poolErrors.push(err));
      instrumentPg(registry, pool, { name: 'e' });

      const held = await pool.connect();
      const pid = (await held.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      // The only connection is held: the next checkout times out.
      await expect(pool.connect()).rejects.toThrow(/timeout/);
      await expect(pool.query('SELECT 1')).rejects.toThrow(/timeout/);
      const errors = registry.require(PG_METRICS.poolErrors, 'counter');
      expect(errors.get({ pool: 'e', kind: 'acquire' })).toBe(2);
      held.release();

      // Terminated by the server while idle in the pool: the pool emits 'error' and drops it.
      const admin = new pg.Client({ host: server!.host, port: server!.port, user: 'postgres', database: 'postgres' });
      await admin.connect();
      cleanups.push(() => admin.end());
      await admin.query('SELECT pg_terminate_backend($1)', [pid]);
      await until(() => expect(errors.get({ pool: 'e', kind: 'idle' })).toBe(1), 20_000);
      expect(poolErrors).toHaveLength(1);
      expect((poolErrors[0] as Error & { code?: string }).code).toBe('57P01');
      await until(() => expect(gauges(registry, 'e')).toEqual({ idle: 0, used: 0, waiting: 0 }));
      // The pool carries on with a new connection.
      await pool.query('SELECT 1');
      expect(queryCounts(registry, 'e').counts).toEqual({ SELECT: 2 });
    });

    it('counts a query cut off by query_timeout and by a connection the server killed as client errors', async () => {
      const { registry } = newRegistry();
      const pool = newPool({ max: 2, query_timeout: 300 });
      pool.on('error', () => undefined);
      instrumentPg(registry, pool, { name: 't' });
      await expect(pool.query('SELECT pg_sleep(30)')).rejects.toThrow('Query read timeout');

      const client = await pool.connect();
      client.on('error', () => undefined);
      const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      const sleeping = client.query('SELECT pg_sleep(30)');
      const admin = await pool.connect();
      await admin.query('SELECT pg_terminate_backend($1)', [pid]);
      admin.release();
      const err = (await sleeping.catch((e: unknown) => e)) as Error & { code?: string };
      client.release(err);
      expect(queryCounts(registry, 't').errors).toEqual({ 'SELECT client': 1, 'SELECT 57P01': 1 });
    });

    it('removes itself: pg methods are its own again, and nothing more is counted', async () => {
      const { registry } = newRegistry();
      const pool = newPool({ max: 1 });
      const remove = instrumentPg(registry, pool, { name: 'r' });
      await pool.query('SELECT 1');
      const client = await pool.connect();
      expect(Object.hasOwn(client, 'query')).toBe(true);
      client.release();
      remove();
      expect(Object.hasOwn(pool, 'connect')).toBe(false);
      expect(Object.hasOwn(pool, 'emit')).toBe(false);
      expect(pool.connect).toBe(pg.Pool.prototype.connect);
      const again = await pool.connect();
      expect(again).toBe(client);
      expect(Object.hasOwn(again, 'query')).toBe(false);
      expect(again.query).toBe(pg.Client.prototype.query);
      await again.query('SELECT 2');
      again.release();
      expect(queryCounts(registry, 'r').counts).toEqual({ SELECT: 1 });
    });

    it('through the monitor: mon.instrument.pg measures into the table, and mon.stop() removes it', async () => {
      const dataDir = mkdtempSync(path.join(os.tmpdir(), 'erlmcp-monitor-pg-'));
      cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
      const mon = await startMonitoring({
        logger: { debug() {}, info() {}, warn() {}, error() {} },
        dataDir,
        env: { ERLMCP_DASHBOARD_PORT: '0' },
        processMetrics: false,
      });
      const pool = newPool({ max: 2 });
      mon.instrument.pg(pool, { name: 'app' });
      await pool.query('INSERT INTO pg_temp.nothing VALUES (1)').catch(() => undefined);
      await pool.query('SELECT 1');
      const text = await mon.metricsText();
      expect(text).toMatch(/^db_query_duration_seconds_count\{pool="app",operation="SELECT"\} 1$/m);
      expect(text).toMatch(/^db_query_errors_total\{pool="app",operation="INSERT",code="42P01"\} 1$/m);
      expect(text).toMatch(/^db_pool_connections\{pool="app",state="idle"\} 1$/m);
      await mon.stop();
      expect(Object.hasOwn(pool, 'connect')).toBe(false);
      expect(Object.hasOwn(pool, 'emit')).toBe(false);
      const client = await pool.connect();
      expect(Object.hasOwn(client, 'query')).toBe(false);
      client.release();
    });
  },
);
