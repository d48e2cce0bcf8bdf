/**
 * A throwaway self-signed certificate for STARTTLS tests, made with the openssl command line (node has no
 * X.509 writer). No openssl means the test fails: TLS is a feature to prove, not one to skip.
 */
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TestCertificate {
  certPath: string;
  keyPath: string;
  /** SHA-256 fingerprint as node prints it (`AA:BB:…`), to recognise the certificate a server presents. */
  fingerprint256: string;
  remove(): Promise<void>;
}

export async function makeSelfSignedCertificate(commonName = 'localhost'): Promise<TestCertificate> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mailsentra-tls-'));
  const certPath = path.join(dir, 'cert.pem');
  const keyPath = path.join(dir, 'key.pem');
  try {
    await run(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        `/CN=${commonName}`,
        '-keyout',
        keyPath,
        '-out',
        certPath,
      ],
      { timeout: 20_000 },
    );
    const { fingerprint256 } = new X509Certificate(await readFile(certPath));
    return { certPath, keyPath, fingerprint256, remove: () => rm(dir, { recursive: true, force: true }) };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw new Error(`cannot make a test certificate with openssl: ${(err as Error).message}`);
  }
}
