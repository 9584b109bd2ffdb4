import diagnostics from 'node:diagnostics_channel';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { compileMatchers } from '../../src/alerts/label-matcher.js';
import { checkRule, holds } from '../../src/alerts/rule.js';
import { sampleRule } from '../../src/alerts/rule-samples.js';
import { ErrorCode } from '../../src/errors.js';
import { startMonitoring } from '../../src/index.js';
import { DerivedValues } from '../../src/metrics/derived-values.js';
import type { Registry } from '../../src/metrics/registry.js';
import { instrumentPino, LOG_METRICS, pinoDestination } from '../../src/sources/pino-instrument.js';
import { expectMonitorError, until } from '../helpers.js';
import { newRegistry } from '../metrics/table-fixture.js';

/** A destination keeping the lines it is given. */
function memoryDest() {
  const lines: string[] = [];
  return { lines, write: (line: string) => void lines.push(line) };
}

/** `log.lines` count by level: the number of lines counted. */
function countsByLevel(registry: Registry): Record<string, number> {
  if (registry.get(LOG_METRICS.lines) === undefined) return {};
  return Object.fromEntries(
    registry
      .require(LOG_METRICS.lines, 'histogram')
      .series()
      .map((s) => [s.labels.level!, s.stats().count]),
  );
}

/** The levels of the lines a destination received. */
function levelsWritten(lines: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const line of lines) {
    const level = pino.levels.labels[(JSON.parse(line) as { level: number }).level]!;
    counts[level] = (counts[level] ?? 0) + 1;
  }
  return counts;
}

describe('pino integration', () => {
  it('pinoDestination counts every line of a logger and its children by level, exactly once, and passes each on once', () => {
    const { registry } = newRegistry();
    const dest = memoryDest();
    const log = pino({ level: 'debug' }, pinoDestination(registry, dest));
    const child = log.child({ module: 'db' });
    const grandchild = child.child({ table: 'users' });
    log.info('a');
    log.info({ n: 1 }, 'b');
    log.trace('below the level: neither written nor counted');
    child.debug('c');
    child.warn('d');
    grandchild.error(new Error('e'));
    grandchild.error('f');
    grandchild.fatal('g');
    log.child({}, { level: 'error' }).info("below the child logger's level");
    expect(countsByLevel(registry)).toEqual({ info: 2, debug: 1, warn: 1, error: 2, fatal: 1 });
    expect(dest.lines).toHaveLength(7);
    expect(levelsWritten(dest.lines)).toEqual(countsByLevel(registry));
    // The histogram's sum is the characters logged.
    const sum = registry
      .require(LOG_METRICS.lines, 'histogram')
      .series()
      .reduce((n, s) => n + s.stats().sum, 0);
    expect(sum).toBe(dest.lines.reduce((n, l) => n + l.length, 0));
  });

  it('instrument.pino counts an existing logger and its children (made before and after) from then on, and stops when removed', () => {
    const { registry } = newRegistry();
    const dest = memoryDest();
    const log = pino({}, dest);
    const early = log.child({ early: true });
    log.info('before: not counted');
    const remove = instrumentPino(registry, early); // any logger of the family: they share the root's stream
    const late = log.child({ late: true });
    log.info('1');
    early.warn('2');
    late.error('3');
    late.child({ deeper: 1 }).error('4');
    expect(countsByLevel(registry)).toEqual({ info: 1, warn: 1, error: 2 });
    remove();
    remove(); // idempotent
    log.error('after: not counted');
    late.error('after: not counted');
    expect(countsByLevel(registry)).toEqual({ info: 1, warn: 1, error: 2 });
    // Every line reached the destination once: 1 before, 4 counted, 2 after.
    expect(dest.lines).toHaveLength(7);
  });

  it("keeps a multistream's level routing (it still gets pino's metadata) and counts each line once", () => {
    const { registry } = newRegistry();
    const errorsOnly = memoryDest();
    const everything = memoryDest();
    const multi = pino.multistream([
      { level: 'error', stream: errorsOnly },
      { level: 'info', stream: everything },
    ]);
    const log = pino({ level: 'info' }, pinoDestination(registry, multi));
    log.info('i1');
    log.warn('w1');
    log.error('e1');
    log.child({ c: 1 }).error('e2');
    expect(countsByLevel(registry)).toEqual({ info: 1, warn: 1, error: 2 });
    expect(levelsWritten(errorsOnly.lines)).toEqual({ error: 2 });
    expect(levelsWritten(everything.lines)).toEqual({ info: 1, warn: 1, error: 2 });
  });

  it('names custom levels, and bounds the level label', () => {
    const { registry } = newRegistry();
    const log = pino({ customLevels: { audit: 35 }, level: 'info' }, pinoDestination(registry, memoryDest()));
    log.audit('x');
    log.audit('y');
    log.info('z');
    expect(countsByLevel(registry)).toEqual({ audit: 2, info: 1 });
  });

  it('refuses what would count twice, and what is not pino, naming it', () => {
    const { registry } = newRegistry();
    const dest = memoryDest();
    const counted = pinoDestination(registry, dest);
    expectMonitorError(
      () => pinoDestination(registry, counted),
      ErrorCode.InvalidOption,
      /counts into this table already/,
    );
    const log = pino(counted);
    expectMonitorError(() => instrumentPino(registry, log), ErrorCode.InvalidOption, /counted into this table already/);
    expectMonitorError(
      () => instrumentPino(registry, { child: () => ({}), levels: { labels: {} } }),
      ErrorCode.InvalidOption,
      /expected a pino logger/,
    );
    expectMonitorError(
      () => pinoDestination(registry, {} as never),
      ErrorCode.InvalidOption,
      /expected a destination with write/,
    );
    // Another table may count the same lines.
    const other = newRegistry().registry;
    const remove = instrumentPino(other, log);
    log.error('x');
    expect(countsByLevel(registry)).toEqual({ error: 1 });
    expect(countsByLevel(other)).toEqual({ error: 1 });
    expect(dest.lines).toHaveLength(1);
    remove();
  });

  it('the error-log rule in docs/integrations/outbound-and-logs.md loads and fires on error lines in the last minute', () => {
    const doc = readFileSync(
      fileURLToPath(new URL('../../docs/integrations/outbound-and-logs.md', import.meta.url)),
      'utf8',
    );
    const block = /```json rule\n([\s\S]*?)```/.exec(doc);
    expect(block, 'a ```json rule block in the docs').not.toBeNull();
    const rule = checkRule(JSON.parse(block![1]!));
    expect(rule.metric).toBe(LOG_METRICS.lines);
    const { registry } = newRegistry();
    const log = pino(pinoDestination(registry, memoryDest()));
    const value = () => sampleRule(rule, compileMatchers(rule.matchers), registry, new DerivedValues());
    for (let i = 0; i < 50; i++) log.warn('warnings do not count');
    for (let i = 0; i < rule.threshold; i++) log.error('e');
    expect(value()).toEqual([{ labels: { level: 'error' }, value: rule.threshold }]);
    expect(holds(rule.condition, value()[0]!.value, rule.threshold)).toBe(false);
    log.child({ c: 1 }).error('one more');
    expect(holds(rule.condition, value()[0]!.value, rule.threshold)).toBe(true);
  });

  it("the monitor's own logger accepts pino, and its lines can be counted too", async () => {
    const dest = memoryDest();
    const logger = pino({ level: 'info' }, dest);
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'erlmcp-monitor-pino-'));
    const mon = await startMonitoring({
      logger,
      dataDir,
      processMetrics: false,
      config: { dashboard: { dashboard_enabled: false } },
    });
    try {
      const remove = mon.instrument.pino(logger);
      // Something the monitor reports at warn: a host past maxHosts.
      mon.instrument.outbound({ maxHosts: 1 });
      // Two servers: two hosts.
      const servers = [createServer((_q, r) => r.end()), createServer((_q, r) => r.end())];
      for (const server of servers) {
        await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
        await (await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`)).arrayBuffer();
        await new Promise<void>((r) => {
          server.close(() => r());
          server.closeAllConnections();
        });
      }
      await until(() => expect(dest.lines.some((l) => l.includes('more than 1 distinct hosts'))).toBe(true));
      const line = JSON.parse(dest.lines.find((l) => l.includes('more than 1 distinct hosts'))!) as Record<
        string,
        unknown
      >;
      expect(line).toMatchObject({ level: 40, maxHosts: 1 });
      expect(countsByLevel(mon.metrics).warn).toBe(1);
      expect(typeof remove).toBe('function');
    } finally {
      await mon.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
    // stop() removed both: the channels have no subscriber left, the logger writes straight to its destination.
    const channels = [
      'undici:request:create',
      'undici:request:headers',
      'undici:request:error',
      'http.client.request.start',
      'http.client.response.finish',
      'http.client.request.error',
    ];
    expect(channels.filter((name) => diagnostics.channel(name).hasSubscribers)).toEqual([]);
    const before = dest.lines.length;
    logger.error('after stop');
    expect(countsByLevel(mon.metrics).error ?? 0).toBe(0);
    expect(dest.lines).toHaveLength(before + 1);
  });
});

describe('pino as an optional peer', () => {
  it('no source file of the package imports pino: the integration is structural, nothing is loaded when unused', async () => {
    const { readdirSync } = await import('node:fs');
    const root = fileURLToPath(new URL('../../', import.meta.url));
    const files = ['src', 'actors'].flatMap((dir) =>
      readdirSync(path.join(root, dir), { recursive: true, encoding: 'utf8' })
        .filter((f) => f.endsWith('.ts'))
        .map((f) => path.join(root, dir, f)),
    );
    expect(files.length).toBeGreaterThan(20);
    const importing = files.filter((f) =>
      /(from|import)\s*\(?\s*['"]pino(\/[^'"]*)?['"]/.test(readFileSync(f, 'utf8')),
    );
    expect(importing).toEqual([]);
  });
});
