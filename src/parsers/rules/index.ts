import { authFailureRules } from './auth-failure.js';
import { badReputationRules } from './bad-reputation.js';
import { blockedRules, clientBlockedRules } from './blocked.js';
import { contentErrorRules } from './content-error.js';
import { exceedLimitRules } from './exceed-limit.js';
import { expiredRules, expiredWrapperRules } from './expired.js';
import { failedStartTlsRules } from './failed-starttls.js';
import { filteredRules } from './filtered.js';
import { hasMovedRules } from './has-moved.js';
import { hostUnknownRules } from './host-unknown.js';
import { mailboxFullRules } from './mailbox-full.js';
import { mailerErrorRules } from './mailer-error.js';
import { mesgTooBigRules } from './mesg-too-big.js';
import { dnsTemporaryRules, networkErrorRules } from './network-error.js';
import { noRelayingRules } from './no-relaying.js';
import { notAcceptRules } from './not-accept.js';
import { notCompliantRfcRules } from './not-compliant-rfc.js';
import { policyViolationRules } from './policy-violation.js';
import { rejectedRules } from './rejected.js';
import { requirePtrRules } from './require-ptr.js';
import type { Rule } from './rule.js';
import { securityErrorRules } from './security-error.js';
import { spamDetectedRules } from './spam-detected.js';
import { speedingRules } from './speeding.js';
import { suppressedRules } from './suppressed.js';
import { suspendRules } from './suspend.js';
import { syntaxErrorRules } from './syntax-error.js';
import { systemErrorRules } from './system-error.js';
import { systemFullRules } from './system-full.js';
import { connectionRateRules, tooManyConnRules } from './too-many-conn.js';
import { userUnknownRules } from './user-unknown.js';
import { virusDetectedRules } from './virus-detected.js';

export type { Rule } from './rule.js';

/**
 * Every phrase rule, in the order they are tried: the first match wins. Policy and reputation
 * blocks come before the mailbox reasons so that "Recipient address rejected: Reverse DNS
 * validation failed" never reads as an unknown user; narrow mailbox states (full, disabled)
 * come before "unknown"; catch-all server trouble comes last.
 */
export const RULES: readonly Rule[] = [
  ...suppressedRules,
  ...authFailureRules,
  ...requirePtrRules,
  ...badReputationRules,
  ...connectionRateRules,
  ...speedingRules,
  ...clientBlockedRules,
  ...virusDetectedRules,
  ...spamDetectedRules,
  ...systemFullRules,
  ...mailboxFullRules,
  ...exceedLimitRules,
  ...mesgTooBigRules,
  ...suspendRules,
  ...hasMovedRules,
  ...noRelayingRules,
  ...rejectedRules,
  ...notAcceptRules,
  ...dnsTemporaryRules,
  ...userUnknownRules,
  ...hostUnknownRules,
  ...blockedRules,
  ...filteredRules,
  ...tooManyConnRules,
  ...failedStartTlsRules,
  ...securityErrorRules,
  ...policyViolationRules,
  ...notCompliantRfcRules,
  ...contentErrorRules,
  ...mailerErrorRules,
  ...expiredRules,
  ...networkErrorRules,
  ...systemErrorRules,
  ...syntaxErrorRules,
  ...expiredWrapperRules,
];

/** The queue-lifetime wording of a final report ("this message has been in the queue too long"), or ''. */
export function queueLifetime(text: string): string {
  for (const rule of expiredWrapperRules) {
    const m = rule.pattern.exec(text);
    if (m) return m[0];
  }
  return '';
}

/** The first rule whose pattern matches the text, with the matched fragment. */
export function matchRule(text: string): { rule: Rule; matched: string } | null {
  for (const rule of RULES) {
    const m = rule.pattern.exec(text);
    if (m) return { rule, matched: m[0] };
  }
  return null;
}
