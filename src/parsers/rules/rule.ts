import type { Reason } from '../report.js';

/** One classification rule: a phrase pattern, the reason it means, and a real server text it was written for. */
export interface Rule {
  reason: Reason;
  pattern: RegExp;
  example: string;
}
