import { createHash, timingSafeEqual } from 'node:crypto';
import os from 'node:os';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ErrorCode, MonitorError } from '../../src/errors.js';
import { loadConfig, redactConfig } from '../../src/config/index.js';
import { startMonitoring } from '../../src/index.js';
import { WebSocket } from 'ws';
import { Access } from '../../src/server/access.js';
import { API_ROUTES, type RoutePath } from '../../src/server/api-routes.js';
import { StaticFiles } from '../../src/server/static-files.js';
import { activeResources, leakedAfterSettling, memoryLogger, mulberry32, until } from '../helpers.js';
import { dump, echoService, get, leakySmtp, upgrade } from './access-fixture.js';
import { runCleanups, startTree, tempDir } from './tree-fixture.js';

// The real timingSafeEqual, watched: the constant-time test checks what it is called with.
vi.mock('node:crypto', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:crypto')>();
  const spy = vi.fn(real.timingSafeEqual);
  return { ...real, default: { ...real, timingSafeEqual: spy }, timingSafeEqual: spy };
});

afterEach(runCleanups);

/** Mixed case, digits and punctuation, so case and prefix variants differ from it. */
const TOKEN = 'dash-Tok3n-9f8e7d6c5b4a39281706f5e4d3c2b1a0';

/** A query that makes each route answer 200 with the token (typed by the table: a new route needs one). */
const SAMPLE_QUERY: Record<RoutePath, string> = {
  '/health': '',
  '/metrics': '',
  '/api/dashboards': '',
  '/api/dashboards/:name': '',
  '/api/realtime': 'dashboard=main',
  '/api/history': 'dashboard=main',
  '/api/export': 'dashboard=main&format=csv',
  '/api/series': '',
  '/api/alerts': '',
  '/api/slas': '',
  '/api/dead-letters': '',
  '/api/report': '',
};

/** The URL path and query of a route, with `:name` = main. */
function sampleUrl(path: RoutePath, extra = ''): string {
  const query = [SAMPLE_QUERY[path], extra].filter((q) => q !== '').join('&');
  return `${path.replace(':name', 'main')}${query === '' ? '' : `?${query}`}`;
}

const swapCase = (s: string) => [...s].map((c) => (c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase())).join('');
const b64 = (s: string) => Buffer.from(s).toString('base64');

interface Variant {
  name: string;
  headers?: Record<string, string>;
  /** Extra query (already encoded). */
  query?: string;
}

/** Ways to present no token or a wrong one; every one must be refused (401). */
function wrongVariants(token: string): Variant[] {
  const random = mulberry32(42);
  const sameLength = [...token]
    .map(() => 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'[Math.floor(random() * 62)])
    .join('');
  const lastChanged = token.slice(0, -1) + (token.endsWith('0') ? '1' : '0');
  const firstChanged = (token.startsWith('x') ? 'y' : 'x') + token.slice(1);
  const bearer = (value: string) => ({ authorization: `Bearer ${value}` });
  const q = (value: string) => `token=${encodeURIComponent(value)}`;
  return [
    { name: 'no token' },
    { name: 'same length, random', headers: bearer(sameLength) },
    { name: 'same length, last character changed', headers: bearer(lastChanged) },
    { name: 'same length, first character changed', headers: bearer(firstChanged) },
    { name: 'prefix, one character short', headers: bearer(token.slice(0, -1)) },
    { name: 'prefix, half', headers: bearer(token.slice(0, token.length >> 1)) },
    { name: 'one character', headers: bearer(token[0]!) },
    { name: 'token plus a character', headers: bearer(`${token}x`) },
    { name: 'token twice', headers: bearer(token + token) },
    { name: 'upper case', headers: bearer(token.toUpperCase()) },
    { name: 'lower case', headers: bearer(token.toLowerCase()) },
    { name: 'swapped case', headers: bearer(swapCase(token)) },
    { name: 'two spaces after Bearer', headers: { authorization: `Bearer  ${token}` } },
    { name: 'tab after Bearer', headers: { authorization: `Bearer\t${token}` } },
    { name: 'space inside the token', headers: bearer(`${token.slice(0, 5)} ${token.slice(5)}`) },
    { name: 'token then another word', headers: bearer(`${token} x`) },
    { name: 'no space after Bearer', headers: { authorization: `Bearer${token}` } },
    { name: 'empty Bearer', headers: { authorization: 'Bearer' } },
    { name: 'Basic with the token', headers: { authorization: `Basic ${token}` } },
    { name: 'Basic base64(token)', headers: { authorization: `Basic ${b64(token)}` } },
    { name: 'Basic base64(:token)', headers: { authorization: `Basic ${b64(`:${token}`)}` } },
    { name: 'Basic base64(user:token)', headers: { authorization: `Basic ${b64(`admin:${token}`)}` } },
    { name: 'Token scheme', headers: { authorization: `Token ${token}` } },
    { name: 'bare token as Authorization', headers: { authorization: token } },
    { name: 'token in a cookie', headers: { cookie: `token=${token}` } },
    { name: 'token in X-Auth-Token', headers: { 'x-auth-token': token } },
    { name: 'query, same length', query: q(sameLength) },
    { name: 'query, prefix', query: q(token.slice(0, -1)) },
    { name: 'query, upper case', query: q(token.toUpperCase()) },
    { name: 'query, leading space', query: q(` ${token}`) },
    { name: 'query, trailing space', query: q(`${token} `) },
    { name: 'query, trailing newline', query: q(`${token}\n`) },
    { name: 'query, trailing NUL', query: q(`${token}\u0000`) },
    { name: 'query, empty', query: 'token=' },
    { name: 'query, other name (TOKEN)', query: `TOKEN=${encodeURIComponent(token)}` },
    { name: 'query, other name (access_token)', query: `access_token=${encodeURIComponent(token)}` },
    { name: 'query, wrong first of two', query: `${q(sameLength)}&${q(token)}` },
    { name: 'wrong Bearer, right query', headers: bearer(sameLength), query: q(token) },
  ];
}

/** Ways to present the right token; each must be let in. */
function rightVariants(token: string): Variant[] {
  return [
    { name: 'Bearer', headers: { authorization: `Bearer ${token}` } },
    { name: 'bearer (scheme names are case-insensitive)', headers: { authorization: `bearer ${token}` } },
    { name: 'query', query: `token=${encodeURIComponent(token)}` },
  ];
}

function withQuery(url: string, query: string | undefined): string {
  if (query === undefined) return url;
  return `${url}${url.includes('?') ? '&' : '?'}${query}`;
}

const timingSafeEqualSpy = vi.mocked(timingSafeEqual);

describe('access (fault suite)', () => {
  it('with a token, every API route and the feed refuse a missing or wrong token (401) and answer the right one; only the page, its assets and /health are public', async () => {
    const { mon, logger } = await startTree({ env: { ERLMCP_DASHBOARD_TOKEN: TOKEN } });
    const base = (await mon.dashboardAddress()).url;
    const auth = { authorization: `Bearer ${TOKEN}` };
    // The report exists after the first check: wait so /api/report answers 200 and not 503.
    await until(async () => expect((await get(`${base}/api/report`, auth)).status).toBe(200));

    const protectedRoutes = API_ROUTES.filter((r) => !r.public).map((r) => r.path);
    const publicRoutes = API_ROUTES.filter((r) => r.public).map((r) => r.path);
    const pagePaths = await new StaticFiles().paths();
    expect(protectedRoutes.length).toBeGreaterThanOrEqual(9);
    expect(pagePaths.length).toBeGreaterThan(5);

    const wrong = wrongVariants(TOKEN);
    const right = rightVariants(TOKEN);
    const calls = timingSafeEqualSpy.mock.calls.length;
    let requests = 0;
    const failures: string[] = [];
    for (const path of protectedRoutes) {
      for (const v of wrong) {
        const res = await get(withQuery(`${base}${sampleUrl(path)}`, v.query), v.headers);
        requests++;
        if (
          res.status !== 401 ||
          res.headers['www-authenticate'] !== 'Bearer' ||
          !res.body.includes('a valid token is required')
        )
          failures.push(`${path} [${v.name}] → ${res.status}`);
      }
      for (const v of right) {
        const res = await get(withQuery(`${base}${sampleUrl(path)}`, v.query), v.headers);
        requests++;
        if (res.status !== 200) failures.push(`${path} [right: ${v.name}] → ${res.status} ${res.body.slice(0, 200)}`);
      }
    }
    // A path under /api/ that is no route is refused before it is looked up (no route list to probe).
    for (const v of wrong) {
      const res = await get(withQuery(`${base}/api/no-such-route`, v.query), v.headers);
      requests++;
      if (res.status !== 401) failures.push(`/api/no-such-route [${v.name}] → ${res.status}`);
    }
    // The feed.
    const wsUrl = `${base}/ws`;
    for (const v of wrong) {
      const res = await upgrade(withQuery(wsUrl, v.query), v.headers ?? {});
      requests++;
      if (res.status !== 401) failures.push(`/ws [${v.name}] → ${res.status}`);
    }
    for (const v of right) {
      const res = await upgrade(withQuery(wsUrl, v.query), v.headers ?? {});
      requests++;
      if (res.status !== 101) failures.push(`/ws [right: ${v.name}] → ${res.status}`);
    }
    // Paths that dress a protected route up as a public one: never answered with data.
    const tricks = [
      '/assets/../api/alerts',
      '/assets/%2e%2e/api/alerts',
      '/assets/..%2fapi%2falerts',
      '//api/alerts',
      '/API/alerts',
      '/api/alerts/',
      '/api//alerts',
      '/health/../api/alerts',
      '/./api/alerts',
      '/index.html/../metrics',
      '/health/../metrics',
      '/assets/..;/metrics',
    ];
    for (const path of tricks) {
      const res = await get(`${base}${path}`);
      requests++;
      if (res.status !== 401 && res.status !== 404) failures.push(`trick ${path} → ${res.status}`);
    }
    // Public: answered without a token, and carrying nothing secret.
    for (const path of [...publicRoutes, ...pagePaths]) {
      const res = await get(`${base}${path}`);
      requests++;
      if (res.status !== 200) failures.push(`public ${path} → ${res.status}`);
      if (res.body.includes(TOKEN)) failures.push(`public ${path} carries the token`);
    }
    expect(failures).toEqual([]);
    // Every refused or accepted token check went through timingSafeEqual (one per request with a candidate).
    expect(timingSafeEqualSpy.mock.calls.length - calls).toBeGreaterThan(protectedRoutes.length * (wrong.length - 8));
    // Not one log line carries the token, though it travelled in query strings.
    expect(JSON.stringify(logger.records)).not.toContain(TOKEN);
    console.info(
      `access: ${protectedRoutes.length} protected routes + /ws + /api/<unknown>, ${wrong.length} wrong and ${right.length} right variants each, ${tricks.length} path tricks, ${publicRoutes.length + pagePaths.length} public paths; ${requests} requests`,
    );
  });

  it('compares tokens as SHA-256 digests with crypto.timingSafeEqual, whatever their length (fast-check, seed 42, 500 runs)', () => {
    const access = new Access({ host: '127.0.0.1', token: TOKEN, allowedOrigins: [] });
    const sha = (s: string) => createHash('sha256').update(s, 'utf8').digest();
    const expected = sha(TOKEN);
    const candidate = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.string({ unit: 'grapheme', maxLength: 60 }),
      fc.constantFrom(TOKEN, TOKEN.slice(0, -1), `${TOKEN}x`, TOKEN.toUpperCase(), ''),
    );
    fc.assert(
      fc.property(candidate, fc.boolean(), (given, viaHeader) => {
        timingSafeEqualSpy.mockClear();
        const ok = viaHeader
          ? access.hasToken({ authorization: `Bearer ${given}` }, new URLSearchParams())
          : access.hasToken({}, new URLSearchParams({ token: given }));
        expect(ok).toBe(given === TOKEN);
        // Exactly one comparison, of two 32-byte digests: the digest of what was given and of the token.
        expect(timingSafeEqualSpy).toHaveBeenCalledTimes(1);
        const [a, b] = timingSafeEqualSpy.mock.calls[0]! as [Buffer, Buffer];
        expect(a.length).toBe(32);
        expect(b.length).toBe(32);
        expect(Buffer.compare(a, sha(given))).toBe(0);
        expect(Buffer.compare(b, expected)).toBe(0);
      }),
      { seed: 42, numRuns: 500 },
    );
  });

  it('refuses to start on a non-loopback bind without a token, naming dashboard.host and dashboard.auth_token, and leaves nothing running', async () => {
    const lan = Object.values(os.networkInterfaces())
      .flat()
      .find((i) => i !== undefined && !i.internal && i.family === 'IPv4')?.address;
    const hosts = ['0.0.0.0', '::', '192.168.1.10', '10.0.0.5', '0', '127.1', ...(lan === undefined ? [] : [lan])];
    for (const host of hosts) {
      const before = activeResources();
      const dataDir = tempDir();
      const logger = memoryLogger();
      let thrown: unknown;
      try {
        const mon = await startMonitoring({
          env: {},
          logger,
          processMetrics: false,
          dataDir,
          config: { dashboard: { host, port: 0, auth_token: '' } },
        });
        await mon.stop();
      } catch (err) {
        thrown = err;
      }
      expect(thrown, host).toBeInstanceOf(MonitorError);
      const err = thrown as MonitorError;
      expect({ host, code: err.code }).toEqual({ host, code: ErrorCode.InvalidConfig });
      expect(err.message).toContain(
        `dashboard.auth_token: expected a token while host ${JSON.stringify(host)} is not a loopback address (anyone who can reach it could read the dashboard)`,
      );
      expect(err.message).toMatch(/; set ERLMCP_DASHBOARD_TOKEN, or bind 127\.0\.0\.1$/);
      expect(await leakedAfterSettling(before)).toEqual([]);
      // The store was closed: the same directory opens again.
      const again = await startMonitoring({
        env: {},
        logger,
        processMetrics: false,
        dataDir,
        config: { dashboard: { port: 0 } },
      });
      await again.stop();
    }
    // With a token, the same bind starts (on all interfaces).
    const { mon } = await startTree({ config: { dashboard: { host: '0.0.0.0', port: 0, auth_token: TOKEN } } });
    expect((await mon.dashboardAddress()).host).toBe('0.0.0.0');
  });

  it('refuses an Origin outside the allow-list and a foreign Host (DNS rebinding) with 403, on HTTP and on the feed', async () => {
    const { mon } = await startTree({
      config: { dashboard: { port: 0, auth_token: TOKEN, allowed_origins: ['http://dash.example:3000'] } },
    });
    const address = await mon.dashboardAddress();
    const base = address.url;
    const self = `127.0.0.1:${address.port}`;
    const auth = { authorization: `Bearer ${TOKEN}` };
    const badOrigins = [
      'http://evil.example',
      'null',
      `http://${self}.evil.example`,
      `http://127.0.0.1:${address.port + 1}`,
      'http://dash.example:3001',
      'http://dash.example:3000.evil.example',
      'http://dash.example',
      'https://dash.example:3000',
      'http://sub.dash.example:3000',
      'file://',
    ];
    const goodOrigins = ['http://dash.example:3000', 'http://DASH.example:3000', `http://${self}`];
    const badHosts = [
      'evil.example',
      `evil.example:${address.port}`,
      `127.0.0.1.evil.example:${address.port}`,
      'localhost.evil.example',
      '10.0.0.5',
    ];
    const goodHosts = [self, `localhost:${address.port}`, `[::1]:${address.port}`, 'dash.example:3000'];
    const failures: string[] = [];
    let tried = 0;
    const paths = ['/api/dashboards', '/metrics', '/', '/health'];
    for (const origin of badOrigins) {
      for (const path of paths) {
        const res = await get(`${base}${path}`, { ...auth, origin });
        tried++;
        if (res.status !== 403 || !res.body.includes('is not allowed'))
          failures.push(`${path} origin ${origin} → ${res.status}`);
      }
      const ws = await upgrade(`${base}/ws`, { ...auth, origin });
      tried++;
      if (ws.status !== 403) failures.push(`/ws origin ${origin} → ${ws.status}`);
    }
    for (const origin of goodOrigins) {
      const res = await get(`${base}/api/dashboards`, { ...auth, origin });
      const ws = await upgrade(`${base}/ws`, { ...auth, origin });
      tried += 2;
      if (res.status !== 200 || ws.status !== 101) failures.push(`good origin ${origin} → ${res.status}/${ws.status}`);
    }
    for (const host of badHosts) {
      for (const path of paths) {
        const res = await get(`${base}${path}`, { ...auth, host });
        tried++;
        if (res.status !== 403) failures.push(`${path} host ${host} → ${res.status}`);
      }
      const ws = await upgrade(`${base}/ws`, { ...auth, host });
      tried++;
      if (ws.status !== 403) failures.push(`/ws host ${host} → ${ws.status}`);
    }
    for (const host of goodHosts) {
      const res = await get(`${base}/api/dashboards`, { ...auth, host });
      const ws = await upgrade(`${base}/ws`, { ...auth, host });
      tried += 2;
      if (res.status !== 200 || ws.status !== 101) failures.push(`good host ${host} → ${res.status}/${ws.status}`);
    }
    expect(failures).toEqual([]);
    console.info(
      `origin/host: ${badOrigins.length} foreign origins and ${badHosts.length} foreign hosts refused, ${goodOrigins.length + goodHosts.length} allowed; ${tried} requests`,
    );
  });
  it('never lets a secret into logs, errors, dead letters, frames, API answers, exports, /metrics, /health or the redacted config', async () => {
    const secrets = {
      smtpPass: 'smtpPassQ7w8e9r0t1y2u3i4',
      slackToken: 'slackPathTokenA1b2C3d4E5f6G7h8',
      webhookToken: 'webhookPathTokenZ9y8X7w6V5u4',
      webhookKey: 'webhookQueryKeyM1n2B3v4C5x6',
      twilioToken: 'twilioAuthTokenP0o9I8u7Y6t5',
      amPass: 'alertmanagerPassK1j2H3g4F5d6',
      dashboardToken: TOKEN,
    };
    const smtp = await leakySmtp();
    const slack = await echoService(403);
    const twilio = await echoService(401);
    const webhook = await echoService(500);
    const alertmanager = await echoService(400);
    const { mon, logger } = await startTree({
      env: {
        ERLMCP_DASHBOARD_TOKEN: secrets.dashboardToken,
        ERLMCP_SMTP_PASS: secrets.smtpPass,
        ERLMCP_TWILIO_AUTH_TOKEN: secrets.twilioToken,
      },
      config: {
        alerting: {
          check_interval: 50,
          channels: {
            email: {
              enabled: true,
              host: '127.0.0.1',
              port: smtp.port,
              user: 'alerts',
              to: ['ops@example.com'],
              timeout: 2000,
            },
            slack: { enabled: true, webhook: `${slack.url}/services/T0000/B0000/${secrets.slackToken}`, timeout: 2000 },
            sms: {
              enabled: true,
              account_sid: 'AC0123456789',
              to: ['+15550001111'],
              base_url: twilio.url,
              timeout: 2000,
            },
            webhook: {
              enabled: true,
              url: `${webhook.url}/hooks/${secrets.webhookToken}?key=${secrets.webhookKey}`,
              timeout: 2000,
            },
            alertmanager: {
              enabled: true,
              urls: [alertmanager.url.replace('http://', `http://am:${secrets.amPass}@`)],
            },
          },
          routing: { info: [], warning: [], error: [], critical: ['email', 'sms', 'slack', 'webhook', 'alertmanager'] },
        },
      },
    });
    const base = (await mon.dashboardAddress()).url;
    const auth = { authorization: `Bearer ${secrets.dashboardToken}` };

    // A live-feed client collects every frame while the alert fires and its deliveries fail.
    const frames: string[] = [];
    const ws = new WebSocket(`${base.replace('http', 'ws')}/ws`, { headers: auth, perMessageDeflate: false });
    ws.on('message', (data: Buffer) => frames.push(data.toString('utf8')));
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    await mon.alerting.sendAlert('critical', 'disk full on db-1', { host: 'db-1' });
    // Every channel has been tried and refused: 4 permanent refusals dead-lettered, the webhook's 500 retried.
    await until(async () => expect((await mon.alerting.deadLetters()).length).toBeGreaterThanOrEqual(4), 15_000);
    await until(() => expect(webhook.requests.length).toBeGreaterThanOrEqual(1), 15_000);
    await until(() => expect(frames.some((f) => f.includes('disk full on db-1'))).toBe(true));
    // A few frames more (every 50 ms), so the scan covers frames sent while deliveries failed.
    const framesSoFar = frames.length;
    await until(() => expect(frames.length).toBeGreaterThan(framesSoFar + 3));
    expect(smtp.logins()).toBeGreaterThanOrEqual(1);
    expect(slack.requests.length + twilio.requests.length + alertmanager.requests.length).toBeGreaterThanOrEqual(3);
    // The servers did get the credentials (so each one was in play), and echoed them back.
    expect(slack.requests[0]!.url).toContain(secrets.slackToken);
    expect(webhook.requests[0]!.url).toContain(secrets.webhookKey);
    expect(twilio.requests[0]!.headers.authorization).toBe(`Basic ${b64(`AC0123456789:${secrets.twilioToken}`)}`);

    const scanned: Record<string, string> = {};
    scanned['dead letters'] = dump(await mon.alerting.deadLetters());
    scanned['active alerts'] = dump(await mon.alerting.getActiveAlerts());
    for (const route of API_ROUTES) {
      const url = `${base}${sampleUrl(route.path)}`;
      scanned[`GET ${route.path}`] = dump(await get(url, auth));
    }
    scanned['GET /api/export json'] = dump(await get(`${base}/api/export?dashboard=main&format=json`, auth));
    scanned['GET /metrics openmetrics'] = dump(
      await get(`${base}/metrics`, { ...auth, accept: 'application/openmetrics-text; version=1.0.0' }),
    );
    scanned['GET /api/history?metric='] = dump(await get(`${base}/api/history?metric=alerts.notifications`, auth));
    scanned['redacted config'] = dump(redactConfig(mon.config));
    // Config errors: each secret in a value that is wrong (not a URL, wrong type).
    const configErrors: unknown[] = [];
    for (const env of [
      { ERLMCP_SLACK_WEBHOOK: `hooks.slack.com/services/T0/B0/${secrets.slackToken}` },
      { ERLMCP_WEBHOOK_URL: `ftp://hooks.example/${secrets.webhookToken}?key=${secrets.webhookKey}` },
      { ERLMCP_ALERTMANAGER_URLS: `http//am:${secrets.amPass}@am.example:9093` },
      { ERLMCP_SMTP_PASS: secrets.smtpPass, ERLMCP_SMTP_PORT: secrets.smtpPass },
      { ERLMCP_DASHBOARD_TOKEN: secrets.dashboardToken, ERLMCP_DASHBOARD_PORT: secrets.dashboardToken },
      { ERLMCP_TWILIO_AUTH_TOKEN: secrets.twilioToken, ERLMCP_TWILIO_ACCOUNT_SID: '' },
    ]) {
      try {
        loadConfig({
          env,
          overrides: {
            alerting: {
              channels: {
                slack: { enabled: true },
                webhook: { enabled: true },
                alertmanager: { enabled: true },
                sms: { enabled: true, to: ['+15550001111'] },
                email: { user: 'alerts' },
              },
            },
          },
        });
        configErrors.push(`no error for ${Object.keys(env).join(',')}`);
      } catch (err) {
        configErrors.push(err);
      }
    }
    expect(configErrors.every((e) => e instanceof MonitorError)).toBe(true);
    scanned['config errors'] = dump(configErrors);
    ws.close();
    await mon.stop();
    scanned.frames = frames.join('\n');
    scanned.logs = dump(logger.records);

    const needles: [string, string][] = [];
    for (const [name, secret] of Object.entries(secrets))
      needles.push([name, secret], [`${name} (base64)`, b64(secret)]);
    needles.push(
      ['smtp user:pass (base64)', b64(`alerts:${secrets.smtpPass}`)],
      ['twilio sid:token (base64)', b64(`AC0123456789:${secrets.twilioToken}`)],
      ['alertmanager user:pass (base64)', b64(`am:${secrets.amPass}`)],
    );
    const leaks: string[] = [];
    for (const [where, text] of Object.entries(scanned)) {
      for (const [name, needle] of needles) if (text.includes(needle)) leaks.push(`${name} in ${where}`);
    }
    expect(leaks).toEqual([]);
    // What was scanned is real: the servers' echoes of the secrets reached the dead letters and
    // the logs, redacted (4 channels refused for good; the webhook's 500 was logged as a retry).
    expect(scanned['dead letters'].match(/\[redacted\]/g)?.length ?? 0).toBeGreaterThanOrEqual(4);
    expect(logger.records.filter((r) => r.msg === 'notification dead-lettered')).toHaveLength(4);
    expect(
      logger.records.some((r) => r.msg.includes('retrying') && String(r.fields.error).includes('[redacted]')),
    ).toBe(true);
    console.info(
      `secrets: ${needles.length} needles × ${Object.keys(scanned).length} places (${Object.values(scanned).reduce((n, t) => n + t.length, 0)} characters scanned, ${logger.records.length} log records, ${frames.length} frames)`,
    );
  });
});
