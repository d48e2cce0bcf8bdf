/**
 * What verification reads of a message: its header block, cut where mailauth cuts it, and whether anything
 * in it is signed (only then does mailauth's DKIM parser read the message).
 */
import { describe, expect, it } from 'vitest';
import { headerBlock, isUnsigned } from '../../src/auth/unsigned.js';

const body = 'Hello Bob,\r\n\r\nDKIM-Signature: v=1; in the body, not a field\r\n';
const message = (head: string) => Buffer.from(`${head}\r\n${body}`, 'latin1');

describe('what verification reads', () => {
  it('is the header block alone, and unsigned, when no DKIM or ARC field is in it', () => {
    const raw = message('From: alice@example.com\r\nSubject: hi\r\n');
    expect(headerBlock(raw).toString('latin1')).toBe('From: alice@example.com\r\nSubject: hi\r\n\r\n');
    expect(isUnsigned(headerBlock(raw))).toBe(true);
  });

  it.each([
    ['DKIM-Signature: v=1; d=example.com\r\n'],
    ['dkim-signature : v=1; d=example.com\r\n'],
    ['ARC-Seal: i=1; a=rsa-sha256\r\n'],
    ['arc-message-signature: i=1\r\n'],
    ['ARC-Authentication-Results: i=1; mx.example.net\r\n'],
  ])('is signed when such a field is there: %s', (field) => {
    const raw = message(`From: alice@example.com\r\n${field}Subject: hi\r\n`);
    expect(isUnsigned(headerBlock(raw))).toBe(false);
  });

  it('does not take a folded line of another field, or a field-like name, for a signature', () => {
    const folded = message(
      'Subject: hi\r\n dkim-signature: folded into the subject\r\nFrom: a@example.com\r\n',
    );
    expect(headerBlock(folded).toString('latin1')).not.toContain('Hello Bob');
    expect(isUnsigned(headerBlock(folded))).toBe(true);
    expect(isUnsigned(headerBlock(message('X-DKIM-Signature: v=1\r\nFrom: a@example.com\r\n')))).toBe(true);
  });

  it('cuts at an empty line of bare LF ends too', () => {
    const raw = Buffer.from('From: a@example.com\nSubject: hi\n\nbody\nDKIM-Signature: no\n', 'latin1');
    expect(headerBlock(raw).toString('latin1')).toBe('From: a@example.com\nSubject: hi\n\n');
  });

  it('gives a message without a body as it is', () => {
    const raw = Buffer.from('From: alice@example.com\r\nSubject: hi\r\n', 'latin1');
    expect(headerBlock(raw)).toBe(raw);
  });
});
