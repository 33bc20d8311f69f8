import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseReceiptText, receiptOutcome } from '../../src/core/sms-receipt.js';

describe('parseReceiptText', () => {
  it('reads the SMPP 3.4 appendix B format', () => {
    expect(parseReceiptText('id:1000001 sub:001 dlvrd:001 submit date:2612041310 done date:2612041311 stat:DELIVRD err:000 text:Hello id:x stat:UNDELIV')).toEqual({
      id: '1000001', sub: '001', dlvrd: '001', submitDate: '2612041310', doneDate: '2612041311', stat: 'DELIVRD', err: '000', text: 'Hello id:x stat:UNDELIV',
    });
  });

  it.each([
    ['ID:ab12 SUB:001 DLVRD:000 SUBMIT DATE:2612041310 DONE DATE:2612041310 STAT:undeliv ERR:001 TEXT:', { id: 'ab12', stat: 'UNDELIV', err: '001', text: '' }],
    ['id:7 stat:EXPIRED', { id: '7', stat: 'EXPIRED', err: null, text: null }],
    ['stat:REJECTD err:002 id:0042', { id: '0042', stat: 'REJECTD', err: '002' }],
  ])('reads %j', (input, expected) => {
    expect(parseReceiptText(input)).toMatchObject(expected);
  });

  it.each(['STOP', 'hello there', 'id: stat:DELIVRD', 'id:12 text:stat:DELIVRD', ''])('is not a receipt: %j', (input) => {
    expect(parseReceiptText(input)).toBeNull();
  });

  it('never throws and returns what it was given back', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (s) => {
        parseReceiptText(s);
      }),
    );
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z0-9]{1,20}$/), fc.constantFrom('DELIVRD', 'UNDELIV', 'EXPIRED'), fc.stringMatching(/^\d{3}$/), (id, stat, err) => {
        expect(parseReceiptText(`id:${id} sub:001 dlvrd:000 submit date:2612041310 done date:2612041310 stat:${stat} err:${err} text:x`)).toMatchObject({ id, stat, err });
      }),
    );
  });
});

describe('receiptOutcome', () => {
  it.each([
    ['DELIVRD', '000', { final: true, type: 'delivered' }],
    ['UNDELIV', '001', { final: true, type: 'bounced', bounce_class: 'hard', reason: 'userunknown' }],
    ['UNDELIV', '005', { final: true, type: 'bounced', bounce_class: 'hard' }],
    ['UNDELIV', '027', { final: true, type: 'bounced', bounce_class: 'soft' }],
    ['REJECTD', '002', { final: true, type: 'bounced', bounce_class: 'soft', reason: 'rejected' }],
    ['UNKNOWN', null, { final: true, type: 'bounced', bounce_class: 'soft' }],
    ['EXPIRED', '003', { final: true, type: 'bounced', bounce_class: 'soft', reason: 'expired' }],
    ['ACCEPTD', '000', { final: false }],
    ['ENROUTE', '000', { final: false }],
    ['delivrd', '000', { final: true, type: 'delivered' }],
  ])('%s err:%s', (stat, err, expected) => {
    expect(receiptOutcome(stat, err)).toMatchObject(expected);
  });
});
