import { describe, expect, it } from 'vitest';
import { DashboardAddress } from '../../src/notify/dashboard-address.js';

describe('DashboardAddress', () => {
  it('knows a fixed port at once: link and instance', () => {
    const d = new DashboardAddress({ enabled: true, host: '127.0.0.1', port: 8080, hostname: 'web-1' });
    expect([d.url(), d.instance()]).toEqual(['http://127.0.0.1:8080', 'web-1:8080']);
  });

  it('with port 0 answers nothing until the dashboard listens, then the bound port; the instance stays the first one', () => {
    const d = new DashboardAddress({ enabled: true, host: '127.0.0.1', port: 0, hostname: 'web-1' });
    expect([d.url(), d.instance()]).toEqual([undefined, undefined]);
    d.listening({ port: 41234 });
    expect([d.url(), d.instance()]).toEqual(['http://127.0.0.1:41234', 'web-1:41234']);
    d.listening({ port: 41999 }); // restarted on another free port: the link follows, the identity does not
    expect([d.url(), d.instance()]).toEqual(['http://127.0.0.1:41999', 'web-1:41234']);
  });

  it('links to the hostname for a wildcard bind, brackets IPv6, and takes a configured instance', () => {
    expect(new DashboardAddress({ enabled: true, host: '0.0.0.0', port: 80, hostname: 'web-1' }).url()).toBe(
      'http://web-1:80',
    );
    expect(new DashboardAddress({ enabled: true, host: '::1', port: 80, hostname: 'web-1' }).url()).toBe(
      'http://[::1]:80',
    );
    expect(
      new DashboardAddress({ enabled: true, host: '127.0.0.1', port: 0, instance: 'api-eu:9000' }).instance(),
    ).toBe('api-eu:9000');
  });

  it('without a dashboard: no link, the hostname as instance', () => {
    const d = new DashboardAddress({ enabled: false, host: '127.0.0.1', port: 8080, hostname: 'web-1' });
    expect([d.url(), d.instance()]).toEqual([undefined, 'web-1']);
  });
});
