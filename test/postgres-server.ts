/**
 * A real PostgreSQL (Debian's `postgresql` package) for tests: a new cluster made by `initdb` in a
 * temporary dir, trust authentication, listening on 127.0.0.1 at a free port (and on a unix socket
 * in that dir only), stopped by `stop()` with its dir removed.
 *
 * PostgreSQL refuses to run as root, so as root (as here and in CI) initdb and the server run as
 * the `postgres` user the package creates, in a dir chowned to it. The server runs under a small
 * shell that holds our end of a pipe: when this process dies without calling `stop()` (a crashed
 * or killed test worker), the pipe closes and the shell shuts the server down and removes the dir,
 * so no cluster outlives its test.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './system-servers.js';

const PG_LIB = '/usr/lib/postgresql';
/** What installs the binaries (Debian's server package pulls in the newest version's). */
export const POSTGRES_APT = 'postgresql';

/** The bin dir of the newest PostgreSQL version installed, e.g. `/usr/lib/postgresql/15/bin`. */
export function postgresBinDir(): string | undefined {
  let versions: string[];
  try {
    versions = fs.readdirSync(PG_LIB);
  } catch {
    return undefined;
  }
  const dirs = versions
    .filter((v) => /^\d+(\.\d+)?$/.test(v))
    .sort((a, b) => Number(b) - Number(a))
    .map((v) => path.join(PG_LIB, v, 'bin'))
    .filter((bin) => fs.existsSync(path.join(bin, 'postgres')) && fs.existsSync(path.join(bin, 'initdb')));
  return dirs[0];
}

/**
 * Why PostgreSQL tests cannot run here (the binaries are missing), or undefined when they can.
 * @throws when they are missing and REQUIRE_SYSTEM_DEPS=1, so CI fails instead of skipping
 */
export function missingPostgres(): string | undefined {
  if (postgresBinDir() !== undefined && (process.getuid?.() !== 0 || postgresUser() !== undefined)) return undefined;
  const reason = `${PG_LIB}/<version>/bin/{postgres,initdb} (and, as root, the postgres user) not installed: apt-get install -y ${POSTGRES_APT}`;
  if (process.env.REQUIRE_SYSTEM_DEPS === '1') throw new Error(`REQUIRE_SYSTEM_DEPS=1 and ${reason}`);
  return reason;
}

/** uid and gid of the `postgres` user, from /etc/passwd. */
function postgresUser(): { uid: number; gid: number } | undefined {
  let passwd: string;
  try {
    passwd = fs.readFileSync('/etc/passwd', 'utf8');
  } catch {
    return undefined;
  }
  for (const line of passwd.split('\n')) {
    const [user, , uid, gid] = line.split(':');
    if (user === 'postgres' && uid !== undefined && gid !== undefined) return { uid: Number(uid), gid: Number(gid) };
  }
  return undefined;
}

export interface RunningPostgres {
  readonly host: '127.0.0.1';
  readonly port: number;
  readonly user: 'postgres';
  readonly database: 'postgres';
  /** The server's log, for failure messages. */
  output(): string;
  /** Fast shutdown (clients disconnected), then the dir removed. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Runs the server under sh: `postgres` in the background, a watcher that sends it SIGINT (fast
 * shutdown) when our pipe on fd 3 closes, then the dir removed once it has exited.
 */
const SUPERVISE = `
dir=$1; shift
"$@" 3<&- </dev/null &
pg=$!
( read -r line <&3; kill -INT "$pg" 2>/dev/null ) </dev/null &
watcher=$!
exec 3<&-
wait "$pg"
status=$?
kill "$watcher" 2>/dev/null
rm -rf "$dir"
exit "$status"
`;

function run(file: string, args: string[], options: { uid?: number; gid?: number; cwd: string }): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      { ...options, env: { PATH: '/usr/bin:/bin', LANG: 'C' }, timeout: 120_000, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        if (err !== null) reject(new Error(`${path.basename(file)} failed: ${err.message}\n${stdout}${stderr}`));
        else resolve(stdout + stderr);
      },
    );
  });
}

/**
 * Makes a cluster and starts it. Ready when it accepts a connection (`ready` is given the port and
 * must resolve once a connection succeeded; the caller brings the client so this file needs no pg).
 */
export async function startPostgres(ready: (port: number) => Promise<void>): Promise<RunningPostgres> {
  const bin = postgresBinDir();
  if (bin === undefined)
    throw new Error(`PostgreSQL binaries not found under ${PG_LIB}: apt-get install -y ${POSTGRES_APT}`);
  const asRoot = process.getuid?.() === 0;
  const user = asRoot ? postgresUser() : undefined;
  if (asRoot && user === undefined)
    throw new Error('running as root and there is no postgres user to run PostgreSQL as');
  const ids = user === undefined ? {} : { uid: user.uid, gid: user.gid };
  // The postgres user must reach the dir: a TMPDIR under root's home would not let it.
  const dir = fs.mkdtempSync(path.join(user === undefined ? os.tmpdir() : '/tmp', 'emon-pg-'));
  const data = path.join(dir, 'data');
  if (user !== undefined) fs.chownSync(dir, user.uid, user.gid);
  try {
    await run(
      path.join(bin, 'initdb'),
      ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions'],
      { ...ids, cwd: dir },
    );
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const port = await freePort();
  const serverArgs = [
    '-D',
    data,
    '-p',
    String(port),
    '-k',
    dir,
    '-c',
    'listen_addresses=127.0.0.1',
    '-c',
    'fsync=off',
    '-c',
    'synchronous_commit=off',
    '-c',
    'full_page_writes=off',
    '-c',
    'max_connections=30',
    '-c',
    'shared_buffers=16MB',
    '-c',
    'logging_collector=off',
  ];
  const proc: ChildProcess = spawn(
    '/bin/sh',
    ['-c', SUPERVISE, 'supervise', dir, path.join(bin, 'postgres'), ...serverArgs],
    {
      ...ids,
      cwd: dir,
      env: { PATH: '/usr/bin:/bin', LANG: 'C' },
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    },
  );
  let out = '';
  const keep = (chunk: Buffer) => {
    out = (out + chunk.toString('utf8')).slice(-20_000);
  };
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const lifeline = proc.stdio[3] as NodeJS.WritableStream & { destroy(): void };
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      if (proc.exitCode === null && proc.signalCode === null) {
        lifeline.destroy(); // EOF on the shell's fd 3: it sends the server SIGINT, waits, removes the dir
        const killer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(killer);
      }
      lifeline.destroy();
      fs.rmSync(dir, { recursive: true, force: true });
    })());
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      await stop();
      throw new Error(`postgres exited before accepting connections: ${out}`);
    }
    try {
      await ready(port);
      break;
    } catch (err) {
      if (Date.now() > deadline) {
        await stop();
        throw new Error(
          `postgres on 127.0.0.1:${port} did not accept a connection within 60 s (${String(err)}): ${out}`,
          { cause: err },
        );
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return { host: '127.0.0.1', port, user: 'postgres', database: 'postgres', output: () => out, stop };
}
