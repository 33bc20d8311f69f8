import type { Reason } from '../report.js';

/**
 * One classification rule: a phrase pattern, the reason it means, and the real server texts it
 * was written for. test/parsers/rules.test.ts checks that every example classifies as `reason`
 * and that the counter-example does not match the pattern.
 */
export interface Rule {
  reason: Reason;
  pattern: RegExp;
  /** A real server text the rule was written for. */
  example: string;
  /** The same cause in other MTAs' or providers' words (the source named in a comment). */
  also?: readonly string[];
  /** A near miss the pattern must not match: wording of another cause that shares words with this one. */
  counter?: string;
}
