import type { Rule } from './rule.js';

/** The content contained malware. */
export const virusDetectedRules: Rule[] = [
  { reason: 'virusdetected', pattern: /\bvirus(?:es)? (?:detected|found|infected|scan)|\b(?:infected|contains?) (?:with )?(?:a |an )?(?:virus|malware|worm|trojan)|\bmalware (?:detected|found)|\bmalicious (?:content|attachment|software|code)|\bvirus-infected|\bthis message (?:contains|contained) a virus/i, example: '550 5.7.1 Virus found in message: Eicar-Test-Signature' },
];
