/**
 * The Alertmanager channel: every alert goes to `POST <url>/api/v2/alerts` of EVERY configured
 * Alertmanager (an HA cluster deduplicates only what each peer received, as Prometheus does). Labels
 * carry `instance` and `alertname` so Alertmanager's standard inhibit rule matches. Alertmanager
 * resolves an alert once `endsAt` passes, so firing alerts are re-sent every `resendIntervalMs`, in
 * order, so a re-send never overtakes the resolution. Delivery is per URL: a retry goes only to the
 * Alertmanagers that failed ({@link DeliveryError}). Labels and annotations: docs/design-notes.md.
 */
import type http from 'node:http';
import { ErrorCode, MonitorError } from '../errors.js';
import { agentFor, post, redactUrl } from '../net/post.js';
import { LABEL_NAME } from '../metrics/metric.js';
import { oneLine, withoutSeverity } from './notification-text.js';
import { DeliveryError, type NotificationChannel, type Notification, type NotifiedAlert } from './types.js';

/** Options of {@link AlertmanagerChannel}; defaults in each field's doc. */
export interface AlertmanagerChannelOptions {
  /** Alertmanager base URLs (each peer of an HA cluster); alerts go to `<url>/api/v2/alerts`. */
  urls: readonly string[];
  /** How often firing alerts are re-sent, ms (default 60,000). */
  resendIntervalMs?: number;
  /** Per-request deadline, ms (default 10,000). */
  timeoutMs?: number;
  /** Wall clock (default `Date.now`). */
  now?: () => number;
  /**
   * The `instance` label of alerts that have none. A function is asked at each POST until it
   * returns a value (e.g. the dashboard's port once it listens), which is then kept: an alert's
   * labels must not change while it fires. Until then alerts wait (a retryable failure). Default none.
   */
  instance?: string | (() => string | undefined);
  /** Labels added to alerts that do not set them, e.g. `{cluster: 'eu-1'}`. Default none. */
  externalLabels?: Readonly<Record<string, string>>;
  /**
   * A firing alert's latest state by fingerprint (its value moved since it was notified), so
   * re-sends carry the current annotations. Default: re-send what was notified.
   */
  current?: (fingerprint: string) => NotifiedAlert | undefined;
}

/** One alert as Alertmanager's API v2 `postableAlert`. */
export interface PostableAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt?: string;
  generatorURL?: string;
}

interface Target {
  url: URL;
  where: string;
  agent: http.Agent;
}

/** Notifications whose delivery failed for some URLs, remembered to retry only those (bounded). */
const MAX_PARTIAL = 1000;

function cleanLabels(source: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(source)) if (LABEL_NAME.test(k) && typeof v === 'string' && v !== '') out[k] = v;
  return out;
}

/**
 * Its `alertname` label (rules and signals set it: the rule, SLA or threshold name; a `send_alert`
 * caller may), else its title without the severity prefix. Not one constant name for every
 * unnamed alert: with the standard inhibit rule (`equal: [alertname, instance]`) any critical one
 * would inhibit every unnamed warning.
 */
export function alertName(alert: NotifiedAlert): string {
  const named = alert.labels.alertname;
  return named !== undefined && named !== '' ? named : withoutSeverity(oneLine(alert.title));
}

/**
 * The Alertmanager form of an alert; `endsAt` is given for resolved ones and for firing ones.
 * @param extra labels under the alert's own (external labels, `instance`)
 */
export function toPostableAlert(
  alert: NotifiedAlert,
  endsAt: number,
  extra: Readonly<Record<string, string>> = {},
): PostableAlert {
  const labels = {
    ...cleanLabels(extra),
    ...cleanLabels(alert.labels),
    alertname: alertName(alert),
    severity: alert.severity,
  };
  const annotations = { summary: alert.title, description: alert.message, source: alert.source, ...alert.annotations };
  return {
    labels,
    annotations,
    startsAt: new Date(alert.startedAt).toISOString(),
    endsAt: new Date(endsAt).toISOString(),
    ...(alert.generatorUrl === undefined ? {} : { generatorURL: alert.generatorUrl }),
  };
}

/** The `alertmanager` notification channel described in the module header. */
export class AlertmanagerChannel implements NotificationChannel {
  readonly name = 'alertmanager' as const;
  readonly sendsResolved = true;
  readonly #targets: Target[];
  readonly #resendMs: number;
  readonly #timeoutMs: number;
  readonly #now: () => number;
  #instance: string | (() => string | undefined) | undefined;
  readonly #externalLabels: Record<string, string>;
  readonly #current: ((fingerprint: string) => NotifiedAlert | undefined) | undefined;
  /** Notification id → indexes of the targets that have not accepted it yet. */
  readonly #partial = new Map<string, Set<number>>();
  /** Firing alerts by fingerprint, re-sent every interval. */
  readonly #firing = new Map<string, NotifiedAlert>();
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  /** The last POST round queued: rounds run one after another (see `#serial`). */
  #chain: Promise<unknown> = Promise.resolve();

  /** @throws {MonitorError} `EMON_INVALID_OPTION` for no URL, a bad URL, or a bad interval */
  constructor(options: AlertmanagerChannelOptions) {
    if (!Array.isArray(options.urls) || options.urls.length === 0) {
      throw new MonitorError(ErrorCode.InvalidOption, 'alertmanager channel: urls must list at least one http(s) URL');
    }
    this.#targets = options.urls.map((raw, i) => {
      let url: URL;
      try {
        url = new URL(raw as string);
      } catch {
        throw new MonitorError(
          ErrorCode.InvalidOption,
          `alertmanager channel: urls[${i}] is not an absolute http(s) URL`,
        );
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        throw new MonitorError(
          ErrorCode.InvalidOption,
          `alertmanager channel: urls[${i}] must be http(s), got ${url.protocol}`,
        );
      }
      const endpoint = new URL(`${url.pathname.replace(/\/+$/, '')}/api/v2/alerts`, url);
      endpoint.username = url.username;
      endpoint.password = url.password;
      return { url: endpoint, where: redactUrl(endpoint), agent: agentFor(endpoint) };
    });
    for (const [key, value] of [
      ['resendIntervalMs', options.resendIntervalMs],
      ['timeoutMs', options.timeoutMs],
    ] as const) {
      if (value !== undefined && (!Number.isInteger(value) || value < 1 || value > 2_147_483_647)) {
        throw new MonitorError(
          ErrorCode.InvalidOption,
          `alertmanager channel: ${key} must be a positive integer (ms), got ${String(value)}`,
        );
      }
    }
    this.#resendMs = options.resendIntervalMs ?? 60_000;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#now = options.now ?? Date.now;
    if (
      options.instance !== undefined &&
      typeof options.instance !== 'string' &&
      typeof options.instance !== 'function'
    ) {
      throw new MonitorError(
        ErrorCode.InvalidOption,
        `alertmanager channel: instance must be a string or a function, got ${typeof options.instance}`,
      );
    }
    this.#instance = options.instance === '' ? undefined : options.instance;
    this.#externalLabels = { ...(options.externalLabels ?? {}) };
    for (const [name, value] of Object.entries(this.#externalLabels)) {
      if (!LABEL_NAME.test(name) || typeof value !== 'string' || value === '') {
        throw new MonitorError(
          ErrorCode.InvalidOption,
          `alertmanager channel: externalLabels.${name} must be a label name (letters, digits, "_") with a non-empty string value`,
        );
      }
    }
    this.#current = options.current;
  }

  /** External labels and `instance`, or undefined while the instance is not known yet. */
  #extraLabels(): Record<string, string> | undefined {
    if (this.#instance === undefined) return this.#externalLabels;
    if (typeof this.#instance === 'string') return { ...this.#externalLabels, instance: this.#instance };
    let instance: string | undefined;
    try {
      instance = this.#instance();
    } catch {
      instance = undefined;
    }
    if (instance === undefined || instance === '') return undefined;
    this.#instance = instance;
    return { ...this.#externalLabels, instance };
  }

  /** Alerts currently re-sent as firing. */
  get firing(): number {
    return this.#firing.size;
  }

  /**
   * Posts the alert to every Alertmanager that has not accepted this notification yet.
   * @throws {DeliveryError} naming the Alertmanagers that did not accept it
   */
  send(notification: Notification): Promise<void> {
    if (this.#closed) return Promise.reject(new DeliveryError('alertmanager channel is closed', { retryable: false }));
    return this.#serial(() => this.#send(notification));
  }

  async #send(notification: Notification): Promise<void> {
    const alert = notification.alert;
    const resolved = notification.reason === 'resolved' || alert.status === 'resolved';
    if (resolved) this.#firing.delete(alert.fingerprint);
    else this.#track(alert);
    const extra = this.#extraLabels();
    if (extra === undefined)
      throw new DeliveryError(
        'alertmanager: the instance label is not known yet (the dashboard is not listening yet)',
        { retryable: true, retryAfterMs: 500 },
      );
    const endsAt = resolved ? (alert.resolvedAt ?? this.#now()) : this.#now() + 4 * this.#resendMs;
    const body = JSON.stringify([toPostableAlert(alert, endsAt, extra)]);
    const todo = this.#partial.get(notification.id) ?? new Set(this.#targets.keys());
    const failures = await this.#postTo([...todo], body);
    if (failures.length === 0) {
      this.#partial.delete(notification.id);
      return;
    }
    const failed = new Set(failures.map((f) => f.index));
    this.#partial.delete(notification.id);
    this.#partial.set(notification.id, failed);
    if (this.#partial.size > MAX_PARTIAL) this.#partial.delete(this.#partial.keys().next().value!);
    const retryable = failures.some((f) => f.retryable);
    const retryAfterMs = failures.map((f) => f.retryAfterMs).find((ms) => ms !== undefined);
    throw new DeliveryError(
      `alertmanager: ${failures.length} of ${this.#targets.length} did not accept the alert: ${failures.map((f) => f.message).join('; ')}`,
      retryAfterMs === undefined ? { retryable } : { retryable, retryAfterMs },
    );
  }

  /** Stops re-sending and releases the sockets. */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#firing.clear();
    for (const t of this.#targets) t.agent.destroy();
  }

  #track(alert: NotifiedAlert): void {
    this.#firing.set(alert.fingerprint, alert);
    this.#timer ??= setInterval(() => void this.#serial(() => this.#resend()), this.#resendMs);
  }

  /**
   * Runs POST rounds one at a time, in order. A re-send of a firing alert still in flight when its
   * resolution is posted could otherwise reach Alertmanager after it and fire the alert again.
   */
  #serial<T>(round: () => Promise<T>): Promise<T> {
    const run = this.#chain.then(round);
    this.#chain = run.catch(() => undefined);
    return run;
  }

  async #resend(): Promise<void> {
    if (this.#firing.size === 0) {
      clearInterval(this.#timer);
      this.#timer = undefined;
      return;
    }
    const extra = this.#extraLabels();
    if (extra === undefined) return;
    const endsAt = this.#now() + 4 * this.#resendMs;
    const alerts = [...this.#firing.values()].map((a) => {
      let latest: NotifiedAlert | undefined;
      try {
        latest = this.#current?.(a.fingerprint);
      } catch {
        latest = undefined;
      }
      // Only the same alert (same id): a fingerprint that resolved and fired again is another alert.
      return toPostableAlert(
        latest !== undefined && latest.id === a.id && latest.status === 'firing' ? latest : a,
        endsAt,
        extra,
      );
    });
    const body = JSON.stringify(alerts);
    // Best effort: a missed re-send is repeated next interval, well before endsAt passes.
    await this.#postTo([...this.#targets.keys()], body);
  }

  async #postTo(indexes: number[], body: string) {
    const results = await Promise.all(
      indexes.map(async (index) => {
        const t = this.#targets[index]!;
        try {
          const res = await post(t.url, body, {
            headers: { 'content-type': 'application/json' },
            agent: t.agent,
            timeoutMs: this.#timeoutMs,
          });
          if (res.status >= 200 && res.status < 300) return undefined;
          const retryable = res.status >= 500 || res.status === 429 || res.status === 408;
          const after = Number(res.headers['retry-after']);
          return {
            index,
            retryable,
            retryAfterMs: Number.isFinite(after) && after >= 0 ? after * 1000 : undefined,
            message: `${t.where}: HTTP ${res.status} ${res.body.trim().slice(0, 200)}`.trim(),
          };
        } catch (err) {
          return {
            index,
            retryable: true,
            retryAfterMs: undefined,
            message: err instanceof Error ? err.message : String(err),
          };
        }
      }),
    );
    return results.filter((r) => r !== undefined);
  }
}
