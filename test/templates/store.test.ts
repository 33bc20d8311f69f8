import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureTenant } from '../../src/db/tenants.js';
import { auditOf, createTemplate, decide, decisionsOf, deleteDraft, putSettings, saveDraft, setRoles, templateByKey, versionForSend, versionsOf, waitingFor } from '../../src/templates/store.js';
import { dialect, testApp, type TestApp } from '../support/app.js';

const content = (subject = 'Hello {{ name }}') => ({ subject, text: 'Dear {{ name }}, {% if rate %}your rate is {{ rate }}%{% endif %}' });

describe(`template store on ${dialect}`, () => {
  let t: TestApp;
  let tenant: string;
  beforeAll(async () => {
    t = await testApp();
    tenant = (await ensureTenant(t.app.database.db, 'acme')).id;
  });
  afterAll(() => t.close());

  it('draft → pending → approved → active; the author can never approve; editing an approved version makes a new one', async () => {
    const app = t.app;
    const c = await createTemplate(app, tenant, 'key:author', { key: 'welcome', name: 'Welcome', channel: 'email', content: content() });
    expect(c.ok).toBe(true);
    expect(c.ok && c.version).toMatchObject({ version: 1, state: 'draft', variables: [{ name: 'name', type: 'text', required: true }, { name: 'rate', type: 'text', required: true }] });
    expect(await createTemplate(app, tenant, 'key:author', { key: 'welcome', name: 'x', channel: 'email', content: content() })).toMatchObject({ ok: false, status: 409 });

    // A draft is edited in place.
    const edited = await saveDraft(app, tenant, 'key:author', 'welcome', content('Hi {{ name }}'));
    expect(edited).toMatchObject({ ok: true, created: false, version: { version: 1, subject: 'Hi {{ name }}' } });

    expect(await decide(app, tenant, 'key:author', 'welcome', 1, 'approve')).toMatchObject({ ok: false, status: 409 });
    expect(await decide(app, tenant, 'key:author', 'welcome', 1, 'submit')).toMatchObject({ ok: true, version: { state: 'pending' } });
    // Immutable once submitted: saving makes version 2.
    const author = await decide(app, tenant, 'key:author', 'welcome', 1, 'approve');
    expect(author).toMatchObject({ ok: false, status: 403, message: 'the author of a version cannot approve or reject it' });
    expect(await waitingFor(app.database.db, tenant, 'key:author')).toEqual([]);
    expect(await waitingFor(app.database.db, tenant, 'key:reviewer')).toMatchObject([{ key: 'welcome', version: 1, step: 1 }]);
    expect(await decide(app, tenant, 'key:reviewer', 'welcome', 1, 'approve', 'fine')).toMatchObject({ ok: true, version: { state: 'approved' } });
    expect(await versionForSend(app.database.db, tenant, { key: 'welcome' })).toMatchObject({ ok: false, status: 400, field: 'template.key' });
    expect(await decide(app, tenant, 'key:reviewer', 'welcome', 1, 'activate')).toMatchObject({ ok: true, version: { state: 'active' } });
    expect(await versionForSend(app.database.db, tenant, { key: 'welcome' })).toMatchObject({ ok: true, version: { version: 1 } });

    const v2 = await saveDraft(app, tenant, 'key:editor', 'welcome', content('Welcome {{ name }}'));
    expect(v2).toMatchObject({ ok: true, created: true, version: { version: 2, state: 'draft' } });
    const tpl = (await templateByKey(app.database.db, tenant, 'welcome'))!;
    expect((await versionsOf(app.database.db, tpl.id)).map((v) => [v.version, v.state, v.subject])).toEqual([
      [1, 'active', 'Hi {{ name }}'],
      [2, 'draft', 'Welcome {{ name }}'],
    ]);

    // Rejected: back to draft with the comment; the comment and who are on record.
    await decide(app, tenant, 'key:editor', 'welcome', 2, 'submit');
    expect(await decide(app, tenant, 'key:reviewer', 'welcome', 2, 'reject')).toMatchObject({ ok: false, status: 400, field: 'comment' });
    expect(await decide(app, tenant, 'key:reviewer', 'welcome', 2, 'reject', 'tone')).toMatchObject({ ok: true, version: { state: 'draft', rejection_comment: 'tone' } });
    // A draft sent by id is refused while approval is required.
    const v2id = v2.ok ? v2.version.id : '';
    expect(await versionForSend(app.database.db, tenant, { version_id: v2id })).toMatchObject({ ok: false, status: 400 });
    // Resubmitted, approved, activated: version 1 retires.
    await decide(app, tenant, 'key:editor', 'welcome', 2, 'submit');
    expect(await decide(app, tenant, 'key:author', 'welcome', 2, 'approve')).toMatchObject({ ok: true, version: { state: 'approved' } });
    await decide(app, tenant, 'key:author', 'welcome', 2, 'activate');
    expect((await versionsOf(app.database.db, tpl.id)).map((v) => v.state)).toEqual(['retired', 'active']);
    expect((await decisionsOf(app.database.db, v2id)).map((d) => [d.round, d.step, d.actor, d.decision, d.comment])).toEqual([
      [1, 0, 'key:reviewer', 'reject', 'tone'],
      [2, 0, 'key:author', 'approve', null],
    ]);
    const trail = await auditOf(app.database.db, tpl.id);
    expect(trail.map((a) => a.action)).toEqual([
      'template.create', 'version.create', 'version.edit', 'version.submit', 'version.approve', 'version.activate',
      'version.create', 'version.submit', 'version.reject', 'version.submit', 'version.approve', 'version.retire', 'version.activate',
    ]);
    expect(trail[2]).toMatchObject({ actor: 'key:author', before: { subject: 'Hello {{ name }}' }, after: { subject: 'Hi {{ name }}' } });
  });

  it('two sequential steps, each decided by whom it names, in order; one person cannot take two steps; an editor counts as author', async () => {
    const app = t.app;
    const db = app.database.db;
    await setRoles(db, tenant, 'key:admin', 'key:lawyer', ['legal']);
    const policy = { steps: [{ role: 'legal' }, { users: ['key:boss', 'key:lawyer'] }] };
    await createTemplate(app, tenant, 'key:author', { key: 'dunning', name: 'Dunning', channel: 'email', policy, content: content() });
    await saveDraft(app, tenant, 'key:coauthor', 'dunning', content('Reminder {{ name }}'));
    await decide(app, tenant, 'key:author', 'dunning', 1, 'submit');
    // Step 2's approver cannot go first; the co-author cannot approve at all.
    expect(await decide(app, tenant, 'key:boss', 'dunning', 1, 'approve')).toMatchObject({ ok: false, status: 403, message: 'step 1 is for role legal' });
    await setRoles(db, tenant, 'key:admin', 'key:coauthor', ['legal']);
    expect(await decide(app, tenant, 'key:coauthor', 'dunning', 1, 'approve')).toMatchObject({ ok: false, status: 403 });
    expect(await decide(app, tenant, 'key:lawyer', 'dunning', 1, 'approve')).toMatchObject({ ok: true, version: { state: 'pending' } });
    expect(await decide(app, tenant, 'key:lawyer', 'dunning', 1, 'approve')).toMatchObject({ ok: false, status: 403, message: 'already approved an earlier step of this version' });
    expect(await waitingFor(db, tenant, 'key:boss')).toMatchObject([{ key: 'dunning', step: 2 }]);
    expect(await decide(app, tenant, 'key:boss', 'dunning', 1, 'approve')).toMatchObject({ ok: true, version: { state: 'approved' } });
  });

  it('a 0-step policy approves on submission; with approval not required a draft may be activated', async () => {
    const app = t.app;
    const other = (await ensureTenant(app.database.db, 'loose')).id;
    await putSettings(app.database.db, other, 'key:admin', { require_approved: false, default_policy: { steps: [] } });
    await createTemplate(app, other, 'key:a', { key: 'k', name: 'K', channel: 'sms', content: { sms_text: 'Code {{ code }}' } });
    expect(await decide(app, other, 'key:a', 'k', 1, 'activate')).toMatchObject({ ok: true, version: { state: 'active' } });
    await saveDraft(app, other, 'key:a', 'k', { sms_text: 'Your code {{ code }}' });
    expect(await decide(app, other, 'key:a', 'k', 2, 'submit')).toMatchObject({ ok: true, version: { state: 'approved' } });
  });

  it('content is checked at save: required parts, Liquid syntax, MJML, declarations', async () => {
    const app = t.app;
    const bad = (c: object, channel: 'email' | 'sms' = 'email') => createTemplate(app, tenant, 'key:a', { key: `bad-${Math.random()}`, name: 'x', channel, content: c });
    expect(await bad({ text: 'x' })).toMatchObject({ ok: false, status: 400, field: 'content.subject' });
    expect(await bad({ subject: 'x' })).toMatchObject({ ok: false, field: 'content.html' });
    expect(await bad({ subject: 's', text: '{% include "x" %}' })).toMatchObject({ ok: false, field: 'content.text', message: expect.stringMatching(/not allowed/) });
    expect(await bad({ subject: 's', html: '<mjml><mj-body><mj-nope/></mj-body></mjml>', html_format: 'mjml' })).toMatchObject({ ok: false, field: 'content.html' });
    expect(await bad({ subject: 's', text: '{{ a }}', variables: [] })).toMatchObject({ ok: false, field: 'content.variables.a' });
    const mj = await bad({ subject: 's', html: '<mjml><mj-body><mj-section><mj-column><mj-text>Hi {{ a }}</mj-text></mj-column></mj-section></mj-body></mjml>', html_format: 'mjml' });
    expect(mj.ok && mj.version.html_compiled).toMatch(/<!doctype html>[\s\S]*Hi \{\{ a \}\}/i);
  });

  it('only a draft without decisions can be deleted', async () => {
    const app = t.app;
    await createTemplate(app, tenant, 'key:a', { key: 'temp', name: 'T', channel: 'sms', content: { sms_text: 'x' } });
    await saveDraft(app, tenant, 'key:a', 'temp', { sms_text: 'y' });
    await decide(app, tenant, 'key:a', 'temp', 1, 'submit');
    expect(await deleteDraft(app, tenant, 'key:a', 'temp', 1)).toMatchObject({ ok: false, status: 409 });
    await decide(app, tenant, 'key:b', 'temp', 1, 'reject', 'no');
    expect(await deleteDraft(app, tenant, 'key:a', 'temp', 1)).toMatchObject({ ok: false, status: 409 });
    await createTemplate(app, tenant, 'key:a', { key: 'temp2', name: 'T', channel: 'sms', content: { sms_text: 'x' } });
    expect(await deleteDraft(app, tenant, 'key:a', 'temp2', 1)).toEqual({ ok: true });
  });
});
