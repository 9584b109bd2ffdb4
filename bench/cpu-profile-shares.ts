/**
 * Reads a V8 CPU profile (`node --cpu-prof`) and tells what share of the busy main-thread time was
 * spent inside each of the library's modules (inclusive: a module's own frames and whatever they
 * called), skipping the first `skipMs` (start-up). Shares of one profile do not depend on how
 * much CPU the machine gave the process, so they attribute cost even where timings are noise.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileShares {
  /** Busy (not idle) main-thread time sampled after `skipMs`, ms. */
  busyMs: number;
  /** Idle time sampled after `skipMs`, ms. */
  idleMs: number;
  /** Garbage collection, ms. */
  gcMs: number;
  /** ms inclusive per module of the library (`src/...`, `actors/...` relative to the build root), largest first. */
  modules: [string, number][];
  /** ms with at least one frame of the library on the stack. */
  libraryMs: number;
}

/**
 * @param file a .cpuprofile
 * @param skipMs start-up to leave out, ms from the profile's start
 * @param isLibrary whether a script URL belongs to the library (default: under `/dist/src/` or `/dist/actors/`)
 */
export function profileShares(
  file: string,
  skipMs: number,
  isLibrary = (url: string) => /\/dist\/(src|actors)\//.test(url),
): ProfileShares {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const moduleOf = (url: string) => url.slice(url.indexOf('/dist/') + 6);
  const modules = new Map<string, number>();
  let t = 0;
  let busyUs = 0;
  let idleUs = 0;
  let gcUs = 0;
  let libraryUs = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i] ?? 0;
    t += dt;
    if (t < skipMs * 1000) continue;
    const leaf = byId.get(profile.samples[i]!)!;
    const fn = leaf.callFrame.functionName;
    if (fn === '(idle)') {
      idleUs += dt;
      continue;
    }
    busyUs += dt;
    if (fn === '(garbage collector)') gcUs += dt;
    const seen = new Set<string>();
    for (let id: number | undefined = leaf.id; id !== undefined; id = parent.get(id)) {
      const url = byId.get(id)!.callFrame.url;
      if (isLibrary(url)) seen.add(moduleOf(url));
    }
    if (seen.size > 0) libraryUs += dt;
    for (const m of seen) modules.set(m, (modules.get(m) ?? 0) + dt);
  }
  return {
    busyMs: busyUs / 1000,
    idleMs: idleUs / 1000,
    gcMs: gcUs / 1000,
    libraryMs: libraryUs / 1000,
    modules: [...modules].map(([m, us]) => [m, us / 1000] as [string, number]).sort((a, b) => b[1] - a[1]),
  };
}
