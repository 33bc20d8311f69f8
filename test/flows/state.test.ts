import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { EventType, StatusEvent } from '../../src/core/events.js';
import { notificationState, type Flow, type NotificationFacts, type StartedStep } from '../../src/core/notification-state.js';

const T0 = Date.UTC(2026, 0, 1);
const t = (min: number) => new Date(T0 + min * 60_000);
const ev = (type: EventType, min: number, data?: Record<string, unknown>): StatusEvent => ({ type, occurredAt: t(min), data });
const step = (index: number, min: number, events: StatusEvent[]): StartedStep => ({ index, startedAt: t(min), events });
const H = 3_600_000;

const emailThenSmsOnBounce: Flow = { mode: 'cross', steps: [{ channel: 'email', next: { when: 'failed', bounce: 'hard' } }, { channel: 'sms' }] };
const emailThenSmsIfNotOpened: Flow = {
  mode: 'cross',
  steps: [{ channel: 'email', next: { when: 'no_status', statuses: ['opened', 'clicked'], within_ms: 48 * H } }, { channel: 'sms' }],
};
const reminder: Flow = { mode: 'cross', steps: [{ channel: 'email', next: { when: 'always', after_ms: 24 * H } }, { channel: 'sms' }] };
const multi: Flow = { mode: 'multi', channels: ['email', 'sms'] };

function facts(flow: Flow, steps: StartedStep[], nowMin: number, cancelledMin?: number): NotificationFacts {
  return { flow, createdAt: t(0), cancelledAt: cancelledMin === undefined ? null : t(cancelledMin), steps, now: t(nowMin) };
}

describe('notificationState: table of cases', () => {
  it('nothing started: pending, step 0 due now', () => {
    const s = notificationState(facts(emailThenSmsOnBounce, [], 0));
    expect(s).toMatchObject({ state: 'pending', start: [0], wakeAt: null, reached: null, stopped: null });
  });
  it('email in flight: in progress, nothing to start, no timer', () => {
    const s = notificationState(facts(emailThenSmsOnBounce, [step(0, 0, [ev('queued', 0), ev('sent', 1)])], 5));
    expect(s).toMatchObject({ state: 'in_progress', start: [], wakeAt: null });
  });
  it('hard bounce hands over to SMS at once', () => {
    const s = notificationState(facts(emailThenSmsOnBounce, [step(0, 0, [ev('queued', 0), ev('sent', 1), ev('bounced', 3, { bounce_class: 'hard' })])], 4));
    expect(s).toMatchObject({ state: 'in_progress', start: [1] });
    expect(s.steps[1].dueAt).toEqual(t(3));
    expect(s.steps[0].failedAt).toEqual(t(3));
  });
  it('a soft final bounce does not hand over when the condition is hard only: every channel tried, failed', () => {
    const s = notificationState(facts(emailThenSmsOnBounce, [step(0, 0, [ev('sent', 1), ev('bounced', 3, { bounce_class: 'soft' })])], 4));
    expect(s).toMatchObject({ state: 'failed', start: [], at: t(3) });
  });
  it('bounce any hands over on a soft bounce', () => {
    const flow: Flow = { mode: 'cross', steps: [{ channel: 'email', next: { when: 'failed', bounce: 'any' } }, { channel: 'sms' }] };
    expect(notificationState(facts(flow, [step(0, 0, [ev('sent', 1), ev('bounced', 3, { bounce_class: 'soft' })])], 4)).start).toEqual([1]);
  });
  it('rejected (suppressed) and erroneous hand over', () => {
    for (const type of ['rejected', 'erroneous'] as const) {
      expect(notificationState(facts(emailThenSmsOnBounce, [step(0, 0, [ev(type, 0)])], 0)).start).toEqual([1]);
    }
  });
  it('both channels failed: failed at the last failure', () => {
    const s = notificationState(
      facts(emailThenSmsOnBounce, [step(0, 0, [ev('bounced', 3, { bounce_class: 'hard' })]), step(1, 3, [ev('sent', 4), ev('bounced', 9, { bounce_class: 'hard' })])], 10),
    );
    expect(s).toMatchObject({ state: 'failed', at: t(9), start: [], wakeAt: null });
  });
  it('delivered email under a failure condition: reached by email', () => {
    const s = notificationState(facts(emailThenSmsOnBounce, [step(0, 0, [ev('sent', 1), ev('delivered', 2)])], 5));
    expect(s).toMatchObject({ state: 'reached', reached: { step: 0, channel: 'email', at: t(2) } });
  });
  it('async bounce after delivered: no longer reached, SMS follows', () => {
    const s = notificationState(facts(emailThenSmsOnBounce, [step(0, 0, [ev('sent', 1), ev('delivered', 2), ev('bounced', 30, { bounce_class: 'hard' })])], 31));
    expect(s).toMatchObject({ state: 'in_progress', start: [1], reached: null });
  });
  it('not opened within the delay: timer until the deadline, then SMS', () => {
    const inFlight = [step(0, 0, [ev('sent', 1), ev('delivered', 2)])];
    const before = notificationState(facts(emailThenSmsIfNotOpened, inFlight, 60));
    expect(before).toMatchObject({ state: 'in_progress', start: [], wakeAt: t(48 * 60) });
    const after = notificationState(facts(emailThenSmsIfNotOpened, inFlight, 48 * 60));
    expect(after).toMatchObject({ state: 'in_progress', start: [1] });
  });
  it('opened in time: reached, the SMS never starts', () => {
    const s = notificationState(facts(emailThenSmsIfNotOpened, [step(0, 0, [ev('sent', 1), ev('opened', 100)])], 49 * 60));
    expect(s).toMatchObject({ state: 'reached', start: [], wakeAt: null, reached: { step: 0, channel: 'email', at: t(100) } });
    expect(s.steps[1].dueAt).toBeNull();
  });
  it('a machine open does not count as opened', () => {
    const s = notificationState(facts(emailThenSmsIfNotOpened, [step(0, 0, [ev('sent', 1), ev('opened', 100, { human: false })])], 48 * 60));
    expect(s.start).toEqual([1]);
  });
  it('opened after the deadline: the SMS was due, reached by the email open', () => {
    const s = notificationState(facts(emailThenSmsIfNotOpened, [step(0, 0, [ev('sent', 1), ev('opened', 49 * 60)])], 50 * 60));
    expect(s.start).toEqual([1]);
  });
  it('not opened and SMS delivered: reached by SMS', () => {
    const s = notificationState(
      facts(emailThenSmsIfNotOpened, [step(0, 0, [ev('sent', 1), ev('delivered', 2)]), step(1, 48 * 60, [ev('sent', 48 * 60), ev('delivered', 48 * 60 + 1)])], 48 * 60 + 2),
    );
    expect(s).toMatchObject({ state: 'reached', reached: { step: 1, channel: 'sms', at: t(48 * 60 + 1) } });
  });
  it('not opened and SMS bounced: still reached by the delivered email', () => {
    const s = notificationState(
      facts(emailThenSmsIfNotOpened, [step(0, 0, [ev('sent', 1), ev('delivered', 2)]), step(1, 48 * 60, [ev('bounced', 48 * 60 + 1, { bounce_class: 'hard' })])], 48 * 60 + 2),
    );
    expect(s).toMatchObject({ state: 'reached', reached: { step: 0, channel: 'email', at: t(2) } });
  });
  it('reminder: always after the delay, even once reached', () => {
    const steps = [step(0, 0, [ev('sent', 1), ev('delivered', 2)])];
    expect(notificationState(facts(reminder, steps, 60))).toMatchObject({ state: 'reached', wakeAt: t(24 * 60), start: [] });
    expect(notificationState(facts(reminder, steps, 24 * 60)).start).toEqual([1]);
  });
  it('unsubscribe on the email stops every later step', () => {
    const s = notificationState(facts(reminder, [step(0, 0, [ev('sent', 1), ev('delivered', 2), ev('unsubscribed', 30)])], 24 * 60));
    expect(s).toMatchObject({ state: 'stopped', stopped: { reason: 'unsubscribed', step: 0, at: t(30) }, start: [], wakeAt: null });
    expect(s.reached).toMatchObject({ step: 0 });
  });
  it('complaint stops', () => {
    expect(notificationState(facts(reminder, [step(0, 0, [ev('sent', 1), ev('complained', 30)])], 40))).toMatchObject({ state: 'stopped', stopped: { reason: 'complained' } });
  });
  it('stop_on clicked: the goal met, state reached, no reminder', () => {
    const flow: Flow = { mode: 'cross', steps: [{ channel: 'email', next: { when: 'always', after_ms: 24 * H }, stop_on: ['clicked'] }, { channel: 'sms' }] };
    const s = notificationState(facts(flow, [step(0, 0, [ev('sent', 1), ev('clicked', 30)])], 25 * 60));
    expect(s).toMatchObject({ state: 'reached', start: [], wakeAt: null, stopped: { reason: 'clicked' }, reached: { at: t(30) } });
  });
  it('cancelled: stopped, nothing more starts', () => {
    const s = notificationState(facts(reminder, [step(0, 0, [ev('sent', 1)])], 25 * 60, 10));
    expect(s).toMatchObject({ state: 'stopped', stopped: { reason: 'cancelled', step: null, at: t(10) }, start: [] });
  });
  it('cancelled before anything started', () => {
    expect(notificationState(facts(multi, [], 0, 0))).toMatchObject({ state: 'stopped', start: [] });
  });
  it('multi: both at once, reached on the first delivered', () => {
    expect(notificationState(facts(multi, [], 0)).start).toEqual([0, 1]);
    const s = notificationState(facts(multi, [step(0, 0, [ev('sent', 1), ev('delivered', 5)]), step(1, 0, [ev('sent', 1), ev('delivered', 2)])], 6));
    expect(s).toMatchObject({ state: 'reached', reached: { step: 1, channel: 'sms', at: t(2) } });
  });
  it('multi staggered: the second channel waits', () => {
    const flow: Flow = { mode: 'multi', channels: ['email', 'sms'], stagger_ms: 10 * 60_000 };
    const s = notificationState(facts(flow, [step(0, 0, [ev('sent', 1)])], 5));
    expect(s).toMatchObject({ start: [], wakeAt: t(10) });
    expect(notificationState(facts(flow, [step(0, 0, [ev('sent', 1)])], 10)).start).toEqual([1]);
  });
  it('multi: all failed is failed; one failed and one in flight is in progress', () => {
    const bounced = [ev('bounced', 3, { bounce_class: 'hard' })];
    expect(notificationState(facts(multi, [step(0, 0, bounced), step(1, 0, [ev('rejected', 0)])], 5)).state).toBe('failed');
    expect(notificationState(facts(multi, [step(0, 0, bounced), step(1, 0, [ev('sent', 1)])], 5)).state).toBe('in_progress');
  });
});

// ---------- properties ----------
const eventTypes: EventType[] = ['queued', 'sent', 'deferred', 'delivered', 'bounced', 'opened', 'clicked', 'erroneous', 'rejected', 'unsubscribed', 'complained'];
const arbEvent = fc.record({
  type: fc.constantFrom(...eventTypes),
  min: fc.integer({ min: 0, max: 5000 }),
  hard: fc.boolean(),
  human: fc.boolean(),
}).map((e) => ev(e.type, e.min, e.type === 'bounced' ? { bounce_class: e.hard ? 'hard' : 'soft' } : e.type === 'opened' || e.type === 'clicked' ? { human: e.human } : undefined));
const arbAdvance = fc.oneof(
  fc.record({ when: fc.constant('failed' as const), bounce: fc.constantFrom('hard' as const, 'any' as const) }),
  fc.record({ when: fc.constant('no_status' as const), statuses: fc.subarray(['delivered', 'opened', 'clicked'] as const, { minLength: 1 }), within_ms: fc.integer({ min: 0, max: 3000 }).map((m) => m * 60_000) }),
  fc.record({ when: fc.constant('always' as const), after_ms: fc.integer({ min: 0, max: 3000 }).map((m) => m * 60_000) }),
);
const arbFlow: fc.Arbitrary<Flow> = fc.oneof(
  fc.record({
    mode: fc.constant('multi' as const),
    channels: fc.array(fc.constantFrom('email' as const, 'sms' as const), { minLength: 1, maxLength: 3 }),
    stagger_ms: fc.integer({ min: 0, max: 600 }).map((m) => m * 60_000),
    stop_on: fc.subarray(['clicked', 'opened'] as const),
  }),
  fc.record({
    mode: fc.constant('cross' as const),
    steps: fc.array(fc.record({ channel: fc.constantFrom('email' as const, 'sms' as const), next: arbAdvance, stop_on: fc.subarray(['clicked'] as const) }), { minLength: 1, maxLength: 4 }),
  }),
);

/**
 * A run of the engine as the flow would see it: start what is due, with random events after each
 * start, then move time forward. Gives facts that can happen (a step only exists once due).
 */
const arbFacts = fc.record({ flow: arbFlow, seeds: fc.array(fc.array(arbEvent, { maxLength: 5 }), { minLength: 4, maxLength: 4 }), now: fc.integer({ min: 0, max: 10_000 }), cancel: fc.option(fc.integer({ min: 0, max: 10_000 })) })
  .map(({ flow, seeds, now, cancel }) => {
    const steps: StartedStep[] = [];
    let f: NotificationFacts = { flow, createdAt: t(0), cancelledAt: cancel === null ? null : t(cancel), steps, now: t(now) };
    for (let round = 0; round < 8; round++) {
      const s = notificationState(f);
      if (s.start.length === 0) break;
      for (const i of s.start) {
        const due = s.steps[i].dueAt!;
        // Events of a started step happen after its start.
        const events = (seeds[i] ?? []).map((e) => ({ ...e, occurredAt: new Date(due.getTime() + (e.occurredAt.getTime() - T0)) })).filter((e) => e.occurredAt <= f.now);
        steps.push({ index: i, startedAt: due, events });
      }
      f = { ...f, steps: [...steps] };
    }
    return f;
  });

describe('notificationState: properties', () => {
  it('deterministic and independent of event and step order', () => {
    fc.assert(
      fc.property(arbFacts, fc.integer(), (f, seed) => {
        const shuffle = <T>(xs: readonly T[]) => [...xs].sort((a, b) => ((JSON.stringify(a).length * 31 + seed) % 7) - ((JSON.stringify(b).length * 17 + seed) % 5));
        const g = { ...f, steps: shuffle(f.steps).map((s) => ({ ...s, events: shuffle(s.events) })) };
        expect(notificationState(g)).toEqual(notificationState(f));
      }),
    );
  });
  it('never asks to start a step twice, and never once stopped', () => {
    fc.assert(
      fc.property(arbFacts, (f) => {
        const s = notificationState(f);
        for (const i of s.start) expect(f.steps.some((x) => x.index === i)).toBe(false);
        expect(new Set(s.start).size).toBe(s.start.length);
        if (s.stopped) expect([s.start, s.wakeAt]).toEqual([[], null]);
      }),
    );
  });
  it('a cross step starts only after the one before it', () => {
    fc.assert(
      fc.property(arbFacts, (f) => {
        if (f.flow.mode !== 'cross') return;
        const s = notificationState(f);
        for (const i of s.start) if (i > 0) expect(f.steps.some((x) => x.index === i - 1)).toBe(true);
      }),
    );
  });
  it('a timer is in the future, and when it comes the state asks for a step', () => {
    fc.assert(
      fc.property(arbFacts, (f) => {
        const s = notificationState(f);
        if (s.wakeAt === null) return;
        expect(s.wakeAt.getTime()).toBeGreaterThan(f.now.getTime());
        const later = notificationState({ ...f, now: s.wakeAt });
        expect(later.start.length + (later.stopped ? 1 : 0)).toBeGreaterThan(0);
      }),
    );
  });
  it('time only adds due steps (same facts, later now)', () => {
    fc.assert(
      fc.property(arbFacts, fc.integer({ min: 0, max: 5000 }), (f, dt) => {
        const a = notificationState(f);
        const b = notificationState({ ...f, now: new Date(f.now.getTime() + dt * 60_000) });
        for (const i of a.start) expect(b.start).toContain(i);
      }),
    );
  });
  it('failed means every started step failed and nothing is left; stopped comes from a stop fact', () => {
    fc.assert(
      fc.property(arbFacts, (f) => {
        const s = notificationState(f);
        if (s.state === 'failed') {
          expect(s.steps.filter((x) => x.startedAt).every((x) => x.failedAt !== null)).toBe(true);
          expect([s.start, s.wakeAt]).toEqual([[], null]);
        }
        if (s.state === 'stopped') expect(['cancelled', 'unsubscribed', 'complained']).toContain(s.stopped?.reason);
        if (s.state === 'reached') expect(s.reached).not.toBeNull();
        if (s.state === 'pending') expect(f.steps).toHaveLength(0);
      }),
    );
  });
  it('an unsubscribe or complaint on any started step stops the flow', () => {
    fc.assert(
      fc.property(arbFacts, fc.constantFrom('unsubscribed' as const, 'complained' as const), (f, type) => {
        if (f.steps.length === 0) return;
        const [first, ...rest] = f.steps;
        const g = { ...f, steps: [{ ...first, events: [...first.events, { type, occurredAt: first.startedAt }] }, ...rest] };
        const s = notificationState(g);
        expect(s.state).toBe('stopped');
        expect(s.start).toEqual([]);
      }),
    );
  });
});
