/**
 * Type-level tests: each `@ts-expect-error` line must fail to compile, or typechecking fails with
 * "Unused '@ts-expect-error' directive".
 */
import { describe, expectTypeOf, it } from 'vitest';
import type { Pid, ServerRef } from '../../src/otp/index.js';
import type { WorkerProtocol } from './worker-fixture.js';

declare const pid: Pid<WorkerProtocol>;
declare const ref: ServerRef<WorkerProtocol>;

describe('typed pids', () => {
  it('accept only messages of the protocol', () => {
    pid.cast({ type: 'add', by: 1 });
    // @ts-expect-error unknown cast type
    pid.cast({ type: 'subtract', by: 1 });
    // @ts-expect-error wrong field type
    pid.cast({ type: 'add', by: '1' });
    // @ts-expect-error missing field
    pid.cast({ type: 'add' });
    // @ts-expect-error a call request is not a cast
    pid.cast({ type: 'ping' });
    // @ts-expect-error an info message is not a call
    void pid.call({ type: 'tick' });
    // @ts-expect-error unknown info type
    ref.send({ type: 'tock' });
  });

  it('type call replies per request', () => {
    expectTypeOf(pid.call({ type: 'ping' })).resolves.toEqualTypeOf<'pong'>();
    expectTypeOf(ref.call({ type: 'count' })).resolves.toEqualTypeOf<number>();
    // @ts-expect-error count replies with a number, not a string
    const s: Promise<string> = pid.call({ type: 'count' });
    void s;
  });
});
