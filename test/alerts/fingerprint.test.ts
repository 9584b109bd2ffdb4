import { describe, expect, it } from 'vitest';
import { fingerprint } from '../../src/alerts/fingerprint.js';

describe('fingerprint', () => {
  it('does not depend on label order', () => {
    const a = fingerprint('rule:r', { b: '2', a: '1' });
    expect(a).toBe(fingerprint('rule:r', { a: '1', b: '2' }));
    expect(a).toMatch(/^[0-9a-f]{16}$/);
  });

  it('tells identities, label names and label values apart, without ambiguity from separators', () => {
    const fps = new Set([
      fingerprint('rule:r', { a: '1' }),
      fingerprint('rule:s', { a: '1' }),
      fingerprint('rule:r', { a: '2' }),
      fingerprint('rule:r', { b: '1' }),
      fingerprint('rule:r', { a: '1', b: '' }),
      fingerprint('rule:r', { a: '1,b=2' }),
      fingerprint('rule:r', { a: '1', b: '2' }),
    ]);
    expect(fps.size).toBe(7);
  });
});
