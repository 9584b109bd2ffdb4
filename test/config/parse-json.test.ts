import { describe, expect, it } from 'vitest';
import { parseJson } from '../../src/config/parse-json.js';

describe('parseJson', () => {
  it('parses valid JSON and ignores a byte-order mark', () => {
    expect(parseJson('\uFEFF{"a": [1, -2.5e3, true, null, "x\\u0041"]}')).toEqual({
      ok: true,
      value: { a: [1, -2500, true, null, 'xA'] },
    });
  });

  it.each([
    ['{"a": 1,}', 1, 9, 'a double-quoted property name', '"}"'],
    ['{"a" 1}', 1, 6, '":"', '"1"'],
    ['[1 2]', 1, 4, '"," or "]"', '"2"'],
    ['{"a":\n  tru}', 2, 6, '"true"', '"}"'],
    ['{"a": 01}', 1, 8, '"," or "}"', '"1"'],
    ['{"a": "x\\q"}', 1, 10, 'a valid escape sequence', '"q"'],
    ['{"a": 1}}', 1, 9, 'end of input after the top-level value', '"}"'],
    ['{"a": ', 1, 7, 'a value', 'end of input'],
    ['', 1, 1, 'a value', 'end of input'],
  ])('locates the error in %j', (text, line, column, expected, found) => {
    expect(parseJson(text)).toEqual({ ok: false, line, column, expected, found });
  });
});
