/**
 * Type-level tests: a process's message schema is tied to its protocol union. Each
 * `@ts-expect-error` line must fail to compile, or typechecking fails with "Unused
 * '@ts-expect-error' directive".
 */
import { describe, expectTypeOf, it } from 'vitest';
import { COLLECTOR_MESSAGES, type CollectorProtocol, collector } from '../../actors/collector.js';
import { DASHBOARD_MESSAGES, type DashboardProtocol } from '../../actors/dashboard.js';
import type { FieldsOf } from '../../src/check-message.js';
import type { Behaviour, MessageSchema } from '../../src/otp/index.js';
import { SUPERVISOR_MESSAGES } from '../../src/otp/supervisor.js';
import type { SupervisorProtocol } from '../../src/otp/index.js';

/** The collector's protocol with one more call type, as a change to actors/collector.ts would make it. */
interface CollectorWithPing {
  call: CollectorProtocol['call'] | { type: 'ping' };
  replies: CollectorProtocol['replies'] & { ping: 'pong' };
  cast: CollectorProtocol['cast'];
  info: CollectorProtocol['info'];
}

/** The collector's protocol with one call type fewer. */
interface CollectorWithoutStats {
  call: Exclude<CollectorProtocol['call'], { type: 'stats' }>;
  replies: CollectorProtocol['replies'];
  cast: CollectorProtocol['cast'];
  info: CollectorProtocol['info'];
}

describe('message schemas', () => {
  it('do not compile when the protocol gains a type the schema lacks', () => {
    // @ts-expect-error 'ping' is missing from the call schema
    const schema = COLLECTOR_MESSAGES satisfies MessageSchema<CollectorWithPing>;
    void schema;
    // The same in a behaviour: its `messages` must cover the new type.
    const behaviour: Behaviour<null, CollectorWithPing> = {
      name: 'collector-with-ping',
      // @ts-expect-error the collector's messages have no 'ping'
      messages: COLLECTOR_MESSAGES,
      init: () => null,
    };
    void behaviour;
    const current: Behaviour<null, CollectorProtocol> = {
      name: 'collector',
      messages: collector.messages,
      init: () => null,
    };
    void current;
  });

  it('do not compile when the schema lists a type the protocol does not have', () => {
    const stale = {
      ...COLLECTOR_MESSAGES,
      call: {
        register_metric: COLLECTOR_MESSAGES.call.register_metric,
        get_metric: COLLECTOR_MESSAGES.call.get_metric,
        collect_metrics: {},
        apply: { updates: 'required' },
        flush: {},
        // @ts-expect-error 'stats' is not a call of this protocol
        stats: {},
      },
    } satisfies MessageSchema<CollectorWithoutStats>;
    void stale;
  });

  it('do not compile when a field is missing, unknown, or required where the type makes it optional', () => {
    const ok = { address: {}, stats: {} } satisfies MessageSchema<DashboardProtocol>['call'];
    void ok;
    type Increment = Extract<CollectorProtocol['cast'], { type: 'increment' }>;
    // @ts-expect-error `value` is missing
    const missing: FieldsOf<Increment> = { name: 'required', labels: 'optional' };
    const unknown: FieldsOf<Increment> = {
      name: 'required',
      labels: 'optional',
      value: 'optional',
      // @ts-expect-error `lables` is not a field of increment
      lables: 'optional',
    };
    // @ts-expect-error an increment's value is optional (absent means 1)
    const wrong: FieldsOf<Increment> = { name: 'required', labels: 'optional', value: 'required' };
    void [missing, unknown, wrong];
  });

  it('derive required and optional from the union', () => {
    expectTypeOf<FieldsOf<Extract<CollectorProtocol['cast'], { type: 'set' }>>>().toEqualTypeOf<{
      readonly name: 'required';
      readonly labels: 'optional';
      readonly value: 'required';
    }>();
    expectTypeOf(SUPERVISOR_MESSAGES).toMatchTypeOf<MessageSchema<SupervisorProtocol>>();
    expectTypeOf(DASHBOARD_MESSAGES.cast).toEqualTypeOf<{}>();
  });
});
