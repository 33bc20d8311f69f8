import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { EventType, StatusEvent } from '../../src/core/events.js';
import { deriveStatus, STAGE_OF, type Status } from '../../src/core/status.js';

const t = (min: number) => new Date(Date.UTC(2026, 0, 1, 0, min));
const ev = (type: EventType, min: number, data?: Record<string, unknown>): StatusEvent => ({ type, occurredAt: t(min), data });

describe('deriveStatus: table of cases', () => {
  const cases: Array<[string, StatusEvent[], Status]> = [
    ['no events', [], 'queued'],
    ['queued only', [ev('queued', 0)], 'queued'],
    ['invalid address', [ev('erroneous', 0)], 'erroneous'],
    ['suppressed', [ev('rejected', 0)], 'rejected'],
    ['sent', [ev('queued', 0), ev('sent', 1)], 'sent'],
    ['delivered', [ev('queued', 0), ev('sent', 1), ev('delivered', 15)], 'delivered'],
    ['async bounce after delivered', [ev('sent', 1), ev('delivered', 15), ev('bounced', 60, { bounce_class: 'hard' })], 'bounced'],
    ['delivered after a bounce still bounced', [ev('sent', 1), ev('bounced', 5), ev('delivered', 15)], 'bounced'],
    ['soft bounce never ends delivery', [ev('sent', 1), ev('deferred', 2)], 'deferred'],
    ['resent after a deferral', [ev('queued', 0), ev('deferred', 1), ev('sent', 5)], 'sent'],
    ['deferred then delivered', [ev('sent', 1), ev('deferred', 2), ev('delivered', 20)], 'delivered'],
    ['opened', [ev('sent', 1), ev('delivered', 15), ev('opened', 20)], 'opened'],
    ['opened implies delivery even without a delivered event', [ev('sent', 1), ev('opened', 2)], 'opened'],
    ['clicked beats opened', [ev('sent', 1), ev('clicked', 3), ev('opened', 4)], 'clicked'],
    ['machine open does not count', [ev('sent', 1), ev('delivered', 15), ev('opened', 16, { human: false })], 'delivered'],
    ['human open after machine open', [ev('sent', 1), ev('opened', 2, { human: false }), ev('opened', 30, { human: true })], 'opened'],
    ['complaint after open', [ev('sent', 1), ev('opened', 2), ev('complained', 3)], 'complained'],
    ['unsubscribed after click', [ev('sent', 1), ev('clicked', 2), ev('unsubscribed', 3)], 'unsubscribed'],
    ['complaint beats unsubscribe', [ev('sent', 1), ev('unsubscribed', 2), ev('complained', 3)], 'complained'],
    ['bounce after open: engagement wins', [ev('sent', 1), ev('opened', 2), ev('bounced', 3)], 'opened'],
    ['auto-reply changes nothing', [ev('sent', 1), ev('auto_replied', 2)], 'sent'],
    ['erroneous is final', [ev('erroneous', 0), ev('sent', 1)], 'erroneous'],
    ['a delay notice after the no-bounce window: the relay is still trying', [ev('sent', 1), ev('delivered', 15, { basis: 'no-bounce-window' }), ev('deferred', 60)], 'deferred'],
    ['the window passed again after that delay', [ev('sent', 1), ev('delivered', 15, { basis: 'no-bounce-window' }), ev('deferred', 60), ev('delivered', 75, { basis: 'no-bounce-after-delay' })], 'delivered'],
    ['a success DSN is not undone by a later delay notice', [ev('sent', 1), ev('delivered', 15, { report_id: 7 }), ev('deferred', 60)], 'delivered'],
    ['waiting for a release', [ev('pending_approval', 0)], 'pending_approval'],
    ['released', [ev('pending_approval', 0), ev('queued', 5)], 'queued'],
    ['released and sent', [ev('pending_approval', 0), ev('queued', 5), ev('sent', 6)], 'sent'],
    ['refused by the approver', [ev('pending_approval', 0), ev('rejected', 5, { approval: { decision: 'reject' } })], 'rejected'],
    ['a delay notice before the inferred delivery changes nothing', [ev('sent', 1), ev('deferred', 5), ev('delivered', 20, { basis: 'no-bounce-after-delay' })], 'delivered'],
  ];
  it.each(cases)('%s', (_name, events, expected) => {
    const d = deriveStatus(events);
    expect(d.status).toBe(expected);
    expect(d.stage).toBe(STAGE_OF[expected]);
  });

  it('reports when the deciding fact happened (first occurrence)', () => {
    const d = deriveStatus([ev('opened', 30), ev('sent', 1), ev('opened', 20)]);
    expect(d.since).toEqual(t(20));
  });
});

const types: EventType[] = ['queued', 'sent', 'deferred', 'delivered', 'bounced', 'opened', 'clicked', 'complained', 'unsubscribed', 'auto_replied', 'erroneous', 'rejected'];
const arbEvent = fc.record({
  type: fc.constantFrom(...types),
  occurredAt: fc.integer({ min: 0, max: 1000 }).map(t),
  data: fc.option(fc.record({ human: fc.boolean() }), { nil: undefined }),
});
const arbEvents = fc.array(arbEvent, { maxLength: 12 });

describe('deriveStatus: properties', () => {
  it('does not depend on arrival order', () => {
    fc.assert(
      fc.property(arbEvents, fc.func(fc.integer()), (events, f) => {
        const shuffled = [...events].sort((a, b) => f(a.type + a.occurredAt.getTime()) - f(b.type + b.occurredAt.getTime()));
        expect(deriveStatus(shuffled)).toEqual(deriveStatus(events));
        expect(deriveStatus([...events].reverse())).toEqual(deriveStatus(events));
      }),
    );
  });

  it('duplicates change nothing', () => {
    fc.assert(
      fc.property(arbEvents, fc.nat(), (events, i) => {
        if (events.length === 0) return;
        const dup = [...events, events[i % events.length]];
        expect(deriveStatus(dup)).toEqual(deriveStatus(events));
      }),
    );
  });

  it('a soft bounce (deferred) never moves a message past the delivery stage or ends it', () => {
    fc.assert(
      fc.property(arbEvents, fc.integer({ min: 0, max: 1000 }), (events, at) => {
        const before = deriveStatus(events);
        const after = deriveStatus([...events, ev('deferred', at)]);
        if (before.stage > 0) expect(after).toEqual(before);
        else expect(['queued', 'sent', 'deferred']).toContain(after.status);
      }),
    );
  });

  it('feedback always wins over engagement and delivery', () => {
    fc.assert(
      fc.property(arbEvents, fc.integer({ min: 0, max: 1000 }), (events, at) => {
        const d = deriveStatus([...events, ev('complained', at)]);
        if (!events.some((e) => e.type === 'erroneous' || e.type === 'rejected')) expect(d.status).toBe('complained');
      }),
    );
  });

  it('a hard bounce turns any delivery-stage status to bounced', () => {
    fc.assert(
      fc.property(arbEvents, fc.integer({ min: 0, max: 1000 }), (events, at) => {
        const before = deriveStatus(events);
        const after = deriveStatus([...events, ev('bounced', at, { bounce_class: 'hard' })]);
        if (before.stage === 0 || before.stage === 2) expect(after.status).toBe('bounced');
      }),
    );
  });
});
