import type { Finding } from '../../src/parsers/classify.js';

/** A failed-recipient finding as a layout hands it to classify(), with the given fields set. */
export const finding = (over: Partial<Finding>): Finding => ({
  recipient: 'kijitora@example.jp', action: 'failed', status: '', replycode: '', diagnostic: '', diagnosticType: 'smtp', remoteMta: '', command: '', evidence: [], ...over,
});
