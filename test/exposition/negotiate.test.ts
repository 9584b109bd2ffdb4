import { describe, expect, it } from 'vitest';
import { negotiateFormat, renderExposition } from '../../src/exposition/negotiate.js';
import { Registry } from '../../src/metrics/registry.js';
import { serveMetrics } from '../../src/server/metrics-server.js';
import { memoryLogger } from '../helpers.js';

describe('negotiateFormat', () => {
  it.each([
    [undefined, 'prometheus'],
    ['', 'prometheus'],
    ['text/plain', 'prometheus'],
    ['text/plain;version=0.0.4', 'prometheus'],
    ['application/openmetrics-text', 'openmetrics'],
    ['application/openmetrics-text; version=1.0.0; charset=utf-8', 'openmetrics'],
    // What Prometheus 2.x sends on a scrape.
    [
      'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1',
      'openmetrics',
    ],
    ['text/plain;q=0.9, application/openmetrics-text;q=0.5', 'prometheus'],
    ['text/plain;q=0.5, application/openmetrics-text;q=0.9', 'openmetrics'],
    ['application/openmetrics-text;q=0, */*', 'prometheus'],
    ['application/openmetrics-text;version=2.0.0', 'prometheus'],
    ['application/json', 'prometheus'],
    ['*/*', 'prometheus'],
    ['garbage;;;q=x,,', 'prometheus'],
  ] as const)('Accept %j → %s', (accept, format) => {
    expect(negotiateFormat(accept)).toBe(format);
  });
});

describe('renderExposition', () => {
  it('answers the content type of the chosen format', async () => {
    const registry = new Registry({ logger: memoryLogger() });
    registry.counter('jobs').inc();
    expect(await renderExposition(registry, 'application/openmetrics-text')).toEqual({
      contentType: 'application/openmetrics-text; version=1.0.0; charset=utf-8',
      body: '# TYPE jobs counter\n# HELP jobs jobs\njobs_total 1\n# EOF\n',
    });
    expect(await renderExposition(registry, undefined)).toEqual({
      contentType: 'text/plain; version=0.0.4; charset=utf-8',
      body: '# HELP jobs_total jobs\n# TYPE jobs_total counter\njobs_total 1\n',
    });
  });

  it('is what serveMetrics serves on /metrics, chosen by the request Accept header', async () => {
    const registry = new Registry({ logger: memoryLogger() });
    registry.counter('jobs').inc(4);
    const server = await serveMetrics(registry);
    try {
      const om = await fetch(`${server.url}/metrics`, {
        headers: { accept: 'application/openmetrics-text; version=1.0.0' },
      });
      expect(om.headers.get('content-type')).toBe('application/openmetrics-text; version=1.0.0; charset=utf-8');
      expect(await om.text()).toMatch(/^jobs_total 4\n# EOF\n$/m);
      const text = await fetch(`${server.url}/metrics`);
      expect(text.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
      expect(await text.text()).toContain('# TYPE jobs_total counter\njobs_total 4\n');
    } finally {
      await server.close();
    }
  });
});
