/** What happens to a demo message once the simulated relay has taken it. */
export type Fate = 'delivered' | 'hard-bounce' | 'soft-bounce' | 'opened' | 'proxy-opened' | 'clicked' | 'complained' | 'unsubscribed';

/** The simulated people (all at example.com, which never receives mail) and what each does. */
export const PEOPLE: ReadonlyArray<{ recipient: string; fate: Fate; expect: string }> = [
  { recipient: 'ada@example.com', fate: 'delivered', expect: 'delivered' },
  { recipient: 'nobody@example.com', fate: 'hard-bounce', expect: 'bounced' },
  { recipient: 'full.mailbox@example.com', fate: 'soft-bounce', expect: 'deferred' },
  { recipient: 'grace@example.com', fate: 'opened', expect: 'opened' },
  { recipient: 'tim@example.com', fate: 'proxy-opened', expect: 'delivered' },
  { recipient: 'linus@example.com', fate: 'clicked', expect: 'clicked' },
  { recipient: 'angry@example.com', fate: 'complained', expect: 'complained' },
  { recipient: 'margaret@example.com', fate: 'unsubscribed', expect: 'unsubscribed' },
];

export const fateOf = (recipient: string): Fate | undefined => PEOPLE.find((p) => p.recipient === recipient.toLowerCase())?.fate;
