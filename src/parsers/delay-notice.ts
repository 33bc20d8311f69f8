/**
 * Delay warnings: reports that say delivery is still being retried. RFC 3464 gives them
 * `Action: delayed`; MTAs that write only text say so in their own boilerplate. A warning is
 * never a final failure, so it must not become a bounce or a suppression.
 *
 * Each phrase is the wording of a real MTA's or provider's warning:
 * - Sendmail (`sendmail.cf` / deliver.c warning): "THIS IS A WARNING MESSAGE ONLY",
 *   "YOU DO NOT NEED TO RESEND YOUR MESSAGE", "Will keep trying until message is 5 days old";
 *   Exchange and Gmail copy the first two lines into their "Delivery Status Notification (Delay)".
 * - Postfix (bounce templates, delay_template): "THIS IS A WARNING ONLY.  YOU DO NOT NEED TO
 *   RESEND YOUR MESSAGE", "It will be retried until it is 5.0 days old", subject "Delayed Mail
 *   (still being retried)".
 * - Exim (warn_message_file default): "has not yet been delivered to one or more of its
 *   recipients", "Delivery attempts will continue for some time".
 * - Exchange 2010+ / Office 365: "Delivery is delayed to these recipients or groups",
 *   "This message hasn't been delivered yet. Delivery will continue to be attempted."
 * - Gmail: "Delivery incomplete", "Gmail will retry for 46 more hours", "There was a temporary
 *   problem delivering your message".
 * - OpenSMTPD (smtpd/bounce.c): "A message is delayed for more than 4 hours for the following list
 *   of recipients", "Please note that this is only a temporary failure report", "You DO NOT NEED
 *   to re-send the message".
 */
const DELAY_TEXT = /\bTHIS IS A WARNING (?:MESSAGE )?ONLY\b|\bYOU DO NOT NEED TO RESEND\b|\bno need to resend\b|\bhas not yet been delivered to\b|\bhasn't been delivered yet\b|\bdelivery (?:attempts )?will continue\b|\bwill (?:keep trying|continue (?:trying|to (?:try|attempt))) (?:until|to deliver|for)\b|\bwill be retried until\b|\bwill retry for \d|\bstill being retried\b|\bdelivery is delayed to\b|\bdelivery incomplete\b|\bstill undelivered after\b|\bdo not need to re-send\b|\bis delayed for more than\b|\bonly a temporary failure report\b|\btemporary problem delivering your message\b/i;

const DELAY_SUBJECT = /^\s*(?:warning: could not send message for past|warning: message \S{1,80} delayed|delayed mail \(still being retried\)|delivery (?:status notification|notification): (?:\(?delay\)?|delivery has been delayed|delayed)|(?:mail )?delivery status notification \(delay\)|delivery delayed:?)/i;

/**
 * Words of a final report: a message that gave up, or says no more attempts will be made. They
 * win over warning wording quoted in the same text ("You'll be notified if the delivery fails").
 */
const FINAL_TEXT = /\bgiving up\b|\bgave up\b|\bhas stopped trying\b|\bno further (?:delivery )?attempts\b|\bwill not be retried\b|\bnot going to try again\b|\bfailed permanently\b|\bpermanent (?:error|failure)\b|\btoo long in (?:the )?queue|\bin the queue too long/i;

/** The warning phrase that shows a text report is a delay notice, or '' for a final report. */
export function delayNotice(subject: string, text: string): string {
  const head = text.length > 8192 ? text.slice(0, 8192) : text;
  if (FINAL_TEXT.test(head)) return '';
  const bySubject = DELAY_SUBJECT.exec(subject);
  if (bySubject) return bySubject[0].trim();
  const byText = DELAY_TEXT.exec(head);
  return byText ? byText[0] : '';
}
