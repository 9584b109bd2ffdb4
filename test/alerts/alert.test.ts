import { describe, expect, it } from 'vitest';
import { alertTitle } from '../../src/alerts/alert.js';
import { renderTemplate } from '../../src/alerts/annotation-template.js';

describe('alertTitle', () => {
  it('is the source\'s "SEVERITY Alert: message", cut at the first line break and at 120 characters', () => {
    expect(alertTitle('critical', 'System CPU usage exceeds 90%')).toBe('CRITICAL Alert: System CPU usage exceeds 90%');
    expect(alertTitle('info', 'first\nsecond')).toBe('INFO Alert: first');
    const long = alertTitle('warning', 'x'.repeat(500));
    expect(long).toBe(`WARNING Alert: ${'x'.repeat(119)}…`);
  });
});

describe('renderTemplate', () => {
  it('fills $value, $threshold and $labels, and leaves everything else as written', () => {
    const data = { value: 182.4567, threshold: 100, labels: { route: '/api', '<b>': 'x' } };
    expect(
      renderTemplate(
        '{{ $labels.route }}: {{$value}} > {{ $threshold }} {{ $labels.missing }}|{{ .Other }} {{ $labels.<b> }}',
        data,
      ),
    ).toBe('/api: 182.5 > 100 |{{ .Other }} {{ $labels.<b> }}');
  });
});
