import { describe, expect, it } from 'vitest';
import { isSecretPath, loadConfig, REDACTED, redactConfig } from '../../src/config/index.js';

describe('redactConfig', () => {
  const env = {
    ERLMCP_DASHBOARD_TOKEN: 'S3CRET-token',
    ERLMCP_SMTP_USER: 'alerts',
    ERLMCP_SMTP_PASS: 'S3CRET-pass',
    ERLMCP_SLACK_WEBHOOK: 'https://hooks.slack.com/services/T0/B0/S3CRET',
    ERLMCP_TWILIO_ACCOUNT_SID: 'AC123',
    ERLMCP_TWILIO_AUTH_TOKEN: 'S3CRET-twilio',
    ERLMCP_WEBHOOK_URL: 'https://bot:S3CRET-basic@hooks.example.com/alerts',
  };

  it('replaces every secret from the environment with "[redacted]"', () => {
    const config = loadConfig({ env });
    const redacted = redactConfig(config) as typeof config;
    expect(JSON.stringify(redacted)).not.toContain('S3CRET');
    expect(redacted.dashboard.auth_token).toBe(REDACTED);
    expect(redacted.alerting.channels.email.pass).toBe(REDACTED);
    expect(redacted.alerting.channels.slack.webhook).toBe(REDACTED);
    expect(redacted.alerting.channels.sms.auth_token).toBe(REDACTED);
    // Whole, like the Slack webhook: a generic webhook's token is often its path or query, not user-info.
    expect(redacted.alerting.channels.webhook.url).toBe(REDACTED);
    const pathToken = loadConfig({
      env: { ERLMCP_WEBHOOK_URL: 'https://hooks.example.com/hooks/S3CRET-path?key=S3CRET-key' },
    });
    expect(JSON.stringify(redactConfig(pathToken))).not.toContain('S3CRET');
  });

  it('keeps everything else, and leaves the config untouched', () => {
    const config = loadConfig({ env });
    const redacted = redactConfig(config) as typeof config;
    expect(redacted.alerting.channels.email.user).toBe('alerts');
    expect(redacted.alerting.channels.sms.account_sid).toBe('AC123');
    expect(redacted.monitoring).toEqual(config.monitoring);
    expect(config.dashboard.auth_token).toBe('S3CRET-token');
  });

  it('shows an empty token as empty, so "no token" stays visible', () => {
    const redacted = redactConfig(loadConfig({ env: {} })) as { dashboard: { auth_token: string } };
    expect(redacted.dashboard.auth_token).toBe('');
  });

  it('knows the secret paths', () => {
    expect(isSecretPath(['dashboard', 'auth_token'])).toBe(true);
    expect(isSecretPath(['alerting', 'channels', 'email', 'pass'])).toBe(true);
    expect(isSecretPath(['alerting', 'channels', 'webhook', 'url'])).toBe(true);
    expect(isSecretPath(['alerting', 'channels', 'email', 'user'])).toBe(false);
  });
});
