/** Runs the CLI in-process and captures what it prints. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { main } from '../../src/cli.js';

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

export async function runCli(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new Capture();
  const stderr = new Capture();
  const code = await main(argv, { stdout, stderr });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

/** A config file whose dataDir is a fresh temporary directory (no ACTIVE model: the default one is used). */
export function tempConfig(extra = ''): { file: string; dir: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'mailsentra-test-'));
  const file = path.join(dir, 'mailsentra.yaml');
  writeFileSync(file, `dataDir: ${JSON.stringify(path.join(dir, 'data'))}\n${extra}`);
  return { file, dir };
}
