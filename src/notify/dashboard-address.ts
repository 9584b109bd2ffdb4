/**
 * Where alerts link to and which `instance` they come from: the dashboard's real address. With
 * `dashboard.port` 0 the port is known only once the dashboard listens, so both are answered
 * lazily: undefined until then (the Alertmanager channel waits for the instance; notifications
 * carry no link). A wildcard bind (`0.0.0.0`, `::`) is not an address anyone can open: the link
 * and the instance use the machine's hostname instead.
 *
 * The instance is fixed at its first answer: Alertmanager identifies an alert by its labels, so a
 * dashboard restarted on another free port must not turn every firing alert into a new one. The
 * link follows the latest address, so it keeps resolving.
 */
import os from 'node:os';
import type { ServerAddress } from '../server/http-server.js';

export interface DashboardAddressOptions {
  /** Whether a dashboard runs at all (no link without one). */
  enabled: boolean;
  host: string;
  /** 0 = learnt from {@link DashboardAddress.listening}. */
  port: number;
  /** A configured `instance` label ('' = `<hostname>:<port>`). */
  instance?: string;
  /** Default `os.hostname()`. */
  hostname?: string;
}

const WILDCARD = new Set(['0.0.0.0', '::', '[::]', '']);

export class DashboardAddress {
  readonly #hostname: string;
  readonly #host: string;
  #port: number | undefined;
  #instance: string | undefined;
  readonly #enabled: boolean;

  constructor(options: DashboardAddressOptions) {
    this.#hostname = options.hostname ?? os.hostname();
    this.#enabled = options.enabled;
    this.#host = WILDCARD.has(options.host) ? this.#hostname : options.host;
    this.#port = options.enabled && options.port !== 0 ? options.port : undefined;
    if (options.instance !== undefined && options.instance !== '') this.#instance = options.instance;
    else if (!options.enabled) this.#instance = this.#hostname;
  }

  /** Records where the dashboard listens. */
  listening(address: Pick<ServerAddress, 'port'>): void {
    this.#port = address.port;
  }

  /** `http://<host>:<port>`, once known; undefined without a dashboard. */
  url(): string | undefined {
    if (!this.#enabled || this.#port === undefined) return undefined;
    const host = this.#host.includes(':') && !this.#host.startsWith('[') ? `[${this.#host}]` : this.#host;
    return `http://${host}:${this.#port}`;
  }

  /** The `instance` label: the configured one, else `<hostname>:<dashboard port>` once known (then kept). */
  instance(): string | undefined {
    if (this.#instance === undefined && this.#port !== undefined) this.#instance = `${this.#hostname}:${this.#port}`;
    return this.#instance;
  }
}
