/**
 * Issue 14, item 3: one writer per data dir, for real. The pid + host name writer mark was skipped
 * when the host name differed: a second writer under `unshare --uts` was accepted and both wrote
 * one store (series filed under the other's ids); under `unshare --pid` the second open hung ~10 s
 * in LMDB and failed with a TypeError. Now a second writer from any host name or PID namespace gets
 * EMON_STORE_LOCKED at once, naming the path, and the store holds only the first writer's series.
 *
 * Writers are child processes (`fixtures/store-open-child.mjs`, mode "hold"); "at once" is checked
 * as an answer within REFUSAL_BOUND_MS of the open call, measured in the child: a bound for a hang
 * (LMDB's was ~10 s), far above the milliseconds a refusal takes even on the loaded test machine.
 * Set WRITER_REPORT=1 to print the race's answer times.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import { MetricStore } from '../../src/store/lmdb-store.js';
import { assertBuilt, type ChildLine, spawnStoreChild, type StoreChild, unshareRefused } from './store-child.js';
import { onCleanup, runCleanups, tempDir } from './tree-fixture.js';

const TIMEOUT_MS = 90_000;
const RACERS = 20;
const REFUSAL_BOUND_MS = 5000;
const OTHER_HOST = 'emon-second-host';
const REQUIRE = process.env.REQUIRE_SYSTEM_DEPS === '1';

const utsRefused = unshareRefused('--uts');
const pidRefused = unshareRefused('--pid', '--fork');
if (REQUIRE && utsRefused !== undefined) throw new Error(`REQUIRE_SYSTEM_DEPS=1 and ${utsRefused}`);
if (REQUIRE && pidRefused !== undefined) throw new Error(`REQUIRE_SYSTEM_DEPS=1 and ${pidRefused}`);
/** Runs the child under another host name (its own UTS namespace), as a second container would. */
const UNDER_OTHER_HOST = ['unshare', '--uts', 'sh', '-c', `hostname ${OTHER_HOST} && exec "$@"`, 'sh'];
const UNDER_OWN_PIDS = ['unshare', '--pid', '--fork'];

beforeAll(assertBuilt);
afterEach(runCleanups);

function holder(dataDir: string, tag: string, wrapper: readonly string[] = []): StoreChild {
  const child = spawnStoreChild({ mode: 'hold', dataDir, tag }, wrapper);
  onCleanup(async () => {
    child.proc.stdin.end();
    await child.exited;
  });
  return child;
}

/** Starts a holder and has it open the store; resolves with its answer. */
async function openIn(child: StoreChild): Promise<ChildLine> {
  await child.waitFor('loaded');
  child.send('go');
  return child.waitForAny('opened', 'rejected');
}

async function release(child: StoreChild): Promise<void> {
  child.send('release');
  await child.waitFor('closed');
  expect(await child.exited).toEqual({ code: 0, signal: null });
}

async function seriesKeys(dataDir: string): Promise<string[]> {
  const store = MetricStore.open({ dataDir, readOnly: true });
  try {
    return store.seriesDefs().map((d) => d.key);
  } finally {
    await store.close();
  }
}

function expectLocked(answer: ChildLine, dataDir: string): void {
  expect(answer).toMatchObject({ type: 'rejected', code: ErrorCode.StoreLocked });
  expect(answer.message).toContain(`the metric store at ${dataDir} is already open for writing by another process`);
  expect(answer.message).toContain(
    `: it holds the lock on ${path.join(dataDir, 'writer.lock')}. A store has one writer: `,
  );
  expect(answer.ms as number).toBeLessThan(REFUSAL_BOUND_MS);
}

describe('a second writer on one data dir', () => {
  it(
    'is refused EMON_STORE_LOCKED at once while the first holds it; readers are not; a new writer gets it after close or SIGKILL',
    async () => {
      const dataDir = path.join(tempDir('erlmcp-writer-'), 'data');
      const first = holder(dataDir, 'first');
      expect(await openIn(first)).toMatchObject({ type: 'opened' });
      await first.waitFor('written');

      const second = holder(dataDir, 'second');
      const answer = await openIn(second);
      expectLocked(answer, dataDir);
      expect(answer.message).toContain(`(pid ${first.proc.pid} on host `);
      expect(answer.message).toContain('read the store with MetricStore.open({ dataDir, readOnly: true })');
      expect(await second.exited).toEqual({ code: 0, signal: null });
      // In this process too (another open file description of the lock file: flock refuses it as well).
      expect(() => MetricStore.open({ dataDir })).toThrow(expect.objectContaining({ code: ErrorCode.StoreLocked }));

      // A reader takes no lock: it reads while the writer holds the store, and stays open across writers.
      const reader = MetricStore.open({ dataDir, readOnly: true });
      onCleanup(() => reader.close());
      expect(reader.seriesDefs().map((d) => d.key)).toEqual(['first']);

      await release(first);
      const third = holder(dataDir, 'third');
      expect(await openIn(third)).toMatchObject({ type: 'opened' });
      await third.waitFor('written');
      expect(reader.seriesDefs().map((d) => d.key)).toEqual(['first', 'third']);
      await reader.close();
      third.proc.kill('SIGKILL'); // the kernel drops a dead holder's lock
      expect((await third.exited).signal).toBe('SIGKILL');
      const store = MetricStore.open({ dataDir });
      expect(store.seriesDefs().map((d) => d.key)).toEqual(['first', 'third']);
      await store.close();
    },
    TIMEOUT_MS,
  );

  it(
    `${RACERS} processes opening a new data dir at once: exactly one writer, the rest EMON_STORE_LOCKED at once`,
    async () => {
      const dataDir = path.join(tempDir('erlmcp-writer-race-'), 'data');
      const racers = Array.from({ length: RACERS }, (_, i) => holder(dataDir, `racer${i}`));
      await Promise.all(racers.map((r) => r.waitFor('loaded')));
      for (const r of racers) r.send('go');
      const answers = await Promise.all(racers.map((r) => r.waitForAny('opened', 'rejected')));

      const winners = racers.filter((_, i) => answers[i]!.type === 'opened');
      expect(winners).toHaveLength(1);
      for (const answer of answers.filter((a) => a.type === 'rejected')) expectLocked(answer, dataDir);
      if (process.env.WRITER_REPORT === '1') {
        const ms = answers.map((a) => a.ms as number).sort((a, b) => a - b);
        console.log(
          `open answers (ms from "go"): median ${ms[ms.length >> 1]!.toFixed(1)}, max ${ms.at(-1)!.toFixed(1)}`,
        );
      }
      const winner = winners[0]!;
      await winner.waitFor('written');
      await release(winner);
      expect(await seriesKeys(dataDir)).toEqual([`racer${racers.indexOf(winner)}`]);
      expect(fs.readdirSync(dataDir).sort()).toEqual(['data.mdb', 'lock.mdb', 'writer.lock']);
    },
    TIMEOUT_MS,
  );
});

describe(`a second writer under another host name (unshare --uts)${utsRefused === undefined ? '' : ` (skipped: ${utsRefused})`}`, () => {
  it.skipIf(utsRefused !== undefined)(
    'is refused EMON_STORE_LOCKED either way round, and the store holds only the first writer series',
    async () => {
      const dataDir = path.join(tempDir('erlmcp-writer-uts-'), 'data');
      const here = holder(dataDir, 'here');
      expect(await openIn(here)).toMatchObject({ type: 'opened' });
      await here.waitFor('written');
      const there = holder(dataDir, 'there', UNDER_OTHER_HOST);
      expectLocked(await openIn(there), dataDir);
      expect(await there.exited).toEqual({ code: 0, signal: null });
      await release(here);
      expect(await seriesKeys(dataDir)).toEqual(['here']);

      // The other way round: the holder runs under the other host name, and says so.
      const dataDir2 = path.join(tempDir('erlmcp-writer-uts-'), 'data');
      const remote = holder(dataDir2, 'remote', UNDER_OTHER_HOST);
      expect(await openIn(remote)).toMatchObject({ type: 'opened' });
      await remote.waitFor('written');
      const local = holder(dataDir2, 'local');
      const answer = await openIn(local);
      expectLocked(answer, dataDir2);
      expect(answer.message).toContain(`on host "${OTHER_HOST}"`);
      await release(remote);
      expect(await seriesKeys(dataDir2)).toEqual(['remote']);
    },
    TIMEOUT_MS,
  );
});

describe(`a second writer in another PID namespace (unshare --pid --fork)${pidRefused === undefined ? '' : ` (skipped: ${pidRefused})`}`, () => {
  it.skipIf(pidRefused !== undefined)(
    'is refused EMON_STORE_LOCKED at once (it hung ~10 s in LMDB and failed with a TypeError)',
    async () => {
      const dataDir = path.join(tempDir('erlmcp-writer-pid-'), 'data');
      const here = holder(dataDir, 'here');
      expect(await openIn(here)).toMatchObject({ type: 'opened' });
      await here.waitFor('written');
      const other = holder(dataDir, 'other', UNDER_OWN_PIDS);
      expectLocked(await openIn(other), dataDir);
      expect(await other.exited).toEqual({ code: 0, signal: null });
      await release(here);
      expect(await seriesKeys(dataDir)).toEqual(['here']);
    },
    TIMEOUT_MS,
  );
});
