import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { ErrorCode, MonitorError } from '../../src/errors.js';
import { channelRedactor, createChannels } from '../../src/notify/create-channels.js';
import { EmailChannel } from '../../src/notify/email-channel.js';
import { SlackChannel } from '../../src/notify/slack-channel.js';
import { SmsChannel } from '../../src/notify/sms-channel.js';
import { WebhookChannel } from '../../src/notify/webhook-channel.js';
import { ScriptedChannel } from './notify-fixture.js';

const ENV = {
  ERLMCP_SMTP_USER: 'alerts',
  ERLMCP_SMTP_PASS: 'smtp-pass-123',
  ERLMCP_SLACK_WEBHOOK: 'https://hooks.slack.com/services/T1/B1/slack-secret',
  ERLMCP_TWILIO_ACCOUNT_SID: 'AC123',
  ERLMCP_TWILIO_AUTH_TOKEN: 'twilio-token-123',
  ERLMCP_WEBHOOK_URL: 'https://hooks.example.com/in?token=hook-secret',
};

describe('createChannels', () => {
  it('builds nothing from the shipped defaults (every channel disabled)', () => {
    expect(createChannels(loadConfig({ env: {} }).alerting).size).toBe(0);
  });

  it('builds each enabled channel from config and environment secrets, plus extra channels', () => {
    const config = loadConfig({
      env: ENV,
      overrides: { alerting: { channels: { email: { enabled: true }, sms: { enabled: true, to: ['+15550001111'] } } } },
    });
    const alertmanager = new ScriptedChannel('alertmanager');
    const channels = createChannels(config.alerting, { extra: [alertmanager] });
    expect([...channels.keys()]).toEqual(['email', 'slack', 'sms', 'webhook', 'alertmanager']);
    expect(channels.get('email')).toBeInstanceOf(EmailChannel);
    expect(channels.get('slack')).toBeInstanceOf(SlackChannel);
    expect(channels.get('sms')).toBeInstanceOf(SmsChannel);
    expect(channels.get('webhook')).toBeInstanceOf(WebhookChannel);
    expect(channels.get('alertmanager')).toBe(alertmanager);
    void channels.get('email')!.close!();
  });

  it('refuses an extra channel whose name the config already enables', () => {
    const config = loadConfig({ env: { ERLMCP_WEBHOOK_URL: ENV.ERLMCP_WEBHOOK_URL } });
    expect(() => createChannels(config.alerting, { extra: [new ScriptedChannel('webhook')] })).toThrow(
      new MonitorError(
        ErrorCode.InvalidOption,
        'createChannels: an extra channel is named "webhook", which the config already enables',
      ),
    );
  });

  it('channelRedactor knows every channel secret', () => {
    const config = loadConfig({ env: { ...ENV, ERLMCP_ALERTMANAGER_URLS: 'http://am:am-pass-999@127.0.0.1:9093' } });
    const text =
      Object.values(ENV).join(' | ') + ' am-pass-999 ' + Buffer.from('AC123:twilio-token-123').toString('base64');
    const redacted = channelRedactor(config.alerting).redact(text);
    for (const secret of [
      'smtp-pass-123',
      'slack-secret',
      'twilio-token-123',
      'hook-secret',
      'am-pass-999',
      Buffer.from('AC123:twilio-token-123').toString('base64'),
    ]) {
      expect(redacted).not.toContain(secret);
    }
    expect(redacted).toContain('alerts');
  });
});
