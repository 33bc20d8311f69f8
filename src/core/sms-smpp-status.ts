/** SMPP 3.4 command_status values (5.1.3) a submit_sm_resp or bind_resp may carry. */
const NAMES: Record<number, string> = {
  0x00: 'ESME_ROK', 0x01: 'ESME_RINVMSGLEN', 0x02: 'ESME_RINVCMDLEN', 0x03: 'ESME_RINVCMDID', 0x04: 'ESME_RINVBNDSTS',
  0x05: 'ESME_RALYBND', 0x08: 'ESME_RSYSERR', 0x0a: 'ESME_RINVSRCADR', 0x0b: 'ESME_RINVDSTADR', 0x0d: 'ESME_RBINDFAIL',
  0x0e: 'ESME_RINVPASWD', 0x0f: 'ESME_RINVSYSID', 0x14: 'ESME_RMSGQFUL', 0x15: 'ESME_RINVSERTYP', 0x33: 'ESME_RINVNUMDESTS',
  0x43: 'ESME_RINVESMCLASS', 0x45: 'ESME_RSUBMITFAIL', 0x48: 'ESME_RINVSRCTON', 0x49: 'ESME_RINVSRCNPI', 0x50: 'ESME_RINVDSTTON',
  0x51: 'ESME_RINVDSTNPI', 0x58: 'ESME_RTHROTTLED', 0x61: 'ESME_RINVSCHED', 0x62: 'ESME_RINVEXPIRY', 0x64: 'ESME_RX_T_APPN',
  0x65: 'ESME_RX_P_APPN', 0x66: 'ESME_RX_R_APPN', 0xc0: 'ESME_RINVTLVSTREAM', 0xc1: 'ESME_RTLVNOTALLWD', 0xc2: 'ESME_RINVTLVLEN',
  0xc3: 'ESME_RMISSINGTLV', 0xc4: 'ESME_RINVTLVVAL', 0xfe: 'ESME_RDELIVERYFAILURE', 0xff: 'ESME_RUNKNOWNERR', 0x104: 'ESME_RINVDCS',
};

/** Refusals that will never change for this message: the number, the content or our sender id. */
type Permanent = { reason: string; bounce_class: 'hard' | 'soft' };
const PERMANENT: ReadonlyMap<number, Permanent> = new Map<number, Permanent>([
  // The SMSC says the destination is not a number it can route: the number's fault.
  [0x0b, { reason: 'userunknown', bounce_class: 'hard' }],
  [0x50, { reason: 'userunknown', bounce_class: 'hard' }],
  [0x51, { reason: 'userunknown', bounce_class: 'hard' }],
  // Ours (sender id, encoding, message shape, the SMSC's content rules): never the recipient's.
  ...[0x01, 0x0a, 0x33, 0x43, 0x48, 0x49, 0x61, 0x62, 0x65, 0x66, 0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0x104].map(
    (c): [number, Permanent] => [c, { reason: 'rejected', bounce_class: 'soft' }],
  ),
]);

export type SmppStatusKind =
  | { kind: 'ok'; name: string }
  | { kind: 'throttled'; name: string }
  | { kind: 'temporary'; name: string }
  | { kind: 'permanent'; name: string; reason: string; bounce_class: 'hard' | 'soft' };

export function smppStatusName(code: number): string {
  return NAMES[code] ?? `0x${code.toString(16).padStart(8, '0')}`;
}

/**
 * What a submit_sm_resp status means for the message: throttled (slow down, same message again),
 * permanent (bounced, with the reason), or temporary (deferred and retried). Statuses this list
 * does not know are temporary: a retry costs little, a wrong bounce loses the message.
 *
 * @example smppStatusKind(0x0b) → { kind: 'permanent', name: 'ESME_RINVDSTADR', reason: 'userunknown', bounce_class: 'hard' }
 */
export function smppStatusKind(code: number): SmppStatusKind {
  const name = smppStatusName(code);
  if (code === 0) return { kind: 'ok', name };
  if (code === 0x58 || code === 0x14) return { kind: 'throttled', name };
  const p = PERMANENT.get(code);
  return p ? { kind: 'permanent', name, ...p } : { kind: 'temporary', name };
}
