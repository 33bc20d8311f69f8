/** Life of a template version. Only `draft` is editable; every other state is immutable content. */
export const VERSION_STATES = ['draft', 'pending', 'approved', 'active', 'retired'] as const;
export type VersionState = (typeof VERSION_STATES)[number];

/** One approval step: who may decide it (any listed actor, or anyone holding the role). */
export interface ApprovalStep {
  role?: string;
  users?: string[];
}

/** 0 steps: submitting approves at once; N steps are decided in order. */
export interface ApprovalPolicy {
  steps: ApprovalStep[];
}

export interface Decision {
  step: number;
  actor: string;
  decision: 'approve' | 'reject';
}

export type Action = 'submit' | 'approve' | 'reject' | 'activate' | 'retire' | 'edit';

/** Which state an action may start from. `activate` from draft only when approval is not required. */
const FROM: Record<Action, readonly VersionState[]> = {
  edit: ['draft'],
  submit: ['draft'],
  approve: ['pending'],
  reject: ['pending'],
  activate: ['approved', 'retired'],
  retire: ['active', 'approved'],
};

export type Verdict = { ok: true } | { ok: false; reason: string };

/** Whether `action` may be applied to a version in `state`. */
export function allowed(action: Action, state: VersionState, requireApproved: boolean): Verdict {
  const from = action === 'activate' && !requireApproved ? [...FROM.activate, 'draft'] : FROM[action];
  return from.includes(state) ? { ok: true } : { ok: false, reason: `cannot ${action} a ${state} version` };
}

/** The step a pending version waits on: the number of approvals recorded since its submission. */
export function currentStep(decisions: readonly Decision[]): number {
  return decisions.filter((d) => d.decision === 'approve').length;
}

/**
 * Whether `actor` may decide the current step. An author (whoever created or edited the
 * version) never may (whatever the policy says),
 * nor may one person approve two steps of the same version: N steps means N people.
 *
 * @example mayDecide({steps:[{role:'legal'}]}, [], 'key:b', ['legal'], ['key:a']) // { ok: true }
 */
export function mayDecide(policy: ApprovalPolicy, decisions: readonly Decision[], actor: string, actorRoles: readonly string[], authors: readonly string[]): Verdict {
  if (authors.includes(actor)) return { ok: false, reason: 'the author of a version cannot approve or reject it' };
  const step = policy.steps[currentStep(decisions)];
  if (!step) return { ok: false, reason: 'no approval step is waiting' };
  if (decisions.some((d) => d.actor === actor && d.decision === 'approve')) return { ok: false, reason: 'already approved an earlier step of this version' };
  const named = step.users?.includes(actor) ?? false;
  const byRole = step.role !== undefined && actorRoles.includes(step.role);
  const open = step.users === undefined && step.role === undefined;
  return named || byRole || open ? { ok: true } : { ok: false, reason: `step ${currentStep(decisions) + 1} is for ${describeStep(step)}` };
}

/** After an approval: is the version approved (every step decided)? */
export function fullyApproved(policy: ApprovalPolicy, decisions: readonly Decision[]): boolean {
  return currentStep(decisions) >= policy.steps.length;
}

export function describeStep(step: ApprovalStep): string {
  const parts = [...(step.role ? [`role ${step.role}`] : []), ...(step.users?.length ? [`users ${step.users.join(', ')}`] : [])];
  return parts.length ? parts.join(' or ') : 'anyone but the author';
}

/** Tenants without a policy of their own: one step, anyone but the author. */
export const DEFAULT_POLICY: ApprovalPolicy = { steps: [{}] };
