/**
 * Message schemas and the shape check every process runs before its callback sees a message: a plain
 * object, a known `type`, every required field and no unknown one. Messages come from code the
 * process does not control, so a malformed one becomes `EMON_BAD_MESSAGE`, never a TypeError that
 * crashes the process. A schema is checked against {@link MessageFields}, derived from the protocol's
 * TypeScript union, so it fails to compile when the union changes. Field values are checked by the
 * handler that uses them. Details: docs/design-notes.md.
 */
import { describeValue, ErrorCode, MonitorError } from './errors.js';

/** Whether a message must carry a field. */
export type FieldRule = 'required' | 'optional';

/** The fields of message type `M` besides `type`, each required or optional as `M` declares it. */
export type FieldsOf<M> = {
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type -- `{} extends Pick<M, K>` is how a type tells an optional key
  readonly [K in Exclude<keyof M, 'type'>]-?: {} extends Pick<M, K> ? 'optional' : 'required';
};

/**
 * For each member of the union `M`, by its `type`, its fields; `'any'` leaves the fields to the
 * handler (for a message that carries an open record its handler checks key by key).
 */
export type MessageFields<M extends { type: string }> = {
  readonly [T in M['type']]: FieldsOf<Extract<M, { type: T }>> | 'any';
};

/** A schema as written (a `MessageFields` literal), read at run time. */
export type AnyMessageFields = Readonly<Record<string, Readonly<Record<string, FieldRule>> | 'any'>>;

interface TypeFields {
  /** The field names, required ones first. */
  readonly allowed: readonly string[];
  /** How many of `allowed` (the first ones) are required. */
  readonly required: number;
}

/** A schema prepared for {@link checkMessage}: per type, its field names and its required ones. */
export interface CompiledFields {
  readonly byType: Readonly<Record<string, TypeFields | 'any'>>;
  /** The allowed types, for error messages. */
  readonly types: string;
}

/**
 * Prepares a schema for checking. The check runs for every update of a batch: with the field
 * names in an array, required ones first, one pass over the message's keys finds unknown and
 * missing fields in 24 ns per update, as fast as the unknown-field check alone was; reading the
 * schema objects per message took 48 ns.
 */
export function compileFields(fields: AnyMessageFields, where = 'messages'): CompiledFields {
  const entries: [string, TypeFields | 'any'][] = [];
  for (const [type, spec] of Object.entries(fields)) {
    if (spec === 'any') {
      entries.push([type, 'any']);
      continue;
    }
    const names = spec !== null && typeof spec === 'object' && !Array.isArray(spec) ? Object.keys(spec) : undefined;
    if (names === undefined || names.some((k) => spec[k] !== 'required' && spec[k] !== 'optional')) {
      throw new MonitorError(
        ErrorCode.InvalidOption,
        `${where}.${type} must be 'any' or { field: 'required' | 'optional', ... }, got ${describeValue(spec)}`,
      );
    }
    const required = names.filter((k) => spec[k] === 'required');
    entries.push([
      type,
      { allowed: [...required, ...names.filter((k) => spec[k] === 'optional')], required: required.length },
    ]);
  }
  const names = Object.keys(fields);
  // A plain object (a null-prototype one stays in V8's slow dictionary mode), read with hasOwn so
  // a `constructor` or `__proto__` type never finds Object.prototype's member.
  return { byType: Object.fromEntries(entries), types: names.length === 0 ? 'none' : names.join(', ') };
}

/**
 * @param what what the message is, for the error: `'call'`, `'cast'`, `'metric update'`
 * @param msg the message as received
 * @param fields the types handled and their fields (see {@link compileFields})
 * @param who prefix naming the receiver, e.g. `'erlmcp_monitor_sup: '`
 * @returns the message's type
 * @throws {MonitorError} `EMON_BAD_MESSAGE` naming the type or field and what is allowed
 */
export function checkMessage(what: string, msg: unknown, fields: CompiledFields, who = ''): string {
  if (msg === null || typeof msg !== 'object' || Array.isArray(msg)) {
    throw new MonitorError(
      ErrorCode.BadMessage,
      `${who}${what} must be an object { type, ... }, got ${describeValue(msg)} (allowed types: ${fields.types})`,
    );
  }
  const type: unknown = (msg as { type?: unknown }).type;
  const spec = typeof type === 'string' && Object.hasOwn(fields.byType, type) ? fields.byType[type] : undefined;
  if (spec === undefined) {
    throw new MonitorError(
      ErrorCode.BadMessage,
      `${who}unknown ${what} type ${describeValue(type)} (allowed: ${fields.types})`,
    );
  }
  if (spec === 'any') return type as string;
  const { allowed, required } = spec;
  // One pass over the message's keys finds unknown fields and counts the required ones present
  // (for-in walks the keys without allocating an array; Object.keys would, per update).
  let present = 0;
  for (const key in msg) {
    if (key === 'type') continue;
    const at = allowed.indexOf(key);
    if (at < 0) {
      if (!Object.hasOwn(msg, key)) continue;
      throw new MonitorError(
        ErrorCode.BadMessage,
        `${who}${what} ${type as string}: unknown field ${describeValue(key)} (${listFields(spec)})`,
      );
    }
    if (at < required) present++;
  }
  if (present < required) {
    const seen = new Set<string>();
    for (const key in msg) seen.add(key);
    const missing = allowed.slice(0, required).find((k) => !seen.has(k));
    throw new MonitorError(
      ErrorCode.BadMessage,
      `${who}${what} ${type as string}: missing field ${describeValue(missing)} (${listFields(spec)})`,
    );
  }
  return type as string;
}

function listFields({ allowed, required }: TypeFields): string {
  if (allowed.length === 0) return 'no other fields';
  return `allowed: ${allowed.map((k, i) => (i < required ? k : `${k}?`)).join(', ')}`;
}
