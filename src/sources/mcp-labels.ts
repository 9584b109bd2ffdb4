/**
 * Bounded label values for `instrument.mcp`: JSON-RPC methods from the MCP specification's set
 * (anything else is `other`), error codes from the JSON-RPC reserved range (anything else is
 * `other`), and names (tools, prompts, resource templates) capped at a number of distinct values,
 * past which they count as `other`. A client chooses the method, the tool name and the URI it
 * sends, so none of them may reach a label unbounded.
 */

/** The label of a method, code or name outside the bounded set. */
export const OTHER_LABEL = 'other';
/** The `tool` / `prompt` label of a name the server has not registered (an McpServer answers it with an error). */
export const UNKNOWN_NAME = 'unknown';
/** The `template` label of a resource URI no registered resource or template matches. */
export const UNMATCHED_TEMPLATE = 'unmatched';
/** The `code` label of a `tools/call` answered with a result whose `isError` is true (a tool that threw, bad arguments, unknown tool in McpServer). */
export const TOOL_ERROR_CODE = 'tool_error';

/** Requests a client sends to a server, and a server to a client (MCP 2025-06-18 and 2025-11-25). */
const REQUEST_METHODS = new Set([
  'initialize',
  'ping',
  'tools/list',
  'tools/call',
  'resources/list',
  'resources/templates/list',
  'resources/read',
  'resources/subscribe',
  'resources/unsubscribe',
  'prompts/list',
  'prompts/get',
  'completion/complete',
  'logging/setLevel',
  'tasks/get',
  'tasks/result',
  'tasks/list',
  'tasks/cancel',
  'sampling/createMessage',
  'elicitation/create',
  'roots/list',
]);

const NOTIFICATION_METHODS = new Set([
  'notifications/initialized',
  'notifications/cancelled',
  'notifications/progress',
  'notifications/message',
  'notifications/roots/list_changed',
  'notifications/resources/updated',
  'notifications/resources/list_changed',
  'notifications/tools/list_changed',
  'notifications/prompts/list_changed',
  'notifications/tasks/status',
  'notifications/elicitation/complete',
]);

/** `method` as a label: itself when MCP defines it, else `other`. */
export function requestMethodLabel(method: unknown): string {
  return typeof method === 'string' && REQUEST_METHODS.has(method) ? method : OTHER_LABEL;
}

/** A notification's `method` as a label: itself when MCP defines it, else `other`. */
export function notificationMethodLabel(method: unknown): string {
  return typeof method === 'string' && NOTIFICATION_METHODS.has(method) ? method : OTHER_LABEL;
}

/** A JSON-RPC error code as a label: the code when it is an integer of the reserved range -32768..-32000, else `other`. */
export function errorCodeLabel(code: unknown): string {
  return typeof code === 'number' && Number.isInteger(code) && code >= -32768 && code <= -32000
    ? String(code)
    : OTHER_LABEL;
}

/**
 * Distinct names kept as labels, at most `max`; past it every new name is `other`. Shared by every
 * instrumentation of one server name, so a service that builds one McpServer per session still
 * has one bound.
 */
export class NameCap {
  readonly #max: number;
  readonly #kept = new Set<string>();
  #onOverflow: (() => void) | undefined;

  /**
   * @param max how many distinct names to keep
   * @param onOverflow called once, at the first name refused
   */
  constructor(max: number, onOverflow?: () => void) {
    this.#max = max;
    this.#onOverflow = onOverflow;
  }

  /** `name`, or `other` once `max` other names are kept. */
  label(name: string): string {
    if (this.#kept.has(name)) return name;
    if (this.#kept.size >= this.#max) {
      this.#onOverflow?.();
      this.#onOverflow = undefined;
      return OTHER_LABEL;
    }
    this.#kept.add(name);
    return name;
  }
}
