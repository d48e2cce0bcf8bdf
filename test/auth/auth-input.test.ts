import { describe, expect, it } from 'vitest';
import { authInput } from '../../src/auth/verify.js';

const body = 'Hello Bob,\r\n\r\nDKIM-Signature: v=1; in the body, not a field\r\n';
const message = (head: string) => Buffer.from(`${head}\r\n${body}`, 'latin1');

describe('what mailauth is given', () => {
  it('is the header block alone when no DKIM or ARC signature is in it', () => {
    const raw = message('From: alice@example.com\r\nSubject: hi\r\n');
    const given = authInput(raw).toString('latin1');
    expect(given).toBe('From: alice@example.com\r\nSubject: hi\r\n\r\n');
  });

  it.each([
    ['DKIM-Signature: v=1; d=example.com\r\n'],
    ['dkim-signature : v=1; d=example.com\r\n'],
    ['ARC-Seal: i=1; a=rsa-sha256\r\n'],
    ['arc-message-signature: i=1\r\n'],
  ])('is the whole message when a signature field is there: %s', (field) => {
    const raw = message(`From: alice@example.com\r\n${field}Subject: hi\r\n`);
    expect(authInput(raw)).toBe(raw);
  });

  it('does not take a folded line of another field for a signature', () => {
    const raw = message('Subject: hi\r\n dkim-signature: folded into the subject\r\nFrom: a@example.com\r\n');
    expect(authInput(raw).toString('latin1')).not.toContain('Hello Bob');
  });

  it('gives a message without a body as it is', () => {
    const raw = Buffer.from('From: alice@example.com\r\nSubject: hi\r\n', 'latin1');
    expect(authInput(raw)).toBe(raw);
  });
});
