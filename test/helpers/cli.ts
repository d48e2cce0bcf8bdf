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

/** Runs `mailsentra ARGS` as a child process (through tsx, so the sources under test), as an admin would. */
export async function runCliChild(
  argv: string[],
  env: Record<string, string>,
  options: { timeoutMs?: number } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const { spawn } = await import('node:child_process');
  const { fileURLToPath, pathToFileURL } = await import('node:url');
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const proc = spawn(
    process.execPath,
    [
      '--import',
      pathToFileURL(path.join(root, 'node_modules/tsx/dist/loader.mjs')).href,
      path.join(root, 'src/cli.ts'),
      ...argv,
    ],
    { env: { ...process.env, REDIS_URL: '', LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  proc.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const timer = setTimeout(() => proc.kill('SIGKILL'), options.timeoutMs ?? 120_000);
  const code = await new Promise<number | null>((resolve) => proc.once('close', (c) => resolve(c)));
  clearTimeout(timer);
  return { code, stdout, stderr };
}
