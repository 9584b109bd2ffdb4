import { describe, expect, it } from 'vitest';
import { Redactor, safeOrigin } from '../../src/notify/redact.js';

describe('Redactor', () => {
  it('replaces each secret, its percent-encoded form and Basic-auth base64, longest first', () => {
    const redactor = new Redactor(['p@ss word', 'abc', undefined, 'p@ss word and more'], [['user', 'p@ss word']]);
    expect(redactor.redact('a p@ss word b')).toBe('a [redacted] b');
    expect(redactor.redact('x p@ss word and more y')).toBe('x [redacted] y');
    expect(redactor.redact(`q=${encodeURIComponent('p@ss word')}`)).toBe('q=[redacted]');
    expect(redactor.redact(`Basic ${Buffer.from('user:p@ss word').toString('base64')}`)).toBe('Basic [redacted]');
    // Too short to search for: it would match ordinary text.
    expect(redactor.redact('abc')).toBe('abc');
  });

  it('redacts when its redact method is handed on as a plain function', () => {
    // startMonitoring passes `channelRedactor(...).redact` as the outbox's redact option.
    const { redact } = new Redactor(['hunter2-secret']);
    expect(redact('login hunter2-secret failed')).toBe('login [redacted] failed');
  });

  it('drops user-info from any URL in the text', () => {
    expect(new Redactor([]).redact('failed: https://bob:hunter2@example.com/x and http://k@h/')).toBe(
      'failed: https://[redacted]@example.com/x and http://[redacted]@h/',
    );
  });

  it('safeOrigin keeps scheme, host and port only', () => {
    expect(safeOrigin(new URL('https://u:p@hooks.slack.com:8443/services/T/B/secret?x=1'))).toBe(
      'https://hooks.slack.com:8443',
    );
  });
});
