import { describe, expect, it } from 'vitest';
import { suggestKey } from '../../src/config/suggest-key.js';

describe('suggestKey', () => {
  const keys = ['collection_interval', 'aggregation_interval', 'host', 'port', 'theme'];

  it('suggests the closest key for a typo, a transposition or another case style', () => {
    expect(suggestKey('colection_interval', keys)).toBe('collection_interval');
    expect(suggestKey('hots', keys)).toBe('host');
    expect(suggestKey('collectionInterval', keys)).toBe('collection_interval');
    expect(suggestKey('Theme', keys)).toBe('theme');
  });

  it('suggests nothing when no key is close', () => {
    expect(suggestKey('pager', keys)).toBeUndefined();
    expect(suggestKey('x', keys)).toBeUndefined();
  });
});
