/**
 * Helpers for the crash and hygiene suites: one-shot throw injection into a real method, waiting
 * for a supervised process to come back as a new incarnation, a live-feed client, and reads of
 * the dashboard's health and LMDB history over HTTP (what a real user sees).
 */
import { readFileSync } from 'node:fs';
import { WebSocket } from 'ws';
import type { Monitor } from '../../src/index.js';
import type { HealthResponse, HistoryResponse, ServerMsg } from '../../src/server/protocol.js';
import { until } from '../helpers.js';
import { onCleanup } from './tree-fixture.js';

/** What `throwOnce` injected. */
export interface Injection {
  /** How many throws happened (0 or 1). */
  readonly thrown: number;
  /** Calls that went through to the real method. */
  readonly passed: number;
}

/**
 * Replaces `target[method]` so that the first call for which `when()` holds throws
 * `Error("injected: <label>")`; every other call runs the real method. Restored at cleanup.
 * `when` defaults to always (the first call throws).
 */
export function throwOnce<T extends object, K extends keyof T>(
  target: T,
  method: K,
  label: string,
  when: () => boolean = () => true,
): Injection {
  const original = target[method] as unknown as (...args: unknown[]) => unknown;
  const counts = { thrown: 0, passed: 0 };
  (target as Record<K, unknown>)[method] = function (this: unknown, ...args: unknown[]) {
    if (counts.thrown === 0 && when()) {
      counts.thrown++;
      throw new Error(`injected: ${label}`);
    }
    counts.passed++;
    return original.apply(this, args);
  };
  onCleanup(() => {
    (target as Record<K, unknown>)[method] = original;
  });
  return counts;
}

/** Makes every call of `target[method]` throw while installed; returns the count and a restore. */
export function throwAlways<T extends object, K extends keyof T>(
  target: T,
  method: K,
  label: string,
): { readonly thrown: number; restore(): void } {
  const original = target[method];
  const state = { thrown: 0, restore };
  function restore(): void {
    target[method] = original;
  }
  (target as Record<K, unknown>)[method] = function () {
    state.thrown++;
    throw new Error(`injected: ${label}`);
  };
  onCleanup(restore);
  return state;
}

/** True when the current call stack passes through `file` (to aim a shared method at one actor). */
export function calledFrom(file: string): () => boolean {
  return () => (new Error().stack ?? '').includes(file);
}

/**
 * True when the call stack passes through the first line at or after the line matching `after`
 * that matches `line`, in `file` (a path under the repository): aims at one branch of a handler
 * when two branches call the same method. Fails at once if the lines are not found.
 */
export function calledFromLine(file: string, after: RegExp, line: RegExp): () => boolean {
  const lines = readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8').split('\n');
  const start = lines.findIndex((l) => after.test(l));
  const offset = start < 0 ? -1 : lines.slice(start).findIndex((l) => line.test(l));
  if (offset < 0) throw new Error(`${file}: no line matching ${line} after ${after}`);
  const at = `${file}:${start + offset + 1}:`;
  return () => (new Error().stack ?? '').includes(at);
}

/** The current incarnation's id, failing clearly when the name is not registered. */
export function pidOf(mon: Monitor, name: string): number {
  const ref = mon.system.whereis(name);
  if (ref === undefined) throw new Error(`${name} is not running`);
  return ref.id;
}

/** Waits until `name` runs as an incarnation other than `oldId`; resolves with the new id. */
export async function restarted(mon: Monitor, name: string, oldId: number, timeout = 10_000): Promise<number> {
  let id = oldId;
  await until(() => {
    id = pidOf(mon, name);
    if (id === oldId) throw new Error(`${name} still runs as ${oldId}`);
  }, timeout);
  return id;
}

/** GET `path` on the dashboard (wherever it listens now) and parse JSON. */
export async function dashboardJson<T>(mon: Monitor, path: string): Promise<{ status: number; body: T }> {
  const { url } = await mon.dashboardAddress();
  const res = await fetch(`${url}${path}`);
  return { status: res.status, body: (await res.json()) as T };
}

/** The dashboard's /health. */
export async function health(mon: Monitor): Promise<HealthResponse> {
  return (await dashboardJson<HealthResponse>(mon, '/health')).body;
}

/** The stored history of one metric series, read through the dashboard's history API (LMDB). */
export async function storedPoints(
  mon: Monitor,
  metric: string,
  from = Date.now() - 600_000,
): Promise<[number, number | null][]> {
  const { status, body } = await dashboardJson<HistoryResponse>(
    mon,
    `/api/history?metric=${encodeURIComponent(metric)}&from=${from}&to=${Date.now() + 1000}`,
  );
  if (status !== 200) throw new Error(`history of ${metric}: HTTP ${status} ${JSON.stringify(body)}`);
  return body.series.flatMap((s) => s.points).filter((p) => p[1] !== null);
}

/** A live-feed client that records every message, parsed. Terminated at cleanup. */
export interface Feed {
  ws: WebSocket;
  messages: ServerMsg[];
  frames(): number;
  closed: Promise<number>;
}

/** Connects to `<dashboard>/ws` (the default subscription is the "main" dashboard). */
export async function connectFeed(url: string): Promise<Feed> {
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/ws`, { perMessageDeflate: false });
  const messages: ServerMsg[] = [];
  ws.on('message', (data) => messages.push(JSON.parse(data.toString()) as ServerMsg));
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  onCleanup(() => {
    if (ws.readyState !== WebSocket.CLOSED) ws.terminate();
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return { ws, messages, closed, frames: () => messages.filter((m) => m.type === 'frame').length };
}

/** Closes a feed client and waits until its socket is closed. */
export async function closeFeed(feed: Feed): Promise<void> {
  if (feed.ws.readyState !== WebSocket.CLOSED) feed.ws.close();
  await feed.closed;
}
