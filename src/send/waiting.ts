import type { Config } from '../config/load.js';

/**
 * Why queued messages of a channel are not leaving this installation, or null when they can:
 * without a relay (email) or an SMSC (SMS) the worker never takes them, and a newcomer would
 * otherwise see `queued` forever with no hint.
 */
export function notSendingReason(config: Pick<Config, 'MAILTRAIL_SMTP_RELAY_URL' | 'MAILTRAIL_SMPP_URL'>, channel: 'email' | 'sms'): string | null {
  if (channel === 'email') {
    return config.MAILTRAIL_SMTP_RELAY_URL ? null : 'no relay: MAILTRAIL_SMTP_RELAY_URL is unset, so email waits in queued; set it to your SMTP relay, e.g. smtp://127.0.0.1:25';
  }
  return config.MAILTRAIL_SMPP_URL.length ? null : 'no SMSC: MAILTRAIL_SMPP_URL is unset, so SMS wait in queued; set it to your SMSC, e.g. smpp://user:password@smsc.example.com:2775';
}

/** The reason a queued message waits, for its API view; null once it is past queued or can be sent. */
export function waitingReason(config: Pick<Config, 'MAILTRAIL_SMTP_RELAY_URL' | 'MAILTRAIL_SMPP_URL'>, m: { channel: 'email' | 'sms'; status: string }): string | null {
  return m.status === 'queued' ? notSendingReason(config, m.channel) : null;
}
