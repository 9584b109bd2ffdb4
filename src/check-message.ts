/**
 * Message schemas and the shape check every process runs on a message before its callback sees
 * it: the message is a plain object, its `type` is one the process handles, it has every field
 * that type requires and no field that type does not have. Calls, casts and sends come from code
 * the process does not control (the host application, a cluster worker, a plain JS caller), so a
 * malformed one must become an `EMON_BAD_MESSAGE` (a rejected call, a dropped cast) instead of a
 * TypeError or a fall-through `switch` that crashes the process.
 *
 * A schema is derived from the protocol's TypeScript union: {@link MessageFields} maps each
 * `type` of the union to its fields, each `'required'` or `'optional'` exactly as the type
 * declares it. A schema literal checked against it (`satisfies`, or a `Behaviour`'s `messages`)
 * fails to compile when the union gains or loses a type or a field, or a field changes between
 * required and optional, so the runtime list cannot drift from the types.
 *
 * Field values are checked by the handler that uses them; a required field is one the message
 * has as an own property (JSON cannot carry `undefined`; a JS caller's `undefined` reaches the
 * handler's value check).
 */
import { describeValue, ErrorCode, MonitorError } from './errors.js';

/** Whether a message must carry a field. */
export type FieldRule = 'required' | 'optional';

/** The fields of message type `M` besides `type`, each required or optional as `M` declares it. */
export type FieldsOf<M> = { readonly [K in Exclude<keyof M, 'type'>]-?: {} extends Pick<M, K> ? 'optional' : 'required' };

/**
 * For each member of the union `M`, by its `type`, its fields; `'any'` leaves the fields to the
 * handler (for a message that carries an open record its handler checks key by key).
 */
export type MessageFields<M extends { type: string }> = { readonly [T in M['type']]: FieldsOf<Extract<M, { type: T }>> | 'any' };

/** A schema as the check reads it at run time. */
export type AnyMessageFields = Readonly<Record<string, Readonly<Record<string, FieldRule>> | 'any'>>;

/**
 * @param what what the message is, for the error: `'call'`, `'cast'`, `'metric update'`
 * @param msg the message as received
 * @param fields the types handled and their fields
 * @param who prefix naming the receiver, e.g. `'erlmcp_monitor_sup: '`
 * @returns the message's type
 * @throws {MonitorError} `EMON_BAD_MESSAGE` naming the type or field and what is allowed
 */
export function checkMessage(what: string, msg: unknown, fields: AnyMessageFields, who = ''): string {
  // The type list is built only for an error: this runs for every update of a batch.
  const types = () => {
    const names = Object.keys(fields);
    return names.length === 0 ? 'none' : names.join(', ');
  };
  if (msg === null || typeof msg !== 'object' || Array.isArray(msg)) {
    throw new MonitorError(ErrorCode.BadMessage, `${who}${what} must be an object { type, ... }, got ${describeValue(msg)} (allowed types: ${types()})`);
  }
  const type: unknown = (msg as { type?: unknown }).type;
  if (typeof type !== 'string' || !Object.hasOwn(fields, type)) {
    throw new MonitorError(ErrorCode.BadMessage, `${who}unknown ${what} type ${describeValue(type)} (allowed: ${types()})`);
  }
  const allowed = fields[type]!;
  if (allowed === 'any') return type;
  // for-in walks the keys without allocating an array (Object.keys would, per update).
  for (const key in msg) {
    if (key !== 'type' && !Object.hasOwn(allowed, key) && Object.hasOwn(msg, key)) {
      throw new MonitorError(ErrorCode.BadMessage, `${who}${what} ${type}: unknown field ${describeValue(key)} (${listFields(allowed)})`);
    }
  }
  for (const key in allowed) {
    if (allowed[key] === 'required' && !Object.hasOwn(msg, key)) {
      throw new MonitorError(ErrorCode.BadMessage, `${who}${what} ${type}: missing field ${describeValue(key)} (${listFields(allowed)})`);
    }
  }
  return type;
}

function listFields(allowed: Readonly<Record<string, FieldRule>>): string {
  const names = Object.keys(allowed);
  if (names.length === 0) return 'no other fields';
  return `allowed: ${names.map((k) => (allowed[k] === 'required' ? k : `${k}?`)).join(', ')}`;
}
