/**
 * The four configuration files (`configs/*.json`, the source design's snake_case keys) and what each
 * key may hold. Every key has its default here, so a missing file or key means the default; every
 * object is strict (a typo must not fall back to a default). Durations are integer ms unless a key
 * says otherwise; timer intervals are capped at 2147483647 ms (Node fires a longer timer after 1 ms).
 * Secrets belong in the environment (see `loadConfig`). Where and why this differs from the source
 * design: docs/design-notes.md.
 */
import * as z from 'zod';
import { NAMESPACE_PATTERN } from '../metrics/prometheus-names.js';
import { LABEL_NAME, METRIC_NAME } from '../metrics/metric.js';
import { SERIES_STATS } from '../server/protocol.js';
import { isLoopbackHost } from '../net/loopback.js';

/** Largest delay Node's timers honour; a longer delay fires after 1 ms. */
export const MAX_TIMER_MS = 2_147_483_647;

/** Alert severities, least to most severe. */
/**
 * `series_limit`'s default: series per metric. Chosen from bench/million.bench.ts on a shared,
 * loaded 2-core VM: with a metric at this limit (a tree of ~120 MB RSS), a flush of every series
 * changed answers in ~2 s, inside the collector's 5 s call timeout and 5 s shutdown, and a scrape
 * takes ~1 s with no event-loop block over ~40 ms of CPU. At 1,000,000 that flush ran past the
 * call timeout (~15 s, the store's commit) and the tree held ~1.3 GB.
 */
export const DEFAULT_SERIES_LIMIT = 100_000;

export const SEVERITIES = ['info', 'warning', 'error', 'critical'] as const;

/** Alert delivery channels. */
export const CHANNEL_NAMES = ['email', 'slack', 'sms', 'webhook', 'alertmanager'] as const;

/** The Slack webhook the source design ships: a placeholder, not a real webhook. */
export const SLACK_WEBHOOK_PLACEHOLDER = 'https://hooks.slack.com/services/...';

/** What a key may hold, in words, for error messages ("expected …"), and an optional hint. */
export interface Expectation {
  expected: string;
  hint?: string;
}

/** Describes schemas for error messages; read by `describeIssues`. */
export const expectations = z.registry<Expectation>();

function expecting<T extends z.ZodType>(schema: T, expected: string, hint?: string): T {
  expectations.add(schema, hint === undefined ? { expected } : { expected, hint });
  return schema;
}

const bool = () => expecting(z.boolean(), 'true or false');
/** A delay that drives a timer. */
const timerMs = () => expecting(z.number().int().positive().max(MAX_TIMER_MS), 'a positive integer (ms)');
/** A span of time that is compared against, never handed to a timer. */
const durationMs = () => expecting(z.number().int().positive(), 'a positive integer (ms)');
const positiveInt = (unit: string) => expecting(z.number().int().positive(), `a positive integer (${unit})`);
const percent = () => expecting(z.number().gt(0).max(100), 'a number above 0 and at most 100 (%)');
const nonEmptyString = (what: string) => expecting(z.string().min(1), what);
const httpUrl = () => expecting(z.url({ protocol: /^https?$/ }), 'an absolute http(s) URL');
const email = () => expecting(z.email(), 'an email address');
const hostName = () => expecting(z.string().regex(/^[^\s/]+$/), 'a host name or IP address');
const phoneNumber = () =>
  expecting(z.string().regex(/^\+[1-9]\d{1,14}$/), 'a phone number in E.164 form, e.g. "+15551234567"');
const listOf = <T extends z.ZodType>(item: T, expected: string) => expecting(z.array(item), expected);

const HTTP_URL = z.url({ protocol: /^https?$/ });

function isHttpUrl(value: string): boolean {
  return HTTP_URL.safeParse(value).success;
}

/** A URL still holding the source design's "..." placeholder. */
function isPlaceholder(value: string): boolean {
  return value.includes('...');
}

/** Reports a field that an enabled channel needs, with `expected` rendered like a type error. */
function requireWhenEnabled(ctx: z.RefinementCtx, channel: string, key: string, expected: string, hint?: string): void {
  ctx.addIssue({
    code: 'custom',
    path: [key],
    message: `expected ${expected} while channels.${channel}.enabled is true`,
    params: {
      expected: `${expected} while channels.${channel}.enabled is true`,
      ...(hint === undefined ? {} : { hint }),
    },
  });
}

function strictlyIncreasing(values: readonly number[], ctx: z.RefinementCtx): void {
  let previous: number | undefined;
  for (const [i, value] of values.entries()) {
    if (previous !== undefined && !(value > previous)) {
      ctx.addIssue({
        code: 'custom',
        message: `must be strictly increasing, but [${i}] = ${value} does not exceed [${i - 1}] = ${previous} (got [${values.join(', ')}])`,
      });
      return;
    }
    previous = value;
  }
}

function distinct(values: readonly unknown[], ctx: z.RefinementCtx): void {
  const seen = new Set<unknown>();
  values.forEach((value, i) => {
    if (seen.has(value))
      ctx.addIssue({ code: 'custom', path: [i], message: `duplicate entry ${JSON.stringify(value)}` });
    seen.add(value);
  });
}

// ---------------------------------------------------------------- monitoring.json

/** `configs/monitoring.json`: the metrics collector (source `erlmcp_metrics_collector`). */
export const monitoringSchema = z
  .strictObject({
    /** Collect metrics at all. */
    metrics_enabled: bool().default(true),
    /** How often the collector samples application, system and network sources. */
    collection_interval: timerMs().default(5000),
    /** Where metrics persist; only LMDB (see the module header). */
    storage_backend: expecting(
      z.enum(['lmdb']),
      '"lmdb"',
      "metrics are kept in memory and persisted to LMDB under data_dir; the source design's ets/mnesia/timescale backends are not available",
    ).default('lmdb'),
    /** How long raw history points are kept. */
    retention_period: durationMs().default(86_400_000),
    /** How often aggregates are computed and written to the store in one batch. */
    aggregation_interval: timerMs().default(10_000),
    /** Default histogram bucket upper bounds. */
    histogram_buckets: listOf(
      expecting(z.number(), 'a finite number'),
      'a non-empty list of strictly increasing numbers',
    )
      .min(1)
      .superRefine(strictlyIncreasing)
      .default(() => [10, 50, 100, 500, 1000, 5000, 10000]),
    /** Push metrics to `export_endpoint` (shipped off; see the module header). */
    export_enabled: bool().default(false),
    /** How often metrics are pushed when export is enabled. */
    export_interval: timerMs().default(30_000),
    /** Prometheus remote-write URL. */
    export_endpoint: httpUrl().default('http://127.0.0.1:9090/api/v1/write'),
    /** Series per metric before updates go to one overflow series (see {@link DEFAULT_SERIES_LIMIT}). */
    series_limit: positiveInt('series per metric').default(DEFAULT_SERIES_LIMIT),
    /** Directory of the LMDB environment (relative paths resolve against the working directory). */
    data_dir: nonEmptyString('a non-empty directory path').default('./.erlmcp-monitor'),
    /**
     * With node:cluster workers, how the primary's exposition shows their series: `by_worker`
     * (each series labelled `worker="<id>"`, the primary's own `worker="primary"`) or `sum` (one
     * series per label set, summed over the workers).
     */
    cluster_aggregation: expecting(z.enum(['by_worker', 'sum']), '"by_worker" or "sum"').default('by_worker'),
    /**
     * What start does with a damaged store file under `data_dir`: `fail` (refuse with
     * EMON_STORE_FAILED naming the file and the damage) or `move_aside` (move it into
     * `data_dir/damaged-<time>/`, log one error line, start a new store).
     */
    on_corrupt: expecting(z.enum(['fail', 'move_aside']), '"fail" or "move_aside"').default('fail'),
    /**
     * Prefix of every exposed metric name, joined with `_` (`"shop"` → `shop_http_server_requests_total`),
     * in the scrape and remote write; `""` for none. prom-client's runtime families keep their names.
     */
    namespace: expecting(
      z.string().regex(new RegExp(`${NAMESPACE_PATTERN.source}|^$`)),
      'a Prometheus name prefix such as "shop" (letters, digits, "_" and ":", not starting with a digit nor ending with "_"), or ""',
    ).default(''),
  })
  .superRefine((config, ctx) => {
    if (config.retention_period < config.aggregation_interval) {
      ctx.addIssue({
        code: 'custom',
        path: ['retention_period'],
        message: `must be at least aggregation_interval (${config.aggregation_interval} ms), got ${config.retention_period}: nothing aggregated would be kept`,
      });
    }
  });

// ---------------------------------------------------------------- performance_monitor.json

/** What an SLA measures. */
export const SLA_KINDS = ['availability', 'response_time', 'throughput', 'error_rate'] as const;

/** Which way is good for each SLA kind: the source's current/target ratio treats all as higher-is-better. */
const SLA_DIRECTION = {
  availability: 'higher_is_better',
  response_time: 'lower_is_better',
  throughput: 'higher_is_better',
  error_rate: 'lower_is_better',
} as const;

const article = (word: string): string => (/^[aeiou]/.test(word) ? 'an' : 'a');

const slaSchema = z
  .strictObject({
    name: nonEmptyString('a non-empty name'),
    kind: expecting(z.enum(SLA_KINDS), 'an SLA kind'),
    target: expecting(z.number(), 'a finite number'),
    unit: nonEmptyString('a non-empty unit, e.g. "ms"'),
    direction: expecting(z.enum(['higher_is_better', 'lower_is_better']), 'a direction'),
    /** The window the SLA is evaluated over. */
    window: durationMs().default(3_600_000),
  })
  .superRefine((sla, ctx) => {
    const direction = SLA_DIRECTION[sla.kind];
    if (sla.direction !== direction) {
      ctx.addIssue({
        code: 'custom',
        path: ['direction'],
        message: `${article(sla.kind)} ${sla.kind} SLA must be "${direction}", got "${sla.direction}"`,
      });
    }
    const range =
      sla.kind === 'availability'
        ? { ok: sla.target > 0 && sla.target <= 100, allowed: 'above 0 and at most 100 (%)' }
        : sla.kind === 'error_rate'
          ? { ok: sla.target >= 0 && sla.target <= 1, allowed: 'from 0 to 1 (a fraction)' }
          : { ok: sla.target > 0, allowed: 'above 0' };
    if (!range.ok) {
      ctx.addIssue({
        code: 'custom',
        path: ['target'],
        message: `${article(sla.kind)} ${sla.kind} target must be ${range.allowed}, got ${sla.target}`,
      });
    }
  });

/** `configs/performance_monitor.json`: thresholds, scoring and SLAs (source `erlmcp_performance_monitor`). */
export const performanceMonitorSchema = z.strictObject({
  /** Run the periodic checks at all. */
  monitor_enabled: bool().default(true),
  /** How often latency, throughput, error rate, CPU and memory are checked against the thresholds. */
  check_interval: timerMs().default(5000),
  /** Latency (ms) above which a check breaches. */
  latency_threshold: expecting(z.number().positive(), 'a positive number (ms)').default(100),
  /**
   * Throughput (req/s) below which a check breaches; also the 100 % of the throughput score.
   * Absent by default: how much traffic is normal depends on the service (configs/ sets the
   * source design's 10,000).
   */
  throughput_threshold: expecting(z.number().positive(), 'a positive number (req/s)').optional(),
  /** Error rate (a fraction: 0.01 = 1 %) above which a check breaches. */
  error_rate_threshold: expecting(z.number().min(0).max(1), 'a fraction from 0 to 1 (0.01 = 1 %)').default(0.01),
  /** CPU % above which a check breaches. */
  cpu_threshold: percent().default(80),
  /** Memory % above which a check breaches. */
  memory_threshold: percent().default(90),
  /** Event-loop delay p99 (ms) above which a check breaches (not in the source: Node's analogue of a scheduler run queue). */
  event_loop_threshold: expecting(z.number().positive(), 'a positive number (ms)').default(100),
  /** Compute the 0–100 scores in the report. */
  scoring_enabled: bool().default(true),
  /** Include recommendations in the report. */
  recommendations_enabled: bool().default(true),
  /** How many check/SLA results are kept. */
  history_size: expecting(
    z.number().int().positive().max(1_000_000),
    'a positive integer (entries) of at most 1000000',
  ).default(1000),
  /** Sliding window for latency percentiles, throughput and error rate. */
  window: durationMs().default(60_000),
  /**
   * Service-level objectives: none by default, since targets are the service's to set (configs/
   * has the source design's three: 99.999 % uptime, 100 ms, 10,000 req/s).
   */
  slas: listOf(slaSchema, 'a list of SLAs')
    .superRefine((slas, ctx) =>
      distinct(
        slas.map((sla) => sla.name),
        ctx,
      ),
    )
    .default((): z.output<typeof slaSchema>[] => []),
});

// ---------------------------------------------------------------- alerting.json

const emailChannelSchema = z
  .strictObject({
    enabled: bool().default(false),
    from: email().default('alerts@erlmcp.com'),
    to: listOf(email(), 'a list of email addresses').default(() => ['ops@example.com']),
    /** SMTP server. */
    host: hostName().default('127.0.0.1'),
    port: expecting(z.number().int().min(1).max(65535), 'an integer port from 1 to 65535').default(587),
    /** TLS from the first byte (port 465); false means STARTTLS when offered. */
    secure: bool().default(false),
    /** Refuse to send unless the STARTTLS upgrade succeeds (ignored when `secure`). */
    require_tls: bool().default(false),
    /** Deadline for connecting, the greeting and each later SMTP read or write (a whole send gets 3×). */
    timeout: timerMs().default(10_000),
    user: nonEmptyString('a non-empty SMTP user name').optional(),
    /** Secret: prefer ERLMCP_SMTP_PASS. */
    pass: nonEmptyString('a non-empty SMTP password').optional(),
  })
  .superRefine((email, ctx) => {
    if (!email.enabled) return;
    if (email.to.length === 0) requireWhenEnabled(ctx, 'email', 'to', 'at least one recipient');
    if (email.user !== undefined && email.pass === undefined) {
      requireWhenEnabled(ctx, 'email', 'pass', 'an SMTP password (user is set)', 'set ERLMCP_SMTP_PASS');
    }
    if (email.pass !== undefined && email.user === undefined) {
      requireWhenEnabled(ctx, 'email', 'user', 'an SMTP user name (pass is set)', 'set ERLMCP_SMTP_USER');
    }
  });

const slackChannelSchema = z
  .strictObject({
    enabled: bool().default(false),
    /** Secret: prefer ERLMCP_SLACK_WEBHOOK. */
    webhook: expecting(z.string(), 'a string').default(SLACK_WEBHOOK_PLACEHOLDER),
    /** Deadline of one webhook request (connect, send, answer). */
    timeout: timerMs().default(10_000),
  })
  .superRefine((slack, ctx) => {
    if (slack.enabled && (!isHttpUrl(slack.webhook) || isPlaceholder(slack.webhook))) {
      const hint =
        slack.webhook === SLACK_WEBHOOK_PLACEHOLDER
          ? 'the shipped value is a placeholder; set ERLMCP_SLACK_WEBHOOK'
          : undefined;
      requireWhenEnabled(ctx, 'slack', 'webhook', 'a Slack incoming-webhook http(s) URL', hint);
    }
  });

const smsChannelSchema = z
  .strictObject({
    enabled: bool().default(false),
    provider: expecting(z.enum(['twilio']), 'an SMS provider').default('twilio'),
    /** Sender number. */
    number: phoneNumber().default('+1234567890'),
    /** Recipient numbers. */
    to: listOf(phoneNumber(), 'a list of E.164 phone numbers').default(() => []),
    account_sid: nonEmptyString('a non-empty Twilio account SID').optional(),
    /** Secret: prefer ERLMCP_TWILIO_AUTH_TOKEN. */
    auth_token: nonEmptyString('a non-empty Twilio auth token').optional(),
    /** Messages API base URL (point it at a stub in tests). */
    base_url: httpUrl().default('https://api.twilio.com'),
    /** Deadline of one Messages API request (connect, send, answer). */
    timeout: timerMs().default(10_000),
  })
  .superRefine((sms, ctx) => {
    if (!sms.enabled) return;
    if (sms.to.length === 0) requireWhenEnabled(ctx, 'sms', 'to', 'at least one recipient number');
    if (sms.account_sid === undefined)
      requireWhenEnabled(ctx, 'sms', 'account_sid', 'a Twilio account SID', 'set ERLMCP_TWILIO_ACCOUNT_SID');
    if (sms.auth_token === undefined)
      requireWhenEnabled(ctx, 'sms', 'auth_token', 'a Twilio auth token', 'set ERLMCP_TWILIO_AUTH_TOKEN');
  });

const webhookChannelSchema = z
  .strictObject({
    enabled: bool().default(false),
    url: expecting(z.string(), 'a string').default(''),
    /** Deadline of one webhook request (connect, send, answer). */
    timeout: timerMs().default(10_000),
  })
  .superRefine((webhook, ctx) => {
    if (webhook.enabled && (!isHttpUrl(webhook.url) || isPlaceholder(webhook.url))) {
      requireWhenEnabled(
        ctx,
        'webhook',
        'url',
        'an absolute http(s) URL',
        webhook.url === '' ? 'set url or ERLMCP_WEBHOOK_URL' : undefined,
      );
    }
  });

const alertmanagerChannelSchema = z
  .strictObject({
    enabled: bool().default(false),
    /** Alertmanager base URLs (each one of an HA cluster); alerts go to `<url>/api/v2/alerts`. */
    urls: listOf(expecting(z.string(), 'a string'), 'a list of http(s) URLs').default(() => []),
    /** How often firing alerts are re-sent, ms (Prometheus's `--rules.alert.resend-delay`); they expire in Alertmanager after 4 missed re-sends. */
    resend_interval: timerMs().default(60_000),
    /** The `instance` label of every alert that has none; '' = `<hostname>:<dashboard port>` (the bound port when it is 0). */
    instance: expecting(z.string().max(1000), 'a string of at most 1000 characters').default(''),
    /** Labels added to every alert that does not set them (Prometheus's `external_labels`), e.g. `{"cluster": "eu-1"}`. Default none. */
    external_labels: expecting(
      z.record(z.string().regex(LABEL_NAME), z.string().min(1).max(1000)),
      'an object of label name (letters, digits, "_", not starting with a digit) to a non-empty string',
    ).optional(),
  })
  .superRefine((alertmanager, ctx) => {
    if (!alertmanager.enabled) return;
    if (alertmanager.urls.length === 0) {
      requireWhenEnabled(
        ctx,
        'alertmanager',
        'urls',
        'at least one http(s) URL',
        'set urls or ERLMCP_ALERTMANAGER_URLS',
      );
    }
    alertmanager.urls.forEach((url, i) => {
      if (!isHttpUrl(url)) {
        ctx.addIssue({
          code: 'custom',
          path: ['urls', i],
          message: 'expected an absolute http(s) URL while channels.alertmanager.enabled is true',
          params: { expected: 'an absolute http(s) URL while channels.alertmanager.enabled is true' },
        });
      }
    });
  });

const escalationStepSchema = z.strictObject({
  /** Channels notified at this severity. */
  channels: listOf(expecting(z.enum(CHANNEL_NAMES), 'a channel name'), 'a non-empty list of channel names')
    .min(1)
    .superRefine(distinct),
  /** SECONDS between re-notifications while the alert keeps firing. */
  interval: expecting(
    z
      .number()
      .int()
      .positive()
      .max(Math.floor(MAX_TIMER_MS / 1000)),
    'a positive integer (seconds)',
  ),
});

const routeSchema = () =>
  listOf(expecting(z.enum(CHANNEL_NAMES), 'a channel name'), 'a list of channel names').superRefine(distinct);

/** Severity → the channels an alert's first notification goes to (the source's `get_notification_channels`). */
const routingSchema = z.strictObject({
  info: routeSchema().default(() => []),
  warning: routeSchema().default((): ChannelName[] => ['slack']),
  error: routeSchema().default((): ChannelName[] => ['email', 'slack']),
  critical: routeSchema().default((): ChannelName[] => ['email', 'sms', 'slack']),
});

/** How the notification outbox retries a failed delivery (exponential backoff with jitter). */
const deliverySchema = z
  .strictObject({
    /** Attempts per notification and channel before it becomes a dead letter. */
    max_attempts: expecting(z.number().int().min(1).max(1000), 'an integer from 1 to 1000 (attempts)').default(10),
    /** Wait before the first retry (ms); doubled at each attempt. */
    retry_initial: timerMs().default(1000),
    /** Longest wait between attempts (ms). */
    retry_max: timerMs().default(300_000),
    /** Longest wait a receiver's Retry-After may ask for (ms); 0 = retry_max. */
    retry_after_max: expecting(
      z.number().int().min(0).max(MAX_TIMER_MS),
      `an integer from 0 to ${MAX_TIMER_MS} (ms; 0 = retry_max)`,
    ).default(0),
  })
  .superRefine((d, ctx) => {
    if (d.retry_initial > d.retry_max) {
      ctx.addIssue({
        code: 'custom',
        path: ['retry_initial'],
        message: `retry_initial (${d.retry_initial} ms) must not exceed retry_max (${d.retry_max} ms)`,
      });
    }
  });

const alertBudget = () => expecting(z.number().int().min(1).max(1_000_000), 'an integer from 1 to 1000000 (alerts)');

/** Separate budgets, so manual alerts never take the room of rule or signal alerts (nor the other way). */
const alertLimitsSchema = z.strictObject({
  /** Alerts raised by send_alert. */
  manual: alertBudget().default(10_000),
  /** Alerts raised by alert rules. */
  rule: alertBudget().default(10_000),
  /** The performance monitor's threshold, SLA and burn-rate alerts (and any other signal). */
  signal: alertBudget().default(1000),
});

const escalationPolicySchema = z.strictObject({
  info: escalationStepSchema.optional(),
  warning: escalationStepSchema.optional(),
  error: escalationStepSchema.optional(),
  critical: escalationStepSchema.optional(),
});

/** `configs/alerting.json`: alert channels, severities, escalation and suppression (source `erlmcp_alerting`). */
export const alertingSchema = z
  .strictObject({
    /** Evaluate rules and deliver alerts at all. */
    alert_enabled: bool().default(true),
    /** How often alert rules are evaluated. */
    check_interval: timerMs().default(10_000),
    /** Resolved alerts older than this are removed. */
    alert_timeout: durationMs().default(300_000),
    channels: z
      .strictObject({
        email: emailChannelSchema.prefault({}),
        slack: slackChannelSchema.prefault({}),
        sms: smsChannelSchema.prefault({}),
        webhook: webhookChannelSchema.prefault({}),
        alertmanager: alertmanagerChannelSchema.prefault({}),
      })
      .prefault({}),
    severity_levels: listOf(expecting(z.enum(SEVERITIES), 'a severity'), 'a non-empty list of severities')
      .min(1)
      .superRefine(distinct)
      .default(() => [...SEVERITIES]),
    /** Per severity: the channels of the first notification (only enabled channels are used). */
    routing: routingSchema.prefault({}),
    /** Per severity: channels to notify and the re-notify interval in SECONDS. */
    escalation_policy: escalationPolicySchema.default((): z.output<typeof escalationPolicySchema> => ({
      critical: { channels: ['email', 'sms', 'slack'], interval: 3600 },
      error: { channels: ['email', 'slack'], interval: 14_400 },
      warning: { channels: ['slack'], interval: 14_400 },
    })),
    /** Hold back a new firing notification of an alert (same fingerprint) within `suppression_window` of the last one. */
    suppression_enabled: bool().default(true),
    suppression_window: durationMs().default(600_000),
    /** Retry policy of failed notification deliveries (not in the source design, which never retried). */
    delivery: deliverySchema.prefault({}),
    /** Most alerts held per kind (firing, and resolved until `alert_timeout`); past it a new one of that kind is refused. */
    alert_limits: alertLimitsSchema.prefault({}),
  })
  .superRefine((alerting, ctx) => {
    for (const severity of SEVERITIES) {
      if (alerting.escalation_policy[severity] !== undefined && !alerting.severity_levels.includes(severity)) {
        ctx.addIssue({
          code: 'custom',
          path: ['escalation_policy', severity],
          message: `severity "${severity}" is not in severity_levels (allowed: ${alerting.severity_levels.map((s) => `"${s}"`).join(', ')})`,
        });
      }
    }
  });

// ---------------------------------------------------------------- dashboard.json

/** Metric names as the table accepts them (the table checks them again when it reads). */
const metricName = () => expecting(z.string().regex(METRIC_NAME), 'a metric name such as "perf.latency"');
/** Names used in URLs and messages: dashboard names, chart ids. */
export const SLUG = /^[A-Za-z0-9_-]{1,64}$/;
const slug = () => expecting(z.string().regex(SLUG), '1-64 of A-Z a-z 0-9 _ -');

const chartSeriesSchema = z.strictObject({
  label: nonEmptyString('a legend label'),
  metric: metricName(),
  /** Exact label values; omitted = the series with no labels, or every series of the metric combined. */
  labels: expecting(z.record(z.string(), z.string()), 'an object of label name to string value').optional(),
  /** Label value prefixes: every series whose label starts with it, combined (e.g. {"code": "5"} for 5xx). */
  label_prefix: expecting(z.record(z.string(), z.string()), 'an object of label name to a value prefix').optional(),
  stat: expecting(z.enum(SERIES_STATS), 'a series statistic').default('value'),
});

const chartSchema = z.strictObject({
  id: slug(),
  title: nonEmptyString('a chart title'),
  /** Omitted: the file's `chart_type` (`auto` = line). */
  type: expecting(z.enum(['line', 'bar', 'pie', 'gauge']), 'a chart type').optional(),
  unit: expecting(z.string(), 'a unit string such as "ms"').default(''),
  series: listOf(chartSeriesSchema, 'a list of chart series').min(1),
  /** Gauges: the value of a full dial. */
  max: expecting(z.number().positive(), 'a positive number').optional(),
});

const dashboardDefSchema = z.strictObject({
  name: slug(),
  title: nonEmptyString('a dashboard title'),
  charts: listOf(chartSchema, 'a list of charts').superRefine((charts, ctx) =>
    distinct(
      charts.map((c) => c.id),
      ctx,
    ),
  ),
});

/** `configs/dashboard.json`: the dashboard and its HTTP/WebSocket server (source `erlmcp_dashboard`). */
export const dashboardSchema = z
  .strictObject({
    dashboard_enabled: bool().default(true),
    /** How often a live frame goes to subscribed clients. */
    refresh_interval: timerMs().default(5000),
    chart_type: expecting(z.enum(['auto', 'line', 'bar', 'pie', 'gauge']), 'a chart type').default('auto'),
    /** Most points per series in one chart or history answer. */
    data_points: expecting(
      z.number().int().positive().max(10_000),
      'a positive integer (points per chart) of at most 10000',
    ).default(100),
    /** Default history range shown. */
    historical_range: durationMs().default(86_400_000),
    export_format: expecting(z.enum(['json', 'csv']), 'an export format').default('json'),
    theme: expecting(z.enum(['dark', 'light']), 'a theme').default('dark'),
    layout: expecting(z.enum(['responsive', 'grid']), 'a layout').default('responsive'),
    real_time_enabled: bool().default(true),
    alert_highlighting: bool().default(true),
    /** Interface to bind; loopback by default so the dashboard is not exposed. */
    host: hostName().default('127.0.0.1'),
    /** TCP port; 0 picks a free port. */
    port: expecting(z.number().int().min(0).max(65535), 'an integer port from 0 to 65535 (0 = any free port)').default(
      8080,
    ),
    /** Bearer token required by HTTP and WebSocket clients; empty = no token. Secret: prefer ERLMCP_DASHBOARD_TOKEN. */
    auth_token: expecting(z.string(), 'a string (empty = no token)').default(''),
    /** Origins allowed to open the WebSocket besides the dashboard's own; empty = same origin only. */
    /** Most live-feed (WebSocket) clients at once; past it an upgrade is refused with 503, so the client table is bounded. */
    max_clients: expecting(
      z.number().int().min(1).max(100_000),
      'an integer from 1 to 100000 (WebSocket clients)',
    ).default(1000),
    allowed_origins: listOf(
      expecting(
        z.string().regex(/^https?:\/\/[^/\s?#]+$/),
        'an origin such as "http://localhost:3000" (scheme://host[:port], no path)',
      ),
      'a list of origins',
    ).default(() => []),
    /**
     * Dashboards besides the built-in "main" (Response Time, Throughput, Error Rate, Resource Usage);
     * one named "main" replaces the built-in one.
     */
    dashboards: listOf(dashboardDefSchema, 'a list of dashboards')
      .superRefine((defs, ctx) =>
        distinct(
          defs.map((d) => d.name),
          ctx,
        ),
      )
      .default(() => []),
  })
  .superRefine((dashboard, ctx) => {
    // Checked here, not only when the server binds, so nothing starts with an exposed, open dashboard.
    if (dashboard.dashboard_enabled && dashboard.auth_token === '' && !isLoopbackHost(dashboard.host)) {
      const expected = `a token while host ${JSON.stringify(dashboard.host)} is not a loopback address (anyone who can reach it could read the dashboard)`;
      ctx.addIssue({
        code: 'custom',
        path: ['auth_token'],
        message: `expected ${expected}`,
        params: { expected, hint: 'set ERLMCP_DASHBOARD_TOKEN, or bind 127.0.0.1' },
      });
    }
  });

// ---------------------------------------------------------------- the whole config

/** Each config section with its file name and schema. */
export const CONFIG_SECTIONS = {
  monitoring: { file: 'monitoring.json', schema: monitoringSchema },
  performance_monitor: { file: 'performance_monitor.json', schema: performanceMonitorSchema },
  alerting: { file: 'alerting.json', schema: alertingSchema },
  dashboard: { file: 'dashboard.json', schema: dashboardSchema },
} as const;

/** A config section name (= file name without `.json`). */
export type ConfigSection = keyof typeof CONFIG_SECTIONS;

/** Deeply read-only: configs are frozen once loaded. */
export type DeepReadonly<T> = T extends (infer U)[]
  ? readonly DeepReadonly<U>[]
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T;

/** Any subset of `T`, at any depth; arrays are replaced, not merged. */
export type DeepPartial<T> = T extends readonly unknown[]
  ? T
  : T extends object
    ? { [K in keyof T]?: DeepPartial<T[K]> }
    : T;

/** `configs/monitoring.json`, validated and defaulted. */
export type MonitoringConfig = DeepReadonly<z.output<typeof monitoringSchema>>;
/** `configs/performance_monitor.json`, validated and defaulted. */
export type PerformanceMonitorConfig = DeepReadonly<z.output<typeof performanceMonitorSchema>>;
/** One SLA of `performance_monitor.slas`. */
export type SlaConfig = PerformanceMonitorConfig['slas'][number];
/** `configs/alerting.json`, validated and defaulted. */
export type AlertingConfig = DeepReadonly<z.output<typeof alertingSchema>>;
/** `configs/dashboard.json`, validated and defaulted. */
export type DashboardConfig = DeepReadonly<z.output<typeof dashboardSchema>>;
/** An alert severity. */
export type Severity = (typeof SEVERITIES)[number];
/** An alert channel name. */
export type ChannelName = (typeof CHANNEL_NAMES)[number];

/** The whole configuration, as `loadConfig` returns it (deeply frozen). */
export interface Config {
  readonly monitoring: MonitoringConfig;
  readonly performance_monitor: PerformanceMonitorConfig;
  readonly alerting: AlertingConfig;
  readonly dashboard: DashboardConfig;
}
