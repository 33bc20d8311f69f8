import type { MessageView } from '../message-view.js';
import { first } from '../mime.js';

/**
 * Google Groups refuses posts in the poster's language, naming no SMTP code: the refusal is
 * always "you may not post to this group", i.e. the sender was rejected.
 */
export function isGoogleGroupsRefusal(view: MessageView): boolean {
  return /googlegroups\.com|groups\.google\./i.test(first(view.root.headers, 'from') + first(view.root.headers, 'x-google-group-id'))
    || /groups\.google\.com\/support/.test(view.text.slice(0, 8192));
}
