/**
 * Keeps channel secrets out of error messages and logs.
 *
 * Channels build their messages from safe parts (a URL's origin, never its path; a status code), so
 * a secret should never get in. A `Redactor` is the last defence for text a channel does not write
 * itself: a server's reply, a socket error, a thrown bug. It replaces each secret, and the forms a
 * secret travels in (percent-encoded in a URL, base64 in a Basic `Authorization` header), with
 * `[redacted]`, and drops user-info from any URL.
 */
import { REDACTED, redactUrlCredentials } from '../config/redact-config.js';

/** Secrets shorter than this are not searched for (they would match ordinary text). */
const MIN_SECRET_LENGTH = 4;

const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^/?#@\s]*@/gi;

export class Redactor {
  readonly #needles: string[];

  /**
   * @param secrets the secret values (undefined and short ones are skipped)
   * @param pairs credentials sent as HTTP Basic auth, `[user, password]`: their base64 form is a secret too
   */
  constructor(secrets: Iterable<string | undefined>, pairs: Iterable<readonly [string, string]> = []) {
    const needles = new Set<string>();
    for (const secret of secrets) {
      if (secret === undefined || secret.length < MIN_SECRET_LENGTH) continue;
      needles.add(secret);
      needles.add(encodeURIComponent(secret));
      needles.add(encodeURI(secret));
    }
    for (const [user, password] of pairs) {
      if (password.length >= MIN_SECRET_LENGTH) needles.add(Buffer.from(`${user}:${password}`).toString('base64'));
    }
    // Longest first, so a secret containing another is replaced whole.
    this.#needles = [...needles].sort((a, b) => b.length - a.length);
  }

  /**
   * `text` with every secret and URL user-info replaced by `[redacted]`. Bound to this redactor, so
   * `redactor.redact` can be handed on as a plain function (the outbox's `redact` option): as a
   * prototype method, called from the outbox it read `#needles` of the outbox and threw.
   */
  readonly redact = (text: string): string => {
    let out = text;
    for (const needle of this.#needles) if (out.includes(needle)) out = out.split(needle).join(REDACTED);
    return out.replace(URL_USERINFO, `$1${REDACTED}@`);
  };
}

/**
 * A URL as it may appear in messages: its origin only (`https://hooks.slack.com`), since the path
 * or query of a webhook is often the credential itself.
 * @param url an absolute URL
 */
export function safeOrigin(url: URL): string {
  return redactUrlCredentials(url.origin);
}
