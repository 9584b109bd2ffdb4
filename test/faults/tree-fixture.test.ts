import { afterEach, describe, expect, it } from 'vitest';
import { hostService, runCleanups, startTree } from './tree-fixture.js';

afterEach(runCleanups);

describe('fault-test tree fixture', () => {
  it('starts the whole tree with fast intervals on a free dashboard port, instrumenting a host service', async () => {
    const { mon } = await startTree({ config: { alerting: { check_interval: 70 } } });
    expect(mon.config.monitoring.collection_interval).toBe(50);
    expect(mon.config.alerting.check_interval).toBe(70);
    const { url: dashboard } = await mon.dashboardAddress();
    expect(dashboard).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(dashboard.endsWith(':8080')).toBe(false);
    const { server, url } = await hostService();
    mon.instrument.http(server, { name: 'host' });
    expect((await fetch(`${url}/fail`)).status).toBe(503);
  });
});
