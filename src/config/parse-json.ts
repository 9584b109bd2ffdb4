/**
 * JSON parsing that reports WHERE a file is broken without echoing its text.
 *
 * `JSON.parse` error messages differ between Node versions and some quote a slice of the input
 * (`Unexpected token '}', "{"pass": "hunt"... is not valid JSON`), which could put a secret into a
 * log. So when `JSON.parse` fails, a small scanner walks the text to the first offending character
 * and reports its line, column, what was expected and what was found (one character, or "end of
 * input").
 */

/** The result of {@link parseJson}. */
export type JsonParseResult =
  { ok: true; value: unknown } | { ok: false; line: number; column: number; expected: string; found: string };

/**
 * Parses JSON text (a leading byte-order mark is ignored).
 * @param text the file contents
 */
export function parseJson(text: string): JsonParseResult {
  const source = text.startsWith('\uFEFF') ? text.slice(1) : text;
  try {
    return { ok: true, value: JSON.parse(source) as unknown };
  } catch {
    const { offset, expected } = new JsonScanner(source).findError();
    const before = source.slice(0, offset);
    const line = before.split('\n').length;
    const column = offset - before.lastIndexOf('\n');
    const found = offset >= source.length ? 'end of input' : JSON.stringify(source[offset]);
    return { ok: false, line, column, expected, found };
  }
}

class SyntaxAt {
  constructor(
    readonly offset: number,
    readonly expected: string,
  ) {}
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/** A recursive-descent JSON recognizer; it only locates the first error. */
class JsonScanner {
  private i = 0;

  constructor(private readonly s: string) {}

  findError(): SyntaxAt {
    try {
      this.value();
      this.ws();
      if (this.i < this.s.length) this.fail('end of input after the top-level value');
      return new SyntaxAt(this.i, 'valid JSON');
    } catch (err) {
      if (err instanceof SyntaxAt) return err;
      throw err;
    }
  }

  private fail(expected: string): never {
    throw new SyntaxAt(this.i, expected);
  }

  private ws(): void {
    while (this.i < this.s.length && ' \t\n\r'.includes(this.s.charAt(this.i))) this.i++;
  }

  private value(): void {
    this.ws();
    const c = this.s[this.i];
    if (c === '{') {
      this.object();
      return;
    }
    if (c === '[') {
      this.array();
      return;
    }
    if (c === '"') {
      this.string();
      return;
    }
    if (c === 't') {
      this.word('true');
      return;
    }
    if (c === 'f') {
      this.word('false');
      return;
    }
    if (c === 'n') {
      this.word('null');
      return;
    }
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) {
      this.number();
      return;
    }
    this.fail('a value');
  }

  private object(): void {
    this.i++;
    this.ws();
    if (this.s[this.i] === '}') {
      this.i++;
      return;
    }
    for (;;) {
      this.ws();
      if (this.s[this.i] !== '"') this.fail('a double-quoted property name');
      this.string();
      this.ws();
      if (this.s[this.i] !== ':') this.fail('":"');
      this.i++;
      this.value();
      this.ws();
      const c = this.s[this.i];
      this.i++;
      if (c === '}') return;
      if (c !== ',') {
        this.i--;
        this.fail('"," or "}"');
      }
    }
  }

  private array(): void {
    this.i++;
    this.ws();
    if (this.s[this.i] === ']') {
      this.i++;
      return;
    }
    for (;;) {
      this.value();
      this.ws();
      const c = this.s[this.i];
      this.i++;
      if (c === ']') return;
      if (c !== ',') {
        this.i--;
        this.fail('"," or "]"');
      }
    }
  }

  private string(): void {
    this.i++;
    while (this.i < this.s.length) {
      const c = this.s.charAt(this.i);
      if (c === '"') {
        this.i++;
        return;
      }
      if (c === '\\') {
        const e = this.s[this.i + 1];
        if (e !== undefined && '"\\/bfnrt'.includes(e)) this.i += 2;
        else if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(this.s.slice(this.i + 2, this.i + 6))) this.i += 6;
        else {
          this.i++;
          this.fail('a valid escape sequence');
        }
      } else if (c < ' ') {
        this.fail('no raw control characters in a string (use an escape)');
      } else {
        this.i++;
      }
    }
    this.fail('a closing double quote');
  }

  private number(): void {
    NUMBER.lastIndex = this.i;
    if (!NUMBER.test(this.s)) {
      if (this.s[this.i] === '-') this.i++;
      this.fail('a digit');
    }
    this.i = NUMBER.lastIndex;
  }

  private word(word: string): void {
    for (const ch of word) {
      if (this.s[this.i] !== ch) this.fail(`"${word}"`);
      this.i++;
    }
  }
}
