import { describe, expect, it } from 'vitest';
import {
  escapedWithin,
  escapeHtml,
  escapeMrkdwn,
  headline,
  oneLine,
  safeLink,
  truncate,
} from '../../src/notify/notification-text.js';
import { makeNotification } from './notify-fixture.js';

describe('notification text', () => {
  it('heads each notification with its severity, resolution or re-notification', () => {
    expect(headline(makeNotification({ alert: { severity: 'warning', title: 'Disk\r\nfull' } }))).toBe(
      '[WARNING] Disk full',
    );
    expect(headline(makeNotification({ reason: 'resolved', alert: { title: 'Disk full' } }))).toBe(
      '[RESOLVED] Disk full',
    );
    expect(headline(makeNotification({ reason: 'renotify', alert: { title: 'Disk full' } }))).toBe(
      '[CRITICAL] Disk full (still firing)',
    );
  });

  it('escapes HTML and Slack mrkdwn control characters', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
    expect(escapeMrkdwn(`<!here> & <@U1> "q"`)).toBe('&lt;!here&gt; &amp; &lt;@U1&gt; "q"');
    expect(oneLine('a\nb\u2028c\td')).toBe('a b c d');
  });

  it('cuts text by characters without splitting surrogate pairs or escapes', () => {
    expect(truncate('😀😀😀', 2)).toBe('😀…');
    expect(truncate('abc', 3)).toBe('abc');
    const cut = escapedWithin('a&b&c&d&e&f', 12, escapeMrkdwn);
    expect(cut.length).toBeLessThanOrEqual(12);
    expect(cut).toMatch(/^a(&amp;|b)*…?$/);
    expect(cut).not.toMatch(/&(?!amp;)/);
  });

  it('links only http(s) URLs', () => {
    expect(safeLink('https://dash/x?y=1')).toBe('https://dash/x?y=1');
    expect(safeLink('javascript:alert(1)')).toBeUndefined();
    expect(safeLink('not a url')).toBeUndefined();
    expect(safeLink(undefined)).toBeUndefined();
  });
});
