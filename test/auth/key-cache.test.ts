/**
 * The mailauth patch (patches/mailauth+4.13.3.patch): a DKIM/ARC key is parsed once per record text, and a
 * changed record is parsed afresh. Without the patch (an install that skipped patch-package) this fails,
 * and verification still works, only slower.
 */
import { generateKeyPairSync } from 'node:crypto';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

interface ParsedKey {
  publicKey: string;
  publicKeyObject?: { asymmetricKeyType?: string };
  modulusLength: number;
}
type GetPublicKey = (
  type: string,
  name: string,
  minBitLength: number,
  resolver: (name: string, type: string) => Promise<string[][]>,
) => Promise<ParsedKey>;

const tools = createRequire(import.meta.url)('mailauth/lib/tools.js') as { getPublicKey: GetPublicKey };

const record = () => {
  const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
  return `v=DKIM1; k=rsa; p=${publicKey.export({ type: 'spki', format: 'der' }).toString('base64')}`;
};

describe('mailauth keeps parsed keys', () => {
  it('parses a record once, and a changed record again', async () => {
    let txt = record();
    let asked = 0;
    const resolver = async () => {
      asked++;
      return [[txt]];
    };
    const first = await tools.getPublicKey('DKIM', 'sel._domainkey.keys.example', 1024, resolver);
    const again = await tools.getPublicKey('DKIM', 'sel._domainkey.keys.example', 1024, resolver);
    expect(first.publicKeyObject?.asymmetricKeyType).toBe('rsa');
    expect(again).toBe(first);
    expect(asked).toBe(2); // DNS is still asked every time: the record decides

    txt = record();
    const rotated = await tools.getPublicKey('DKIM', 'sel._domainkey.keys.example', 1024, resolver);
    expect(rotated).not.toBe(first);
    expect(rotated.publicKey).not.toBe(first.publicKey);
    // The key-length rule is still applied to a cached key's record (another minimum, another entry).
    await expect(tools.getPublicKey('DKIM', 'sel._domainkey.keys.example', 2048, resolver)).rejects.toThrow(
      /too short/,
    );
  });
});
