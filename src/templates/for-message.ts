import type { Kysely } from 'kysely';
import type { DB } from '../db/types.js';
import type { StoredTemplateRef } from '../send/submit-schema.js';
import { renderVersion } from './content.js';
import { contentOf, versionForSend } from './store.js';

/** What a message records of the version it was rendered from (in its content and first event). */
export interface TemplateProvenance {
  key: string;
  version: number;
  version_id: string;
  /** sha256 of the rendered subject and bodies (src/templates/content.ts contentHash). */
  sha256: string;
}

export type ForMessage =
  | {
      ok: true;
      subject: string;
      html: string | null;
      text: string | null;
      sms: string | null;
      provenance: TemplateProvenance;
      /** The agent wrote free text: the message waits in pending_approval for a release. */
      needsRelease: boolean;
    }
  | { ok: false; path: string[]; message: string };

/**
 * A message's subject and bodies from a catalogue template: the version allowed for sending
 * (see versionForSend), the values validated against its declarations (a problem names the
 * variable: `template.variables.rate`), rendered leniently (every declared name is set).
 */
export async function renderForMessage(db: Kysely<DB>, tenantId: string, channel: 'email' | 'sms', ref: StoredTemplateRef): Promise<ForMessage> {
  const found = await versionForSend(db, tenantId, ref);
  if (!found.ok) return { ok: false, path: (found.field ?? 'template').split('.'), message: found.message };
  if (found.template.channel !== channel) return { ok: false, path: ['template'], message: `template ${found.template.key} is for ${found.template.channel}, not ${channel}` };
  const r = renderVersion(contentOf(found.version), ref.variables ?? {}, false);
  if (!r.ok) {
    const i = r.issues[0];
    return { ok: false, path: ['template', 'variables', i.variable], message: `${i.variable}: ${i.message}` };
  }
  const x = r.rendered;
  return {
    ok: true,
    subject: x.subject ?? '',
    html: x.html,
    text: x.text,
    sms: x.sms,
    provenance: { key: found.template.key, version: found.version.version, version_id: found.version.id, sha256: x.sha256 },
    needsRelease: x.freeText,
  };
}
