/**
 * The shape check every actor runs on a message before its `switch (msg.type)`: the message is a
 * plain object, its `type` is one the actor handles, and it carries no field that type does not
 * have. Calls and casts come from code the actor does not control (the host application, a
 * cluster worker), so a malformed one must become a `BadMessage` error (a rejected call, a logged
 * cast) instead of a TypeError that crashes the process. Field values are checked by the handler
 * that uses them.
 */
import { describeValue, ErrorCode, MonitorError } from './errors.js';

/** Per message type, its fields besides `type`; `'any'` leaves the fields to the handler. */
export type MessageFields = Readonly<Record<string, readonly string[] | 'any'>>;

/**
 * @param what what the message is, for the error: `'call'`, `'cast'`, `'metric update'`
 * @param msg the message as received
 * @param fields the types handled and their fields
 * @returns the message's type
 * @throws {MonitorError} `EMON_BAD_MESSAGE` naming the type or field and what is allowed
 */
export function checkMessage(what: string, msg: unknown, fields: MessageFields): string {
  // The type list is built only for an error: this runs for every update of a batch.
  const types = () => Object.keys(fields).join(', ');
  if (msg === null || typeof msg !== 'object' || Array.isArray(msg)) {
    throw new MonitorError(ErrorCode.BadMessage, `${what} must be an object { type, ... }, got ${describeValue(msg)} (allowed types: ${types()})`);
  }
  const type: unknown = (msg as { type?: unknown }).type;
  if (typeof type !== 'string' || !Object.hasOwn(fields, type)) {
    throw new MonitorError(ErrorCode.BadMessage, `unknown ${what} type ${describeValue(type)} (allowed: ${types()})`);
  }
  const allowed = fields[type]!;
  if (allowed === 'any') return type;
  // for-in walks the keys without allocating an array (Object.keys would, per update).
  for (const key in msg) {
    if (key !== 'type' && !allowed.includes(key) && Object.hasOwn(msg, key)) {
      const list = allowed.length === 0 ? 'no other fields' : `allowed: ${allowed.join(', ')}`;
      throw new MonitorError(ErrorCode.BadMessage, `${what} ${type}: unknown field ${describeValue(key)} (${list})`);
    }
  }
  return type;
}
