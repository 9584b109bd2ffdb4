import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import { isLoopbackHost } from '../../src/net/loopback.js';
import { Access, checkBind } from '../../src/server/access.js';
import { expectMonitorError } from '../helpers.js';

describe('Access', () => {
  it('knows loopback hosts', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]', 'app.localhost'])
      expect({ host, loopback: isLoopbackHost(host) }).toEqual({ host, loopback: true });
    for (const host of ['0.0.0.0', '::', '192.168.1.10', 'example.com', '128.0.0.1', 'localhost.example.com'])
      expect({ host, loopback: isLoopbackHost(host) }).toEqual({ host, loopback: false });
  });

  it('refuses a non-loopback bind without a token, naming the key and the fix', () => {
    expectMonitorError(
      () => checkBind('0.0.0.0', ''),
      ErrorCode.InvalidConfig,
      'dashboard.host "0.0.0.0" is not a loopback address, so dashboard.auth_token must be set (set ERLMCP_DASHBOARD_TOKEN, or bind 127.0.0.1)',
    );
    expect(() => checkBind('0.0.0.0', 't')).not.toThrow();
    expect(() => checkBind('127.0.0.1', '')).not.toThrow();
    expectMonitorError(
      () => new Access({ host: '10.0.0.1', token: '', allowedOrigins: [] }),
      ErrorCode.InvalidConfig,
      /not a loopback address/,
    );
  });

  it('takes the token from a Bearer header or the token parameter, and nothing else', () => {
    const access = new Access({ host: '127.0.0.1', token: 'abc', allowedOrigins: [] });
    const q = (s: string) => new URLSearchParams(s);
    expect(access.tokenRequired).toBe(true);
    expect(access.hasToken({ authorization: 'Bearer abc' }, q(''))).toBe(true);
    expect(access.hasToken({ authorization: 'bearer abc' }, q(''))).toBe(true);
    expect(access.hasToken({}, q('token=abc'))).toBe(true);
    expect(access.hasToken({}, q(''))).toBe(false);
    expect(access.hasToken({ authorization: 'Bearer ab' }, q(''))).toBe(false);
    expect(access.hasToken({ authorization: 'Bearer abcd' }, q(''))).toBe(false);
    expect(access.hasToken({ authorization: 'Basic abc' }, q(''))).toBe(false);
    expect(access.hasToken({}, q('token='))).toBe(false);
    const open = new Access({ host: '127.0.0.1', token: '', allowedOrigins: [] });
    expect(open.hasToken({}, q(''))).toBe(true);
  });

  it('allows no Origin, the same origin and listed origins only', () => {
    const access = new Access({ host: '127.0.0.1', token: '', allowedOrigins: ['http://localhost:3000'] });
    expect(access.originAllowed({ host: '127.0.0.1:8080' })).toBe(true);
    expect(access.originAllowed({ host: '127.0.0.1:8080', origin: 'http://127.0.0.1:8080' })).toBe(true);
    expect(access.originAllowed({ host: '127.0.0.1:8080', origin: 'http://LOCALHOST:3000' })).toBe(true);
    expect(access.originAllowed({ host: '127.0.0.1:8080', origin: 'http://127.0.0.1:8081' })).toBe(false);
    expect(access.originAllowed({ host: '127.0.0.1:8080', origin: 'null' })).toBe(false);
    expect(access.originAllowed({ origin: 'http://127.0.0.1:8080' })).toBe(false);
  });

  it('on loopback, accepts only Host headers that name this machine or an allowed origin (DNS rebinding)', () => {
    const access = new Access({ host: '127.0.0.1', token: '', allowedOrigins: ['http://dash.internal:3000'] });
    for (const host of ['127.0.0.1:8080', 'localhost:8080', '[::1]:8080', 'dash.internal:8080'])
      expect({ host, ok: access.hostAllowed({ host }) }).toEqual({ host, ok: true });
    for (const host of ['evil.example:8080', 'evil.example', ''])
      expect({ host, ok: access.hostAllowed({ host }) }).toEqual({ host, ok: false });
    expect(access.hostAllowed({})).toBe(false);
    const exposed = new Access({ host: '0.0.0.0', token: 't', allowedOrigins: [] });
    expect(exposed.hostAllowed({ host: 'monitor.example.com' })).toBe(true);
  });
});
