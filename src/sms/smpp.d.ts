// The npm `smpp` package (0.5.1) ships no types: only what src/sms uses.
declare module 'smpp' {
  import type { EventEmitter } from 'node:events';

  export interface Pdu {
    command: string;
    command_id: number;
    command_status: number;
    sequence_number: number;
    [field: string]: unknown;
    isResponse(): boolean;
    response(options?: Record<string, unknown>): Pdu;
  }

  export class Session extends EventEmitter {
    constructor(options: Record<string, unknown>);
    send(pdu: Pdu, onResponse?: (pdu: Pdu) => void, onSent?: (pdu: Pdu) => void): boolean;
    close(callback?: () => void): void;
    destroy(callback?: () => void): void;
    socket: import('node:net').Socket;
    [command: string]: unknown;
  }

  export class PDU implements Pdu {
    constructor(command: string, options?: Record<string, unknown>);
    command: string;
    command_id: number;
    command_status: number;
    sequence_number: number;
    [field: string]: unknown;
    isResponse(): boolean;
    response(options?: Record<string, unknown>): Pdu;
  }

  export function connect(options: Record<string, unknown>, listener?: () => void): Session;

  const smpp: { connect: typeof connect; PDU: typeof PDU; Session: typeof Session };
  export default smpp;
}
