/**
 * Overfitting signs on the visible corpus: phrase rules and vendor-table entries that fire on
 * exactly one file. A rule written for one file is the kind that scores here and fails on
 * unseen mail, so each one listed is suspect until other MTAs' wording backs it.
 */
import type { Report } from '../src/parsers/report.js';
import { vendorEntries } from '../src/parsers/mta/vendor-codes.js';
import { RULES } from '../src/parsers/rules/index.js';

export interface RuleUse {
  id: string;
  /** Files where the pattern matches some recipient's diagnostic. */
  matches: Set<string>;
  /** Files where it is the rule that decided a recipient's reason (per the evidence). */
  decides: Set<string>;
}

export interface OverfitReport {
  rules: RuleUse[];
  vendor: RuleUse[];
}

/** Ids by position within a reason, e.g. "userunknown/3": stable while the table is not reordered. */
function ruleEntries(): Array<{ id: string; reason: string; pattern: RegExp }> {
  const seen = new Map<string, number>();
  return RULES.map((r) => {
    const n = seen.get(r.reason) ?? 0;
    seen.set(r.reason, n + 1);
    return { id: `${r.reason}/${n}`, reason: r.reason, pattern: r.pattern };
  });
}

/** Counts, per rule and vendor entry, the corpus files it matches and the files it decides. */
export function overfitReport(results: Map<string, Report>): OverfitReport {
  const tables = { rules: ruleEntries(), vendor: vendorEntries() };
  const uses = {
    rules: tables.rules.map((e) => ({ id: e.id, matches: new Set<string>(), decides: new Set<string>() })),
    vendor: tables.vendor.map((e) => ({ id: e.id, matches: new Set<string>(), decides: new Set<string>() })),
  };
  for (const [file, report] of results) {
    for (const r of report.recipients) {
      const diag = r.diagnostic.replace(/\s+/g, ' ');
      for (const key of ['rules', 'vendor'] as const) {
        tables[key].forEach((e, i) => {
          if (e.pattern.test(diag)) uses[key][i].matches.add(file);
        });
      }
      for (const ev of r.evidence) {
        const m = /^(phrase|vendor):(\w+)$/.exec(ev.rule);
        if (!m) continue;
        const key = m[1] === 'phrase' ? 'rules' : 'vendor';
        // The first entry of that reason that matches the evidence text is the one that decided.
        const i = tables[key].findIndex((e) => e.reason === m[2] && e.pattern.test(ev.matched));
        if (i !== -1) uses[key][i].decides.add(file);
      }
    }
  }
  return uses;
}

/** Printable summary lines of an overfit report. */
export function overfitLines(o: OverfitReport): string[] {
  const one = (list: RuleUse[], k: 'matches' | 'decides'): RuleUse[] => list.filter((u) => u[k].size === 1);
  const unused = (list: RuleUse[]): number => list.filter((u) => u.matches.size === 0).length;
  const lines = [
    `phrase rules: ${o.rules.length}; match exactly one corpus file: ${one(o.rules, 'matches').length}; decide exactly one file: ${one(o.rules, 'decides').length}; match none: ${unused(o.rules)}`,
    `vendor entries: ${o.vendor.length}; match exactly one corpus file: ${one(o.vendor, 'matches').length}; decide exactly one file: ${one(o.vendor, 'decides').length}; match none: ${unused(o.vendor)}`,
  ];
  for (const u of [...one(o.rules, 'matches'), ...one(o.vendor, 'matches')]) lines.push(`  one-file: ${u.id} → ${[...u.matches][0]}`);
  return lines;
}

/**
 * Leave-one-family-out estimate. A rule or vendor entry whose matches all fall inside one family
 * was, for that family, fitted to the files it is scored on: had the family been held out, the
 * rule would not exist. So a family's "held-out" reason agreement counts every recipient that such
 * a family-local entry decided as a disagreement. It is a pessimistic bound (a more general rule
 * might still have caught some of them), cheap because it needs no re-parse.
 */
export interface FamilyEstimate {
  family: string;
  recipients: number;
  reasonOk: number;
  /** Correct reasons that a family-local rule or vendor entry decided. */
  localOk: number;
}

export function leaveOneFamilyOut(
  labels: Array<{ file: string; recipients: Array<{ recipient: string | null; reason: string }> }>,
  results: Map<string, Report>,
  familyOf: (file: string) => string,
): FamilyEstimate[] {
  const o = overfitReport(results);
  const local = new Map<string, string>();
  for (const u of [...o.rules.map((r) => ({ ...r, key: 'rules' as const })), ...o.vendor.map((r) => ({ ...r, key: 'vendor' as const }))]) {
    const fams = new Set([...u.matches, ...u.decides].map(familyOf));
    if (fams.size === 1) local.set(`${u.key}:${u.id}`, [...fams][0]);
  }
  const tables = { rules: ruleEntries(), vendor: vendorEntries() };
  const decidedLocally = (r: Report['recipients'][number], family: string): boolean =>
    r.evidence.some((ev) => {
      const m = /^(phrase|vendor):(\w+)$/.exec(ev.rule);
      if (!m) return false;
      const key = m[1] === 'phrase' ? 'rules' : 'vendor';
      const e = tables[key].find((x) => x.reason === m[2] && x.pattern.test(ev.matched));
      return e !== undefined && local.get(`${key}:${e.id}`) === family;
    });
  const out = new Map<string, FamilyEstimate>();
  for (const label of labels) {
    const family = familyOf(label.file);
    const est = out.get(family) ?? { family, recipients: 0, reasonOk: 0, localOk: 0 };
    out.set(family, est);
    const got = results.get(label.file)?.recipients ?? [];
    for (const e of label.recipients) {
      est.recipients++;
      const g = e.recipient === null && got.length === 1 ? got[0] : got.find((x) => (x.recipient ?? '').toLowerCase() === (e.recipient ?? '').toLowerCase());
      if (!g || g.reason !== e.reason) continue;
      est.reasonOk++;
      if (decidedLocally(g, family)) est.localOk++;
    }
  }
  return [...out.values()];
}
