/**
 * Issue 14, item 6 (bad calls): every process of the running tree, the supervisors included, is
 * sent what a plain JS caller can send: an unknown call type (`count_children` stopped the whole
 * tree; an unknown call crashed the dashboard), non-objects, an object without a type, a message
 * that cannot even be read, and each of its own message types with a required field missing or
 * an unknown field added, as a call, a cast and a send. Every call rejects with
 * `EMON_BAD_MESSAGE` naming the process; casts and sends are dropped. Nothing restarts, the tree
 * keeps running and what each process holds is as it was.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ALERTING_MESSAGES, ALERTING_NAME } from '../../actors/alerting.js';
import { COLLECTOR_MESSAGES, COLLECTOR_NAME, REJECTED_METRIC } from '../../actors/collector.js';
import { DASHBOARD_MESSAGES, DASHBOARD_NAME } from '../../actors/dashboard.js';
import { MONITOR_SUP_NAME } from '../../actors/monitor-tree.js';
import { PERFORMANCE_MONITOR_MESSAGES, PERFORMANCE_MONITOR_NAME } from '../../actors/performance-monitor.js';
import type { AnyMessageFields } from '../../src/check-message.js';
import { ErrorCode, MonitorError } from '../../src/errors.js';
import type { Monitor } from '../../src/index.js';
import { type ChildInfo, startSupervisor, type SupervisorProtocol } from '../../src/otp/index.js';
import { SUPERVISOR_MESSAGES } from '../../src/otp/supervisor.js';
import { until } from '../helpers.js';
import { health } from './crash-fixture.js';
import { runCleanups, startTree, type Tree } from './tree-fixture.js';

afterEach(runCleanups);

const SUB_SUP = 'faults_sub_sup';
const CALL_TIMEOUT = 5000;

interface Schema {
  call: AnyMessageFields;
  cast: AnyMessageFields;
  info: AnyMessageFields;
}

/** Every process of the tree and the schema it declares. */
const PROCESSES: { name: string; schema: Schema }[] = [
  { name: MONITOR_SUP_NAME, schema: SUPERVISOR_MESSAGES },
  { name: SUB_SUP, schema: SUPERVISOR_MESSAGES },
  { name: COLLECTOR_NAME, schema: COLLECTOR_MESSAGES },
  { name: PERFORMANCE_MONITOR_NAME, schema: PERFORMANCE_MONITOR_MESSAGES },
  { name: ALERTING_NAME, schema: ALERTING_MESSAGES },
  { name: DASHBOARD_NAME, schema: DASHBOARD_MESSAGES },
];

/** Any process, sent anything (what a plain JS caller can do). */
interface AnyPid {
  readonly id: number;
  readonly alive: boolean;
  call(msg: unknown, timeout?: number): Promise<unknown>;
  cast(msg: unknown): void;
  send(msg: unknown): void;
}

/** A message no process takes, and what the refusal must say. */
interface Bad {
  label: string;
  msg: unknown;
  says: string | RegExp;
}

/** Not an object, no type, an unknown type, unreadable: refused by every process, as every kind. */
function commonBad(kind: 'call' | 'cast' | 'info'): Bad[] {
  const unreadable = new Proxy(
    {},
    {
      get() {
        throw new Error('trap');
      },
    },
  );
  return [
    // count_children was the unknown call; supervisors answer it now, as OTP's do. sys:get_status is not served here.
    { label: 'get_status', msg: { type: 'get_status' }, says: `unknown ${kind} type "get_status"` },
    { label: 'unknown type', msg: { type: 'launch_missiles', id: 1 }, says: `unknown ${kind} type "launch_missiles"` },
    { label: 'prototype type', msg: { type: 'constructor' }, says: `unknown ${kind} type "constructor"` },
    { label: 'no type', msg: { id: 'x' }, says: `unknown ${kind} type undefined` },
    { label: 'numeric type', msg: { type: 7 }, says: `unknown ${kind} type 7` },
    { label: 'null', msg: null, says: `${kind} must be an object { type, ... }, got null` },
    { label: 'undefined', msg: undefined, says: `${kind} must be an object { type, ... }, got undefined` },
    { label: 'number', msg: 42, says: `${kind} must be an object { type, ... }, got 42` },
    { label: 'string', msg: 'which_children', says: `${kind} must be an object { type, ... }, got "which_children"` },
    {
      label: 'array',
      msg: [{ type: 'which_children' }],
      says: `${kind} must be an object { type, ... }, got an array of 1`,
    },
    { label: 'unreadable', msg: unreadable, says: `${kind} could not be read: trap` },
  ];
}

/** Each message type of the schema with a required field missing, and with an unknown field added. */
function fieldBad(kind: 'call' | 'cast' | 'info', fields: AnyMessageFields): Bad[] {
  const out: Bad[] = [];
  for (const [type, spec] of Object.entries(fields)) {
    if (spec === 'any') continue;
    const complete: Record<string, unknown> = { type };
    for (const [field, rule] of Object.entries(spec)) if (rule === 'required') complete[field] = `x`;
    out.push({
      label: `${type} + stray field`,
      msg: { ...complete, bogus: 1 },
      says: `${kind} ${type}: unknown field "bogus"`,
    });
    for (const [field, rule] of Object.entries(spec)) {
      if (rule !== 'required') continue;
      const { [field]: _dropped, ...missing } = complete;
      out.push({ label: `${type} without ${field}`, msg: missing, says: `${kind} ${type}: missing field "${field}"` });
    }
  }
  return out;
}

function pidOf(mon: Monitor, name: string): AnyPid {
  const pid = mon.system.whereis(name) as AnyPid | undefined;
  if (pid === undefined) throw new Error(`${name} is not running`);
  return pid;
}

async function quietTree(): Promise<Tree> {
  return startTree({
    config: {
      monitoring: { collection_interval: 600_000, aggregation_interval: 600_000 },
      performance_monitor: { check_interval: 600_000 },
      alerting: { check_interval: 600_000 },
    },
    extraChildren: [
      {
        id: SUB_SUP,
        type: 'supervisor',
        start: (system) => startSupervisor(system, { children: [] }, { name: SUB_SUP }),
      },
    ],
  });
}

/** What the processes hold, as far as a caller can see it. */
async function snapshot(mon: Monitor) {
  const sup = (name: string) => pidOf(mon, name).call({ type: 'which_children' }) as Promise<ChildInfo[]>;
  return {
    pids: Object.fromEntries(PROCESSES.map((p) => [p.name, pidOf(mon, p.name).id])),
    children: await sup(MONITOR_SUP_NAME),
    subChildren: await sup(SUB_SUP),
    table: mon.metrics.collect().filter((m) => m.name !== REJECTED_METRIC),
    alerts: await mon.alerting.getActiveAlerts(),
    rules: await mon.alerting.listRules(),
    silences: await mon.alerting.listSilences(),
    reports: (await mon.performance.call({ type: 'history', kind: 'report', from: 0, to: Number.MAX_SAFE_INTEGER }))
      .entries.length,
    address: await mon.dashboardAddress(),
  };
}

function expectNothingRestarted(tree: Tree, stopped: () => boolean): void {
  expect(stopped()).toBe(false);
  const lines = tree.logger.records.map((r) => r.msg);
  expect(lines).not.toContain('child terminated: restarting');
  expect(lines).not.toContain('server terminating abnormally');
  expect(lines.filter((m) => m.startsWith('monitoring tree stopped'))).toEqual([]);
}

describe('bad calls to every process of the running tree', () => {
  it("the issue's two: an unknown call to the supervisor and to the dashboard are refused (count_children is answered now); the tree runs on", async () => {
    const tree = await quietTree();
    const { mon } = tree;
    let stopped = false;
    void mon.stopped.then(() => (stopped = true));
    const before = await snapshot(mon);
    expect(await mon.supervisor.call({ type: 'count_children' })).toMatchObject({ active: 5, specs: 5 });
    const err = await (mon.supervisor as unknown as AnyPid).call({ type: 'get_status' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MonitorError);
    expect((err as MonitorError).code).toBe(ErrorCode.BadMessage);
    expect((err as MonitorError).message).toBe(
      `${MONITOR_SUP_NAME}: unknown call type "get_status" (allowed: which_children, start_child, terminate_child, restart_child, delete_child, count_children, get_childspec)`,
    );
    const dash = await pidOf(mon, DASHBOARD_NAME)
      .call({ type: 'reload' })
      .catch((e: unknown) => e);
    expect((dash as MonitorError).code).toBe(ErrorCode.BadMessage);
    expect((dash as MonitorError).message).toBe(
      `${DASHBOARD_NAME}: unknown call type "reload" (allowed: address, stats)`,
    );
    expect(await snapshot(mon)).toEqual(before);
    expect((await health(mon)).processes).toEqual(
      Object.fromEntries(
        [COLLECTOR_NAME, PERFORMANCE_MONITOR_NAME, ALERTING_NAME, DASHBOARD_NAME].map((n) => [n, 'running']),
      ),
    );
    expectNothingRestarted(tree, () => stopped);
  });

  it('every process rejects every malformed call with EMON_BAD_MESSAGE naming itself; nothing restarts or changes', async () => {
    const tree = await quietTree();
    const { mon } = tree;
    let stopped = false;
    void mon.stopped.then(() => (stopped = true));
    mon.metrics.counter('kept_total', { help: 'a value the calls must not change' }).inc(5);
    await mon.alerting.sendAlert('warning', 'an alert the calls must not change', { case: 'bad-calls' });
    const before = await snapshot(mon);
    let tried = 0;
    for (const { name, schema } of PROCESSES) {
      const pid = pidOf(mon, name);
      for (const bad of [...commonBad('call'), ...fieldBad('call', schema.call)]) {
        const err = await pid.call(bad.msg, CALL_TIMEOUT).then(
          (reply) => new Error(`${name} answered ${bad.label} with ${JSON.stringify(reply)}`),
          (e: unknown) => e,
        );
        expect(err, `${name}: ${bad.label}`).toBeInstanceOf(MonitorError);
        expect((err as MonitorError).code, `${name}: ${bad.label}`).toBe(ErrorCode.BadMessage);
        expect((err as MonitorError).message).toContain(`${name}: `);
        expect((err as MonitorError).message).toContain(bad.says);
        tried++;
      }
    }
    // 11 common ones per process, plus each call type's stray field and missing required fields.
    expect(tried).toBeGreaterThan(6 * 11 + 30);
    expect(await snapshot(mon)).toEqual(before);
    expect(mon.metrics.getMetric('kept_total')?.value).toBe(5);
    expectNothingRestarted(tree, () => stopped);
  });

  it('every process drops every malformed cast and send; the next call answers and nothing restarts or changes', async () => {
    const tree = await quietTree();
    const { mon } = tree;
    let stopped = false;
    void mon.stopped.then(() => (stopped = true));
    const before = await snapshot(mon);
    const collectorStats = () => mon.collector.call({ type: 'stats' });
    const rejectedBefore = (await collectorStats()).rejectedUpdates;
    let collectorCasts = 0;
    for (const { name, schema } of PROCESSES) {
      const pid = pidOf(mon, name);
      const casts = [...commonBad('cast'), ...fieldBad('cast', schema.cast)];
      for (const bad of casts) pid.cast(bad.msg);
      for (const bad of [...commonBad('info'), ...fieldBad('info', schema.info)]) pid.send(bad.msg);
      if (name === COLLECTOR_NAME) collectorCasts = casts.length;
      // A call after them: answered only once every cast and send before it was handled.
      if (schema.call.which_children !== undefined) await pid.call({ type: 'which_children' }, CALL_TIMEOUT);
      else if (name === COLLECTOR_NAME) await pid.call({ type: 'stats' }, CALL_TIMEOUT);
      else if (name === DASHBOARD_NAME) await pid.call({ type: 'address' }, CALL_TIMEOUT);
      else if (name === ALERTING_NAME) await pid.call({ type: 'list_rules' }, CALL_TIMEOUT);
      else await pid.call({ type: 'report' }, CALL_TIMEOUT);
      expect(pid.alive, name).toBe(true);
    }
    expect(await snapshot(mon)).toEqual(before);
    // The collector counts the casts it refused (they are updates that were lost); nothing else changed.
    expect((await collectorStats()).rejectedUpdates - rejectedBefore).toBe(collectorCasts);
    // Dropped with a bounded number of warnings: at most 20 distinct per process, plus the collector's and alerting's own.
    const refusedLines = tree.logger.records.filter(
      (r) => r.msg === 'cast message refused' || r.msg === 'info message refused',
    );
    expect(refusedLines.length).toBeGreaterThan(0);
    expect(refusedLines.length).toBeLessThanOrEqual(20 * PROCESSES.length);
    await until(async () => expect((await health(mon)).status).toBe('ok'));
    expectNothingRestarted(tree, () => stopped);
  });

  it('a supervisor refuses a bad child spec in start_child as a reply, and a forged EXIT without fields as a dropped send', async () => {
    const tree = await quietTree();
    const { mon } = tree;
    let stopped = false;
    void mon.stopped.then(() => (stopped = true));
    const before = await snapshot(mon);
    const sup = pidOf(mon, MONITOR_SUP_NAME) as AnyPid & { call(msg: SupervisorProtocol['call']): Promise<unknown> };
    const reply = (await sup.call({ type: 'start_child', spec: { id: 'x', start: 'not a function' } as never })) as {
      ok: boolean;
      error: MonitorError;
    };
    expect(reply.ok).toBe(false);
    expect(reply.error.code).toBe(ErrorCode.InvalidChildSpec);
    sup.send({ type: 'EXIT', id: COLLECTOR_NAME });
    sup.send({ type: 'try_again_restart' });
    expect(await snapshot(mon)).toEqual(before);
    expectNothingRestarted(tree, () => stopped);
  });
});
