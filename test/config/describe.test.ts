import { describe, expect, it } from 'vitest';
import { describeConfig, loadConfig } from '../../src/config/load.js';
import { SETTINGS } from '../../src/config/schema.js';
import { runCli } from '../support/cli.js';

describe('config check output', () => {
  it('prints structured settings readably, never [object Object]', () => {
    const shown = describeConfig(
      loadConfig({ MAILTRAIL_SOFT_BOUNCE_LIMIT: '4/2d', MAILTRAIL_WEBHOOK_ALLOW_PRIVATE: '10.20.0.0/16,fd00::/8', MAILTRAIL_SMTP_MIN_COMMAND_RATE: '30/1m' }),
    );
    expect(shown.MAILTRAIL_SOFT_BOUNCE_LIMIT).toBe('{"count":4,"windowMs":172800000}');
    expect(shown.MAILTRAIL_WEBHOOK_ALLOW_PRIVATE).toBe('10.20.0.0/16,fd00::/8');
    expect(shown.MAILTRAIL_SMTP_MIN_COMMAND_RATE).toBe('{"bytes":30,"windowMs":60000}');
    expect(shown.MAILTRAIL_WEBHOOK_RETRY_SCHEDULE).toMatch(/^5000,60000,/);
    for (const name of Object.keys(SETTINGS)) expect(shown[name], name).not.toContain('[object');
  });

  it('mailtrail config check prints them so', async () => {
    const r = await runCli(['config', 'check'], { MAILTRAIL_DATA_DIR: 'memory://' });
    expect(r.code, r.stderr).toBe(0);
    const out = r.stdout;
    expect(out).toContain('MAILTRAIL_SOFT_BOUNCE_LIMIT={"count":3,"windowMs":604800000}');
    expect(out).not.toContain('[object');
  }, 60_000);
});
