import type { StatusEvent } from './events.js';

/** The 8 statuses of the 4 stages, plus the in-between states (pending_approval before queued). */
export const STATUSES = [
  'pending_approval',
  'queued',
  'erroneous',
  'rejected',
  'sent',
  'deferred',
  'delivered',
  'bounced',
  'opened',
  'clicked',
  'complained',
  'unsubscribed',
] as const;
export type Status = (typeof STATUSES)[number];

/** Stage 0 means "not yet resolved" (queued, or sent/deferred awaiting the delivery outcome). */
export type Stage = 0 | 1 | 2 | 3 | 4;

export const STAGE_OF: Record<Status, Stage> = {
  pending_approval: 0,
  queued: 0,
  sent: 0,
  deferred: 0,
  erroneous: 1,
  rejected: 1,
  delivered: 2,
  bounced: 2,
  opened: 3,
  clicked: 3,
  complained: 4,
  unsubscribed: 4,
};

export interface DerivedStatus {
  status: Status;
  stage: Stage;
  /** occurred_at of the event that decided the status. */
  since: Date | null;
}

/**
 * An engagement event counts for the status only when it is likely human: machine opens
 * (privacy proxies, scanners) are recorded with `data.human === false` and stay visible in the
 * timeline without moving the status.
 */
export function countsAsEngagement(e: StatusEvent): boolean {
  return e.data?.human !== false;
}

// Within each rule the first type listed wins, whatever the arrival order; that is what makes
// the function order-independent. Pairs whose order in time matters (sent vs deferred) are
// decided by occurred_at with the list order as tie-break.
const TERMINAL_SUBMISSION = ['erroneous', 'rejected'] as const;
const FEEDBACK = ['complained', 'unsubscribed'] as const;
const ENGAGEMENT = ['clicked', 'opened'] as const;
const DELIVERY = ['bounced', 'delivered'] as const;
// A release is a `queued` after `pending_approval`; a refusal is `rejected` (final, like a suppression).
const PENDING = ['deferred', 'sent', 'queued', 'pending_approval'] as const;

/**
 * A `delivered` the no-bounce timer inferred (no report said so) is a guess: a delay notice
 * dated after it proves the relay is still trying, so the guess no longer stands.
 */
export function isInferredDelivery(e: StatusEvent): boolean {
  const basis = e.data?.basis;
  return e.type === 'delivered' && typeof basis === 'string' && basis.startsWith('no-bounce');
}

/**
 * Derives a message's status from all of its events, in any order. Rules (DESIGN.md):
 * nothing-sent outcomes are final; feedback > engagement > delivery; a bounce beats delivered
 * (asynchronous bounce); clicked beats opened; a later deferral after `sent` shows `deferred`
 * and a later `sent` after a deferral shows `sent`; a delivery only inferred from the no-bounce
 * window gives way to a later deferral.
 *
 * @example deriveStatus([{type:'sent',...},{type:'delivered',...},{type:'bounced',...}]).status === 'bounced'
 */
export function deriveStatus(events: readonly StatusEvent[]): DerivedStatus {
  const pick = (types: readonly Status[], filter: (e: StatusEvent) => boolean = () => true): DerivedStatus | null => {
    for (const t of types) {
      let first: Date | null = null;
      for (const e of events) {
        if (e.type !== t || !filter(e)) continue;
        if (first === null || e.occurredAt < first) first = e.occurredAt;
      }
      if (first) return { status: t, stage: STAGE_OF[t], since: first };
    }
    return null;
  };

  const decided =
    pick(TERMINAL_SUBMISSION) ??
    pick(FEEDBACK) ??
    pick(ENGAGEMENT, countsAsEngagement) ??
    pick(DELIVERY, (e) => !isInferredDelivery(e) || !deferredAfter(e)) ??
    latestPending(events);
  return decided ?? { status: 'queued', stage: 0, since: null };

  function deferredAfter(e: StatusEvent): boolean {
    return events.some((d) => d.type === 'deferred' && d.occurredAt > e.occurredAt);
  }
}

function latestPending(events: readonly StatusEvent[]): DerivedStatus | null {
  let best: StatusEvent | null = null;
  const rank = (e: StatusEvent) => (PENDING as readonly string[]).indexOf(e.type);
  for (const e of events) {
    if (rank(e) < 0) continue;
    if (
      best === null ||
      e.occurredAt > best.occurredAt ||
      (e.occurredAt.getTime() === best.occurredAt.getTime() && rank(e) < rank(best))
    ) {
      best = e;
    }
  }
  if (!best) return null;
  const status = best.type as Status;
  return { status, stage: STAGE_OF[status], since: best.occurredAt };
}
