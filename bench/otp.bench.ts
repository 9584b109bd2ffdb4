/**
 * OTP layer: cast throughput (single messages, and batches of 1,000 updates per message) and call
 * round-trip latency, next to a bare nact mailbox (the layer's `Runtime`, nothing else) as baseline.
 */
import { type Behaviour, OtpSystem, type Pid, type Protocol, startServer } from '../src/otp/index.js';
import { Runtime } from '../src/otp/runtime.js';
import { createLogger } from '../src/logger.js';
import { type SuiteResult, runTasks } from './harness.js';

const MESSAGES = 10_000;
const BATCH = 1_000;

interface CounterProtocol extends Protocol {
  call: { type: 'get' };
  replies: { get: number };
  cast: { type: 'inc' } | { type: 'batch'; updates: number[] };
  info: never;
}

const counter: Behaviour<{ n: number }, CounterProtocol> = {
  name: 'bench-counter',
  init: () => ({ n: 0 }),
  handleCall: (_m, state) => ({ reply: state.n, state }),
  handleCast(msg, state) {
    if (msg.type === 'inc') state.n++;
    else for (let i = 0; i < msg.updates.length; i++) state.n += msg.updates[i]!;
    return { state };
  },
};

type RawMsg = { type: 'inc' } | { type: 'drain'; done: () => void };

export async function otpSuite(): Promise<SuiteResult> {
  const system = new OtpSystem({ logger: createLogger({ level: 'silent' }) });
  const runtime = new Runtime();
  let raw = 0;
  const rawBox = runtime.spawn<RawMsg>('raw', (m) => {
    if (m.type === 'inc') raw++;
    else m.done();
  });
  const pid: Pid<CounterProtocol> = await startServer(system, counter, undefined);
  const batch = new Array<number>(BATCH).fill(1);

  const rows = await runTasks([
    {
      name: 'bare nact dispatch (baseline)',
      perIteration: MESSAGES,
      fn: () => {
        for (let i = 0; i < MESSAGES; i++) rawBox.post({ type: 'inc' });
        return new Promise<void>((done) => rawBox.post({ type: 'drain', done }));
      },
    },
    {
      name: 'cast, one update per message',
      perIteration: MESSAGES,
      fn: async () => {
        for (let i = 0; i < MESSAGES; i++) pid.cast({ type: 'inc' });
        await pid.call({ type: 'get' });
      },
    },
    {
      name: 'cast, 1,000 updates per message (updates/s)',
      perIteration: MESSAGES * 10,
      fn: async () => {
        for (let i = 0; i < MESSAGES / 100; i++) pid.cast({ type: 'batch', updates: batch });
        await pid.call({ type: 'get' });
      },
    },
    {
      name: 'call round trip',
      fn: () => pid.call({ type: 'get' }),
    },
  ]);
  await pid.stop();
  runtime.stop();
  system.close();
  void raw;
  return {
    suite: 'OTP layer (bench/otp.bench.ts)',
    rows,
    notes: ['Rates are messages/s (updates/s for the batched row); the call row is round trips/s with latency percentiles.'],
  };
}
