import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, ENV_OVERRIDES, type LoadConfigOptions, loadConfig } from '../../src/config/index.js';
import { ErrorCode, MonitorError } from '../../src/errors.js';

const SHIPPED = fileURLToPath(new URL('../../configs', import.meta.url));

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A fresh config directory holding `files` (name → text, or an object written as JSON). */
function configDir(files: Record<string, string | object> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'erlmcp-config-'));
  dirs.push(dir);
  for (const [name, content] of Object.entries(files)) {
    writeFileSync(join(dir, name), typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  }
  return dir;
}

/** Runs `load`, asserting it throws a ConfigError with code EMON_INVALID_CONFIG, and returns it. */
function configError(load: () => unknown): ConfigError {
  try {
    load();
  } catch (err) {
    expect(err).toBeInstanceOf(MonitorError);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as MonitorError).code).toBe(ErrorCode.InvalidConfig);
    return err as ConfigError;
  }
  throw new Error('expected loadConfig to throw');
}

describe('loadConfig', () => {
  describe('shipped configs/', () => {
    const config = loadConfig({ configDir: SHIPPED, env: {} });

    it('loads monitoring.json with the source defaults', () => {
      const m = config.monitoring;
      expect(m.metrics_enabled).toBe(true);
      expect(m.collection_interval).toBe(5000);
      expect(m.storage_backend).toBe('lmdb');
      expect(m.retention_period).toBe(86_400_000);
      expect(m.aggregation_interval).toBe(10_000);
      expect(m.histogram_buckets).toEqual([10, 50, 100, 500, 1000, 5000, 10000]);
      expect(m.export_enabled).toBe(false);
      expect(m.export_interval).toBe(30_000);
      expect(m.export_endpoint).toBe('http://127.0.0.1:9090/api/v1/write');
      expect(m.series_limit).toBe(100_000);
      expect(m.data_dir).toBe('./.erlmcp-monitor');
      expect(m.cluster_aggregation).toBe('by_worker');
      expect(m.on_corrupt).toBe('fail');
    });

    it('loads performance_monitor.json with the source defaults and SLAs', () => {
      const p = config.performance_monitor;
      expect(p.monitor_enabled).toBe(true);
      expect(p.check_interval).toBe(5000);
      expect(p.latency_threshold).toBe(100);
      expect(p.throughput_threshold).toBe(10_000);
      expect(p.error_rate_threshold).toBe(0.01);
      expect(p.cpu_threshold).toBe(80);
      expect(p.memory_threshold).toBe(90);
      expect(p.event_loop_threshold).toBe(100);
      expect(p.scoring_enabled).toBe(true);
      expect(p.recommendations_enabled).toBe(true);
      expect(p.history_size).toBe(1000);
      expect(p.window).toBe(60_000);
      expect(p.slas).toEqual([
        {
          name: 'uptime',
          kind: 'availability',
          target: 99.999,
          unit: 'percentage',
          direction: 'higher_is_better',
          window: 3_600_000,
        },
        {
          name: 'response_time',
          kind: 'response_time',
          target: 100,
          unit: 'ms',
          direction: 'lower_is_better',
          window: 3_600_000,
        },
        {
          name: 'throughput',
          kind: 'throughput',
          target: 10_000,
          unit: 'req/sec',
          direction: 'higher_is_better',
          window: 3_600_000,
        },
      ]);
    });

    it("loads alerting.json with the source defaults, escalation intervals in seconds (1 h / 4 h, not the source's 60/300/600 s)", () => {
      const a = config.alerting;
      expect(a.alert_enabled).toBe(true);
      expect(a.check_interval).toBe(10_000);
      expect(a.alert_timeout).toBe(300_000);
      expect(a.severity_levels).toEqual(['info', 'warning', 'error', 'critical']);
      expect(a.escalation_policy.critical).toEqual({ channels: ['email', 'sms', 'slack'], interval: 3600 });
      expect(a.escalation_policy.error).toEqual({ channels: ['email', 'slack'], interval: 14_400 });
      expect(a.escalation_policy.warning).toEqual({ channels: ['slack'], interval: 14_400 });
      expect(a.escalation_policy.info).toBeUndefined();
      expect(a.routing).toEqual({
        info: [],
        warning: ['slack'],
        error: ['email', 'slack'],
        critical: ['email', 'sms', 'slack'],
      });
      expect(a.suppression_enabled).toBe(true);
      expect(a.suppression_window).toBe(600_000);
      expect(a.channels.email).toEqual({
        enabled: false,
        from: 'alerts@erlmcp.com',
        to: ['ops@example.com'],
        host: '127.0.0.1',
        port: 587,
        secure: false,
        require_tls: false,
        timeout: 10_000,
      });
      expect(a.channels.slack).toEqual({
        enabled: false,
        webhook: 'https://hooks.slack.com/services/...',
        timeout: 10_000,
      });
      expect(a.channels.sms).toEqual({
        enabled: false,
        provider: 'twilio',
        number: '+1234567890',
        to: [],
        base_url: 'https://api.twilio.com',
        timeout: 10_000,
      });
      expect(a.channels.webhook).toEqual({ enabled: false, url: '', timeout: 10_000 });
      expect(a.channels.alertmanager).toEqual({ enabled: false, urls: [], resend_interval: 60_000, instance: '' });
    });

    it('loads dashboard.json with the source defaults', () => {
      const d = config.dashboard;
      expect(d.dashboard_enabled).toBe(true);
      expect(d.refresh_interval).toBe(5000);
      expect(d.chart_type).toBe('auto');
      expect(d.data_points).toBe(100);
      expect(d.historical_range).toBe(86_400_000);
      expect(d.export_format).toBe('json');
      expect(d.theme).toBe('dark');
      expect(d.layout).toBe('responsive');
      expect(d.real_time_enabled).toBe(true);
      expect(d.alert_highlighting).toBe(true);
      expect(d.host).toBe('127.0.0.1');
      expect(d.port).toBe(8080);
      expect(d.auth_token).toBe('');
      expect(d.allowed_origins).toEqual([]);
      expect(d.dashboards).toEqual([]);
    });

    it("equals the schema defaults except the source design's service targets, which the defaults leave unset", () => {
      const defaults = loadConfig({ env: {} });
      expect(defaults.performance_monitor.throughput_threshold).toBeUndefined();
      expect(defaults.performance_monitor.slas).toEqual([]);
      const { throughput_threshold: _shippedThroughput, slas: _shippedSlas, ...shipped } = config.performance_monitor;
      const {
        throughput_threshold: _defaultThroughput,
        slas: _defaultSlas,
        ...fallback
      } = defaults.performance_monitor;
      expect(shipped).toEqual(fallback);
      expect({ ...config, performance_monitor: null }).toEqual({ ...defaults, performance_monitor: null });
    });

    it('returns a deeply frozen config', () => {
      expect(Object.isFrozen(config)).toBe(true);
      expect(Object.isFrozen(config.alerting.channels.email.to)).toBe(true);
      expect(() => {
        (config.monitoring as { collection_interval: number }).collection_interval = 1;
      }).toThrow(TypeError);
    });
  });

  describe('missing directory or files', () => {
    it('gives all defaults for an empty directory', () => {
      expect(loadConfig({ configDir: configDir(), env: {} })).toEqual(loadConfig({ env: {} }));
    });

    it('refuses a configDir that does not exist instead of running on the defaults', () => {
      const missing = join(configDir(), 'confgs');
      const err = configError(() => loadConfig({ configDir: missing, env: {} }));
      expect(err.code).toBe(ErrorCode.InvalidConfig);
      expect(err.message).toBe(
        `${missing}: configDir does not exist (resolved to ${missing}); create it, or omit configDir to run on the defaults`,
      );
      const relative = configError(() => loadConfig({ configDir: 'no-such-configs', env: {} }));
      expect(relative.message).toContain(`(resolved to ${join(process.cwd(), 'no-such-configs')})`);
    });

    it('gives defaults for missing files and missing keys, and reads present ones', () => {
      const dir = configDir({ 'dashboard.json': { theme: 'light', port: 0 } });
      const config = loadConfig({ configDir: dir, env: {} });
      expect(config.dashboard.theme).toBe('light');
      expect(config.dashboard.port).toBe(0);
      expect(config.dashboard.refresh_interval).toBe(5000);
      expect(config.monitoring.collection_interval).toBe(5000);
    });

    it('keeps nested defaults when a file sets part of an object', () => {
      const dir = configDir({ 'alerting.json': { channels: { email: { to: ['oncall@example.com'] } } } });
      const { channels } = loadConfig({ configDir: dir, env: {} }).alerting;
      expect(channels.email.to).toEqual(['oncall@example.com']);
      expect(channels.email.from).toBe('alerts@erlmcp.com');
      expect(channels.slack.enabled).toBe(false);
    });

    it('overrides one severity of routing and keeps the source table for the others', () => {
      const dir = configDir({ 'alerting.json': { routing: { info: ['webhook'] } } });
      const { routing } = loadConfig({ configDir: dir, env: {} }).alerting;
      expect(routing).toEqual({
        info: ['webhook'],
        warning: ['slack'],
        error: ['email', 'slack'],
        critical: ['email', 'sms', 'slack'],
      });
    });

    it('rejects an unknown channel in routing, naming the key', () => {
      const dir = configDir({ 'alerting.json': { routing: { warning: ['pager'] } } });
      expect(() => loadConfig({ configDir: dir, env: {} })).toThrow(
        'alerting.json: routing.warning[0]: invalid value "pager" (allowed: "email", "slack", "sms", "webhook", "alertmanager")',
      );
    });

    it('treats a severity left out of escalation_policy as not escalated', () => {
      const dir = configDir({
        'alerting.json': { escalation_policy: { critical: { channels: ['webhook'], interval: 30 } } },
      });
      const { escalation_policy } = loadConfig({ configDir: dir, env: {} }).alerting;
      expect(escalation_policy).toEqual({ critical: { channels: ['webhook'], interval: 30 } });
    });
  });

  describe('invalid files', () => {
    it('names file and key for an unknown key, with a suggestion', () => {
      const dir = configDir({ 'monitoring.json': { colection_interval: 5000 } });
      const err = configError(() => loadConfig({ configDir: dir, env: {} }));
      expect(err.message).toBe(
        `${join(dir, 'monitoring.json')}: unknown key "colection_interval" (did you mean "collection_interval"?)`,
      );
      expect(err.problems).toEqual([
        {
          origin: 'file',
          source: join(dir, 'monitoring.json'),
          key: '',
          message: 'unknown key "colection_interval" (did you mean "collection_interval"?)',
        },
      ]);
    });

    it('lists the allowed keys when nothing is close, also in nested objects', () => {
      const dir = configDir({ 'alerting.json': { channels: { pager: {}, email: { hots: 'smtp.example.com' } } } });
      const err = configError(() => loadConfig({ configDir: dir, env: {} }));
      const file = join(dir, 'alerting.json');
      expect(err.message).toContain(
        `${file}: channels: unknown key "pager" (allowed: "email", "slack", "sms", "webhook", "alertmanager")`,
      );
      expect(err.message).toContain(`${file}: channels.email: unknown key "hots" (did you mean "host"?)`);
    });

    it('names file, key and expected type for a wrong type', () => {
      const dir = configDir({ 'dashboard.json': { real_time_enabled: 'yes', data_points: '100' } });
      const err = configError(() => loadConfig({ configDir: dir, env: {} }));
      const file = join(dir, 'dashboard.json');
      expect(err.message).toContain(`${file}: real_time_enabled: expected true or false, got "yes"`);
      expect(err.message).toContain(
        `${file}: data_points: expected a positive integer (points per chart) of at most 10000, got "100"`,
      );
    });

    it('names file, key and range for an out-of-range value', () => {
      const dir = configDir({
        'alerting.json': { check_interval: -5, escalation_policy: { critical: { channels: ['email'], interval: 0 } } },
        'performance_monitor.json': { error_rate_threshold: 2, cpu_threshold: 150, check_interval: 3_000_000_000 },
        'dashboard.json': { port: 70000 },
      });
      const err = configError(() => loadConfig({ configDir: dir, env: {} }));
      expect(err.message).toContain(
        `${join(dir, 'alerting.json')}: check_interval: expected a positive integer (ms), got -5`,
      );
      expect(err.message).toContain(
        `${join(dir, 'alerting.json')}: escalation_policy.critical.interval: expected a positive integer (seconds), got 0`,
      );
      const perf = join(dir, 'performance_monitor.json');
      expect(err.message).toContain(
        `${perf}: error_rate_threshold: expected a fraction from 0 to 1 (0.01 = 1 %), got 2`,
      );
      expect(err.message).toContain(`${perf}: cpu_threshold: expected a number above 0 and at most 100 (%), got 150`);
      expect(err.message).toContain(
        `${perf}: check_interval: expected a positive integer (ms) of at most 2147483647, got 3000000000`,
      );
      expect(err.message).toContain(
        `${join(dir, 'dashboard.json')}: port: expected an integer port from 0 to 65535 (0 = any free port), got 70000`,
      );
    });

    it('lists the allowed values for a bad enum value', () => {
      const dir = configDir({ 'dashboard.json': { theme: 'blue' }, 'monitoring.json': { storage_backend: 'ets' } });
      const err = configError(() => loadConfig({ configDir: dir, env: {} }));
      expect(err.message).toContain(
        `${join(dir, 'dashboard.json')}: theme: invalid value "blue" (allowed: "dark", "light")`,
      );
      expect(err.message).toContain(
        `${join(dir, 'monitoring.json')}: storage_backend: invalid value "ets" (allowed: "lmdb"); metrics are kept in memory`,
      );
    });

    it('checks configured dashboards: chart ids unique, names URL-safe, series complete', () => {
      const chart = { id: 'c', title: 'C', series: [{ label: 'x', metric: 'perf.throughput' }] };
      const dir = configDir({
        'dashboard.json': {
          dashboards: [
            { name: 'ops', title: 'Ops', charts: [chart, chart] },
            { name: 'bad name', title: 'B', charts: [{ ...chart, series: [{ label: 'y' }] }] },
          ],
        },
      });
      const err = configError(() => loadConfig({ configDir: dir, env: {} }));
      const file = join(dir, 'dashboard.json');
      expect(err.message).toContain(`${file}: dashboards[0].charts[1]: duplicate entry "c"`);
      expect(err.message).toContain(`${file}: dashboards[1].name: expected 1-64 of A-Z a-z 0-9 _ -, got "bad name"`);
      expect(err.message).toContain(
        `${file}: dashboards[1].charts[0].series[0].metric: missing; expected a metric name such as "perf.latency"`,
      );
    });

    it('accepts "by_worker" and "sum" for cluster_aggregation and lists them for another value', () => {
      expect(
        loadConfig({ configDir: configDir({ 'monitoring.json': { cluster_aggregation: 'sum' } }), env: {} }).monitoring
          .cluster_aggregation,
      ).toBe('sum');
      const dir = configDir({ 'monitoring.json': { cluster_aggregation: 'avg' } });
      const err = configError(() => loadConfig({ configDir: dir, env: {} }));
      expect(err.message).toContain(
        `${join(dir, 'monitoring.json')}: cluster_aggregation: invalid value "avg" (allowed: "by_worker", "sum")`,
      );
    });

    it('accepts "fail" and "move_aside" for on_corrupt and lists them for another value', () => {
      expect(
        loadConfig({ configDir: configDir({ 'monitoring.json': { on_corrupt: 'move_aside' } }), env: {} }).monitoring
          .on_corrupt,
      ).toBe('move_aside');
      const dir = configDir({ 'monitoring.json': { on_corrupt: 'repair' } });
      const err = configError(() => loadConfig({ configDir: dir, env: {} }));
      expect(err.message).toContain(
        `${join(dir, 'monitoring.json')}: on_corrupt: invalid value "repair" (allowed: "fail", "move_aside")`,
      );
    });

    it('accepts a Prometheus name prefix for namespace (default "") and says what is allowed otherwise', () => {
      expect(loadConfig({ configDir: configDir({}), env: {} }).monitoring.namespace).toBe('');
      expect(
        loadConfig({ configDir: configDir({ 'monitoring.json': { namespace: 'shop:eu' } }), env: {} }).monitoring
          .namespace,
      ).toBe('shop:eu');
      for (const bad of ['shop_', '9shop', 'shop-eu', 7]) {
        const dir = configDir({ 'monitoring.json': { namespace: bad } });
        const err = configError(() => loadConfig({ configDir: dir, env: {} }));
        expect(err.message).toContain(`${join(dir, 'monitoring.json')}: namespace:`);
        expect(err.message).toContain('expected a Prometheus name prefix such as "shop"');
      }
    });

    it('rejects histogram buckets that are not strictly increasing', () => {
      const dir = configDir({ 'monitoring.json': { histogram_buckets: [10, 50, 50, 100] } });
      const err = configError(() => loadConfig({ configDir: dir, env: {} }));
      expect(err.message).toBe(
        `${join(dir, 'monitoring.json')}: histogram_buckets: must be strictly increasing, but [2] = 50 does not exceed [1] = 50 (got [10, 50, 50, 100])`,
      );
    });

    it('rejects empty and non-numeric buckets', () => {
      const empty = configDir({ 'monitoring.json': { histogram_buckets: [] } });
      expect(configError(() => loadConfig({ configDir: empty, env: {} })).message).toContain(
        'histogram_buckets: expected a non-empty list of strictly increasing numbers, got an array of 0',
      );
      const text = configDir({ 'monitoring.json': { histogram_buckets: [10, 'x'] } });
      expect(configError(() => loadConfig({ configDir: text, env: {} })).message).toContain(
        'histogram_buckets[1]: expected a finite number, got "x"',
      );
    });

    it('reports invalid JSON with line and column, without echoing the file', () => {
      const dir = configDir({
        'dashboard.json': '{\n  "theme": "dark",\n  "port": 8080,\n}\n',
        'alerting.json': '{ "channels": { "email": { "pass": "S3CRET-in-file" "user": "bob" } } }',
      });
      const err = configError(() => loadConfig({ configDir: dir, env: {} }));
      expect(err.message).toContain(
        `${join(dir, 'dashboard.json')}: invalid JSON at line 4, column 1: expected a double-quoted property name, found "}"`,
      );
      expect(err.message).toContain(
        `${join(dir, 'alerting.json')}: invalid JSON at line 1, column 53: expected "," or "}", found "\\""`,
      );
      expect(err.message).not.toContain('S3CRET');
    });

    it('rejects a file whose top level is not an object, and an empty file', () => {
      const dir = configDir({ 'monitoring.json': '[1, 2]', 'dashboard.json': '' });
      const err = configError(() => loadConfig({ configDir: dir, env: {} }));
      expect(err.message).toContain(
        `${join(dir, 'monitoring.json')}: expected a JSON object at the top level, got an array of 2`,
      );
      expect(err.message).toContain(
        `${join(dir, 'dashboard.json')}: invalid JSON at line 1, column 1: expected a value, found end of input`,
      );
    });

    it('lists every problem of every file, one per line', () => {
      const dir = configDir({
        'monitoring.json': { collection_interval: 0, theme: 'dark' },
        'dashboard.json': { theme: 'blue', port: -1, layout: 'masonry' },
      });
      const err = configError(() => loadConfig({ configDir: dir, env: {} }));
      expect(err.problems).toHaveLength(5);
      expect(err.message.split('\n')).toHaveLength(5);
      expect(err.message.split('\n').every((line) => line.startsWith(dir))).toBe(true);
    });

    it('reports a file that cannot be read and a configDir that is a file', () => {
      const dir = configDir();
      mkdirSync(join(dir, 'dashboard.json'));
      expect(configError(() => loadConfig({ configDir: dir, env: {} })).message).toBe(
        `${join(dir, 'dashboard.json')}: cannot read the file (EISDIR)`,
      );
      const file = join(configDir({ 'x.json': '{}' }), 'x.json');
      expect(configError(() => loadConfig({ configDir: file, env: {} })).message).toBe(
        `${file}: configDir is not a directory`,
      );
    });

    it('reports __proto__ as an unknown key instead of merging it', () => {
      const dir = configDir({ 'dashboard.json': '{ "__proto__": { "theme": "light" } }' });
      expect(configError(() => loadConfig({ configDir: dir, env: {} })).message).toContain('unknown key "__proto__"');
    });
  });

  describe('cross-field rules', () => {
    it('rejects an escalation severity that is not in severity_levels', () => {
      const dir = configDir({
        'alerting.json': {
          severity_levels: ['warning', 'error', 'critical'],
          escalation_policy: { info: { channels: ['slack'], interval: 60 } },
        },
      });
      expect(configError(() => loadConfig({ configDir: dir, env: {} })).message).toBe(
        `${join(dir, 'alerting.json')}: escalation_policy.info: severity "info" is not in severity_levels (allowed: "warning", "error", "critical")`,
      );
    });

    it('rejects an SLA whose direction contradicts its kind, and duplicate SLA names', () => {
      const sla = { name: 'rt', kind: 'response_time', target: 100, unit: 'ms', direction: 'higher_is_better' };
      const dir = configDir({ 'performance_monitor.json': { slas: [sla, { ...sla, direction: 'lower_is_better' }] } });
      const err = configError(() => loadConfig({ configDir: dir, env: {} }));
      const file = join(dir, 'performance_monitor.json');
      expect(err.message).toContain(
        `${file}: slas[0].direction: a response_time SLA must be "lower_is_better", got "higher_is_better"`,
      );
      expect(err.message).not.toContain('slas[1].direction');
    });

    it('rejects an enabled channel without its delivery settings', () => {
      const dir = configDir({
        'alerting.json': { channels: { slack: { enabled: true }, sms: { enabled: true, to: ['+15551234567'] } } },
      });
      const err = configError(() => loadConfig({ configDir: dir, env: {} }));
      const file = join(dir, 'alerting.json');
      expect(err.message).toContain(
        `${file}: channels.slack.webhook: missing; expected a Slack incoming-webhook http(s) URL while channels.slack.enabled is true`,
      );
      expect(err.message).toContain(
        `${file}: channels.sms.auth_token: missing; expected a Twilio auth token while channels.sms.enabled is true; set ERLMCP_TWILIO_AUTH_TOKEN`,
      );
    });

    it('accepts the shipped placeholder webhook while Slack is disabled', () => {
      const dir = configDir({
        'alerting.json': { channels: { slack: { enabled: false, webhook: 'https://hooks.slack.com/services/...' } } },
      });
      expect(loadConfig({ configDir: dir, env: {} }).alerting.channels.slack.enabled).toBe(false);
    });

    it('rejects retention shorter than the aggregation interval', () => {
      const dir = configDir({ 'monitoring.json': { retention_period: 5000 } });
      expect(configError(() => loadConfig({ configDir: dir, env: {} })).message).toContain(
        'retention_period: must be at least aggregation_interval (10000 ms), got 5000',
      );
    });
  });

  describe('environment overrides', () => {
    it('reads every documented variable', () => {
      expect(ENV_OVERRIDES.map((v) => v.name)).toEqual([
        'ERLMCP_DASHBOARD_PORT',
        'ERLMCP_DASHBOARD_HOST',
        'ERLMCP_DASHBOARD_TOKEN',
        'ERLMCP_DATA_DIR',
        'ERLMCP_EXPORT_ENDPOINT',
        'ERLMCP_SMTP_HOST',
        'ERLMCP_SMTP_PORT',
        'ERLMCP_SMTP_USER',
        'ERLMCP_SMTP_PASS',
        'ERLMCP_SLACK_WEBHOOK',
        'ERLMCP_TWILIO_ACCOUNT_SID',
        'ERLMCP_TWILIO_AUTH_TOKEN',
        'ERLMCP_WEBHOOK_URL',
        'ERLMCP_ALERTMANAGER_URLS',
      ]);
    });

    it('applies over the files', () => {
      const dir = configDir({ 'dashboard.json': { port: 1234, host: '0.0.0.0' } });
      const config = loadConfig({
        configDir: dir,
        env: {
          ERLMCP_DASHBOARD_PORT: '9091',
          ERLMCP_DASHBOARD_TOKEN: 'tok-123456',
          ERLMCP_DATA_DIR: '/var/lib/erlmcp',
          ERLMCP_EXPORT_ENDPOINT: 'http://prom.internal:9090/api/v1/write',
          ERLMCP_SMTP_HOST: 'smtp.example.com',
          ERLMCP_SMTP_PORT: '465',
          ERLMCP_SMTP_USER: 'alerts',
          ERLMCP_SMTP_PASS: 'pw-123456',
          ERLMCP_TWILIO_ACCOUNT_SID: 'AC123',
          ERLMCP_TWILIO_AUTH_TOKEN: 'twilio-123456',
        },
      });
      expect(config.dashboard.port).toBe(9091);
      expect(config.dashboard.host).toBe('0.0.0.0');
      expect(config.dashboard.auth_token).toBe('tok-123456');
      expect(config.monitoring.data_dir).toBe('/var/lib/erlmcp');
      expect(config.monitoring.export_endpoint).toBe('http://prom.internal:9090/api/v1/write');
      expect(config.monitoring.export_enabled).toBe(false);
      expect(config.alerting.channels.email).toMatchObject({
        host: 'smtp.example.com',
        port: 465,
        user: 'alerts',
        pass: 'pw-123456',
        enabled: false,
      });
      expect(config.alerting.channels.sms).toMatchObject({
        account_sid: 'AC123',
        auth_token: 'twilio-123456',
        enabled: false,
      });
    });

    it('takes Alertmanager external_labels and refuses a label name Alertmanager would refuse', () => {
      const ok = loadConfig({
        env: {},
        overrides: {
          alerting: { channels: { alertmanager: { external_labels: { cluster: 'eu-1' }, instance: 'api-1:9000' } } },
        },
      });
      expect(ok.alerting.channels.alertmanager).toMatchObject({
        external_labels: { cluster: 'eu-1' },
        instance: 'api-1:9000',
      });
      const err = configError(() =>
        loadConfig({
          env: {},
          overrides: { alerting: { channels: { alertmanager: { external_labels: { 'my-cluster': 'eu-1' } } } } },
        }),
      );
      expect(err.message).toContain('channels.alertmanager.external_labels');
    });

    it('turns on the channels a URL variable defines', () => {
      const config = loadConfig({
        env: {
          ERLMCP_SLACK_WEBHOOK: 'https://hooks.slack.com/services/T0/B0/XYZ',
          ERLMCP_WEBHOOK_URL: 'https://hooks.example.com/alerts',
          ERLMCP_ALERTMANAGER_URLS: 'http://am-1:9093, http://am-2:9093,',
        },
      });
      expect(config.alerting.channels.slack).toEqual({
        enabled: true,
        webhook: 'https://hooks.slack.com/services/T0/B0/XYZ',
        timeout: 10_000,
      });
      expect(config.alerting.channels.webhook).toEqual({
        enabled: true,
        url: 'https://hooks.example.com/alerts',
        timeout: 10_000,
      });
      expect(config.alerting.channels.alertmanager).toEqual({
        enabled: true,
        urls: ['http://am-1:9093', 'http://am-2:9093'],
        resend_interval: 60_000,
        instance: '',
      });
    });

    it('ignores unset and blank variables', () => {
      expect(loadConfig({ env: { ERLMCP_DASHBOARD_PORT: '  ', ERLMCP_SLACK_WEBHOOK: '' } })).toEqual(
        loadConfig({ env: {} }),
      );
    });

    it('names the variable when its value is invalid', () => {
      const err = configError(() => loadConfig({ env: { ERLMCP_DASHBOARD_PORT: '80a' } }));
      expect(err.message).toBe(
        'ERLMCP_DASHBOARD_PORT (dashboard.port): expected an integer port from 0 to 65535 (0 = any free port), got "80a"',
      );
      expect(err.problems[0]).toMatchObject({ origin: 'env', source: 'ERLMCP_DASHBOARD_PORT', key: 'dashboard.port' });
      expect(configError(() => loadConfig({ env: { ERLMCP_DASHBOARD_PORT: '70000' } })).message).toContain('got 70000');
      expect(
        configError(() => loadConfig({ env: { ERLMCP_ALERTMANAGER_URLS: 'http://am:9093,nope' } })).message,
      ).toContain(
        'ERLMCP_ALERTMANAGER_URLS (alerting.channels.alertmanager.urls[1]): expected an absolute http(s) URL',
      );
    });

    it('names the file for file errors and the variable for env errors in one message', () => {
      const dir = configDir({ 'dashboard.json': { theme: 'blue' } });
      const err = configError(() => loadConfig({ configDir: dir, env: { ERLMCP_SMTP_PORT: 'smtp' } }));
      expect(err.message.split('\n')).toEqual([
        'ERLMCP_SMTP_PORT (alerting.channels.email.port): expected an integer port from 1 to 65535, got "smtp"',
        `${join(dir, 'dashboard.json')}: theme: invalid value "blue" (allowed: "dark", "light")`,
      ]);
    });

    it('refuses a dashboard bound beyond loopback without a token, naming the file, the key and the fix', () => {
      const dir = configDir({ 'dashboard.json': { host: '0.0.0.0' } });
      const err = configError(() => loadConfig({ configDir: dir, env: {} }));
      expect(err.message).toContain(
        `${join(dir, 'dashboard.json')}: auth_token: missing; expected a token while host "0.0.0.0" is not a loopback address`,
      );
      expect(err.message).toMatch(/; set ERLMCP_DASHBOARD_TOKEN, or bind 127\.0\.0\.1$/);
      expect(loadConfig({ configDir: dir, env: { ERLMCP_DASHBOARD_TOKEN: 'tok-123456' } }).dashboard.host).toBe(
        '0.0.0.0',
      );
      expect(
        loadConfig({ configDir: dir, env: {}, overrides: { dashboard: { dashboard_enabled: false } } }).dashboard.host,
      ).toBe('0.0.0.0');
      expect(loadConfig({ env: { ERLMCP_DASHBOARD_HOST: 'localhost' } }).dashboard.host).toBe('localhost');
    });

    it('never puts a secret into an error message', () => {
      const env = {
        ERLMCP_SLACK_WEBHOOK: 'not-a-url-S3CRET-slack',
        ERLMCP_DASHBOARD_TOKEN: 'S3CRET-token',
        ERLMCP_SMTP_PASS: 'S3CRET-pass',
        ERLMCP_SMTP_PORT: 'S3CRET-pass',
        ERLMCP_DASHBOARD_HOST: 'bad host S3CRET-token',
      };
      const dir = configDir({
        'alerting.json': {
          channels: { email: { enabled: true, pass: 'S3CRET-pass' }, sms: { enabled: true, auth_token: 42 } },
        },
      });
      const err = configError(() => loadConfig({ configDir: dir, env }));
      expect(err.message).toContain(
        'ERLMCP_SLACK_WEBHOOK (alerting.channels.slack.webhook): expected a Slack incoming-webhook http(s) URL while channels.slack.enabled is true, got [redacted]',
      );
      expect(err.message).toContain('channels.sms.auth_token: expected a non-empty Twilio auth token, got [redacted]');
      expect(err.message).not.toContain('S3CRET');
      expect(JSON.stringify(err.problems)).not.toContain('S3CRET');
    });
  });

  describe('programmatic overrides', () => {
    it('apply last, over files and environment', () => {
      const dir = configDir({ 'dashboard.json': { port: 1234 } });
      const config = loadConfig({
        configDir: dir,
        env: { ERLMCP_DASHBOARD_PORT: '5678' },
        overrides: { dashboard: { port: 0 }, alerting: { channels: { email: { port: 2525 } } } },
      });
      expect(config.dashboard.port).toBe(0);
      expect(config.alerting.channels.email.port).toBe(2525);
      expect(config.alerting.channels.email.host).toBe('127.0.0.1');
    });

    it("replace arrays and do not alias the caller's data", () => {
      const buckets = [1, 2, 3];
      const config = loadConfig({ env: {}, overrides: { monitoring: { histogram_buckets: buckets } } });
      expect(config.monitoring.histogram_buckets).toEqual([1, 2, 3]);
      expect(config.monitoring.histogram_buckets).not.toBe(buckets);
      expect(Object.isFrozen(buckets)).toBe(false);
    });

    it('are validated, and problems name "overrides" and the full key', () => {
      const overrides = { dashboard: { theme: 'blue' }, monitorng: {} } as unknown as LoadConfigOptions['overrides'];
      const err = configError(() => loadConfig({ env: {}, overrides }));
      expect(err.message.split('\n')).toEqual([
        'overrides: unknown key "monitorng" (did you mean "monitoring"?)',
        'overrides: dashboard.theme: invalid value "blue" (allowed: "dark", "light")',
      ]);
    });
  });

  it('rejects malformed options with EMON_INVALID_OPTION', () => {
    expect(() => loadConfig({ configDir: 5 as unknown as string })).toThrow(
      expect.objectContaining({ code: ErrorCode.InvalidOption }),
    );
    expect(() => loadConfig({ overrides: [] as unknown as object })).toThrow(/overrides must be a plain object/);
  });
});
