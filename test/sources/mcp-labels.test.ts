import { describe, expect, it } from 'vitest';
import { errorCodeLabel, NameCap, notificationMethodLabel, requestMethodLabel } from '../../src/sources/mcp-labels.js';

describe('mcp labels', () => {
  it('keeps MCP methods and reserved JSON-RPC codes, and folds everything else into "other"', () => {
    expect(
      ['tools/call', 'resources/read', 'x/y', 'tools/call/../../etc', 42, undefined].map(requestMethodLabel),
    ).toEqual(['tools/call', 'resources/read', 'other', 'other', 'other', 'other']);
    expect(['notifications/cancelled', 'notifications/custom'].map(notificationMethodLabel)).toEqual([
      'notifications/cancelled',
      'other',
    ]);
    expect([-32602, -32000, -32768, -31999, -32769, 1, 3.5, '-32602'].map(errorCodeLabel)).toEqual([
      '-32602',
      '-32000',
      '-32768',
      'other',
      'other',
      'other',
      'other',
      'other',
    ]);
  });

  it('keeps at most max names and warns once at the first one refused', () => {
    let warnings = 0;
    const cap = new NameCap(2, () => warnings++);
    expect(['a', 'b', 'c', 'a', 'd', 'b'].map((n) => cap.label(n))).toEqual(['a', 'b', 'other', 'a', 'other', 'b']);
    expect(warnings).toBe(1);
  });
});
