import type { Channel, StatusEvent } from './events.js';
import { countsAsEngagement, deriveStatus, type Status } from './status.js';

/** Statuses that mean the message reached the person. */
export const REACH_STATUSES = ['delivered', 'opened', 'clicked'] as const;
export type ReachStatus = (typeof REACH_STATUSES)[number];
/** Statuses a flow may stop on; unsubscribed and complained always stop it. */
export const STOP_STATUSES = ['delivered', 'opened', 'clicked', 'unsubscribed', 'complained'] as const;
export type StopStatus = (typeof STOP_STATUSES)[number];
const ALWAYS_STOP: readonly StopStatus[] = ['unsubscribed', 'complained'];
const FAILURES: readonly Status[] = ['erroneous', 'rejected', 'bounced'];

/**
 * How a cross-channel step hands over to the next one. A failed message (erroneous, rejected,
 * bounced) always hands over at once, whatever the condition, unless `failed.bounce` is `hard`
 * and the bounce was soft.
 */
export type Advance =
  | { when: 'failed'; bounce?: 'hard' | 'any' }
  | { when: 'no_status'; statuses: readonly ReachStatus[]; within_ms: number }
  | { when: 'always'; after_ms: number };

export interface CrossStep {
  channel: Channel;
  /** How to move to the following step (ignored on the last step). Default: on failure. */
  next?: Advance;
  /** Statuses of this step's message that end the flow (besides unsubscribed, complained). */
  stop_on?: readonly StopStatus[];
}

export type Flow =
  | { mode: 'multi'; channels: readonly Channel[]; stagger_ms?: number; stop_on?: readonly StopStatus[] }
  | { mode: 'cross'; steps: readonly CrossStep[] };

export interface StartedStep {
  index: number;
  startedAt: Date;
  /** Every event of the step's message, in any order. */
  events: readonly StatusEvent[];
}

export interface NotificationFacts {
  flow: Flow;
  createdAt: Date;
  cancelledAt: Date | null;
  /** The steps whose message exists. */
  steps: readonly StartedStep[];
  now: Date;
}

export type NotificationStateName = 'pending' | 'in_progress' | 'reached' | 'failed' | 'stopped';

export interface StepView {
  index: number;
  channel: Channel;
  /** When the step is (or was) due; null when it will never start. */
  dueAt: Date | null;
  startedAt: Date | null;
  status: Status | null;
  failedAt: Date | null;
  reachedAt: Date | null;
}

export interface NotificationState {
  state: NotificationStateName;
  /** When the state was entered (null while pending or in progress). */
  at: Date | null;
  reached: { step: number; channel: Channel; at: Date } | null;
  stopped: { reason: 'cancelled' | StopStatus; step: number | null; at: Date } | null;
  /** Steps due now and not started: the engine starts them. */
  start: number[];
  /** The next time the state can change without a new status event; null when none. */
  wakeAt: Date | null;
  steps: StepView[];
}

/** The channels of a flow, by step index. */
export function flowChannels(flow: Flow): Channel[] {
  return flow.mode === 'multi' ? [...flow.channels] : flow.steps.map((s) => s.channel);
}

interface Observed {
  status: Status;
  failedAt: Date | null;
  hardFailure: boolean;
  /** Earliest event per type that counts (machine opens and clicks do not). */
  first: Map<string, Date>;
}

function observe(events: readonly StatusEvent[]): Observed {
  const d = deriveStatus(events);
  const first = new Map<string, Date>();
  for (const e of events) {
    if ((e.type === 'opened' || e.type === 'clicked') && !countsAsEngagement(e)) continue;
    const seen = first.get(e.type);
    if (!seen || e.occurredAt < seen) first.set(e.type, e.occurredAt);
  }
  const failed = FAILURES.includes(d.status);
  const hard = d.status !== 'bounced' || events.some((e) => e.type === 'bounced' && e.data?.bounce_class === 'hard');
  return { status: d.status, failedAt: failed ? (d.since ?? null) : null, hardFailure: failed && hard, first };
}

function earliest(o: Observed, types: readonly string[]): Date | null {
  let best: Date | null = null;
  for (const t of types) {
    const at = o.first.get(t);
    if (at && (best === null || at < best)) best = at;
  }
  return best;
}

const minDate = (a: Date | null, b: Date | null) => (a === null ? b : b === null ? a : a < b ? a : b);
const plus = (d: Date, ms: number) => new Date(d.getTime() + ms);

/**
 * The state of a notification and what to do next, from its flow, its steps' message events and
 * the time. Deterministic: the engine, the API and any rebuild get the same answer from the same
 * facts, so a transition decided twice does the same thing twice (nothing, the second time).
 *
 * @example a cross flow email→sms whose email bounced at 10:00 gives `{ state: 'in_progress', start: [1] }`
 */
export function notificationState(f: NotificationFacts): NotificationState {
  const channels = flowChannels(f.flow);
  const started = new Map(f.steps.map((s) => [s.index, s]));
  const observed = new Map(f.steps.map((s) => [s.index, observe(s.events)]));
  const reachSet = (i: number): readonly ReachStatus[] => {
    if (f.flow.mode === 'multi') return REACH_STATUSES;
    const next = f.flow.steps[i]?.next;
    return i < channels.length - 1 && next?.when === 'no_status' ? next.statuses : REACH_STATUSES;
  };
  const stopSet = (i: number): readonly StopStatus[] =>
    [...ALWAYS_STOP, ...((f.flow.mode === 'multi' ? f.flow.stop_on : f.flow.steps[i]?.stop_on) ?? [])];
  const reachedAt = (i: number): Date | null => {
    const o = observed.get(i);
    return o && o.failedAt === null ? earliest(o, reachSet(i)) : null;
  };

  // The earliest stop: a cancellation or a stop status on any started step.
  let stopped: NotificationState['stopped'] = f.cancelledAt ? { reason: 'cancelled', step: null, at: f.cancelledAt } : null;
  for (const s of f.steps) {
    const o = observed.get(s.index)!;
    for (const t of stopSet(s.index)) {
      const at = o.first.get(t);
      if (at && (stopped === null || at < stopped.at)) stopped = { reason: t, step: s.index, at };
    }
  }
  const halted = stopped !== null;

  // When each step is due, in order; a cross step depends on the one before it.
  const dueAt: Array<Date | null> = channels.map(() => null);
  const start: number[] = [];
  let wakeAt: Date | null = null;
  const consider = (i: number, at: Date | null) => {
    dueAt[i] = at;
    if (at === null || started.has(i) || halted) return;
    if (at <= f.now) start.push(i);
    else wakeAt = minDate(wakeAt, at);
  };
  if (f.flow.mode === 'multi') {
    const stagger = f.flow.stagger_ms ?? 0;
    channels.forEach((_c, i) => consider(i, plus(f.createdAt, i * stagger)));
  } else {
    consider(0, f.createdAt);
    for (let i = 1; i < channels.length; i++) {
      const prev = started.get(i - 1);
      if (!prev) break;
      consider(i, handOver(f.flow.steps[i - 1]?.next ?? { when: 'failed' }, prev.startedAt, observed.get(i - 1)!, reachedAt(i - 1)));
    }
  }

  const steps: StepView[] = channels.map((channel, index) => {
    const s = started.get(index);
    const o = observed.get(index);
    return {
      index,
      channel,
      dueAt: dueAt[index],
      startedAt: s?.startedAt ?? null,
      status: o?.status ?? null,
      failedAt: o?.failedAt ?? null,
      reachedAt: reachedAt(index),
    };
  });

  let reached: NotificationState['reached'] = null;
  const offer = (step: number, at: Date | null) => {
    if (at && (reached === null || at < reached.at)) reached = { step, channel: channels[step], at };
  };
  for (const s of steps) offer(s.index, s.reachedAt);
  // A stop on a reaching status (e.g. clicked) is the goal met.
  if (stopped && stopped.step !== null && (REACH_STATUSES as readonly string[]).includes(stopped.reason)) offer(stopped.step, stopped.at);
  const nothingLeft = start.length === 0 && wakeAt === null;
  if (reached === null && nothingLeft) {
    // Every step has run and none met its own goal: a message that got through still reached the person.
    for (const s of f.steps) if (observed.get(s.index)!.failedAt === null) offer(s.index, earliest(observed.get(s.index)!, REACH_STATUSES));
  }

  const base = { reached, stopped, start: halted ? [] : start, wakeAt: halted ? null : wakeAt, steps };
  if (stopped && !(REACH_STATUSES as readonly string[]).includes(stopped.reason)) return { ...base, state: 'stopped', at: stopped.at };
  if (reached) return { ...base, state: 'reached', at: (reached as { at: Date }).at };
  const allFailed = f.steps.length > 0 && f.steps.every((s) => observed.get(s.index)!.failedAt !== null);
  if (nothingLeft && allFailed) {
    const at = f.steps.reduce<Date | null>((m, s) => (m && m > observed.get(s.index)!.failedAt! ? m : observed.get(s.index)!.failedAt), null);
    return { ...base, state: 'failed', at };
  }
  return { ...base, state: f.steps.length > 0 ? 'in_progress' : 'pending', at: null };
}

/** When the step after `prev` is due under `next`; null for never (or not yet known). */
function handOver(next: Advance, startedAt: Date, o: Observed, reached: Date | null): Date | null {
  const failed = next.when === 'failed' && next.bounce === 'hard' ? (o.hardFailure ? o.failedAt : null) : o.failedAt;
  if (next.when === 'failed') return failed;
  if (next.when === 'always') return minDate(failed, plus(startedAt, next.after_ms));
  const deadline = plus(startedAt, next.within_ms);
  if (reached && reached <= deadline) return null;
  return minDate(failed, deadline);
}
