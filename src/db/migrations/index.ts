import type { Migration } from 'kysely';
import * as m0001 from './0001-initial.js';
import * as m0002 from './0002-ingest.js';
import * as m0003 from './0003-send.js';
import * as m0004 from './0004-webhooks.js';
import * as m0005 from './0005-proof.js';
import * as m0006 from './0006-imap.js';
import * as m0007 from './0007-sms.js';
import * as m0010 from './0010-users.js';
import * as m0011 from './0011-flows.js';
import * as m0013 from './0013-proof.js';
import * as m0014 from './0014-templates.js';

/** Every migration, in order. Numbers are never reused. */
export const migrations: Record<string, Migration> = {
  '0001-initial': m0001,
  '0002-ingest': m0002,
  '0003-send': m0003,
  '0004-webhooks': m0004,
  '0005-proof': m0005,
  '0006-imap': m0006,
  '0007-sms': m0007,
  '0010-users': m0010,
  '0011-flows': m0011,
  '0013-proof': m0013,
  '0014-templates': m0014,
};
