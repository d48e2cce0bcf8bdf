/**
 * The command line as an admin meets it (real child processes): every mistake is one line on stderr and a
 * non-zero exit, with no stack trace unless LOG_LEVEL=debug; the progress line appears on a terminal only.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadSpamAssassin } from '../../src/classifier/corpus.js';
import { acquireDirLock } from '../../src/store/dir-lock.js';
import { runCli, runCliChild } from '../helpers/cli.js';
import { freshDatabaseUrl } from '../helpers/db.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const tmp = () => mkdtempSync(path.join(tmpdir(), 'mailsentra-cli-'));
const STACK = /^\s+at /m;

function oneLine(out: { code: number | null; stderr: string }, code: number): string {
  expect(out.code).toBe(code);
  const lines = out.stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^mailsentra: /);
  expect(out.stderr).not.toMatch(STACK);
  return lines[0] as string;
}

describe('mistakes on the command line', () => {
  const env = () => ({ DATA_DIR: path.join(tmp(), 'data'), DATABASE_URL: '' });

  it('a corpus that is not there: one line naming it, exit 66', async () => {
    const out = await runCliChild(['train', '--corpus', '/no/such/site'], env());
    expect(oneLine(out, 66)).toContain('/no/such/site');
  }, 120_000);

  it('a corpus without spam: one line saying what is missing', async () => {
    const site = tmp();
    mkdirSync(path.join(site, 'ham'));
    writeFileSync(path.join(site, 'ham', 'a.eml'), 'Subject: hi\n\nhello\n');
    const out = await runCliChild(['train', '--ham', path.join(site, 'ham')], env());
    expect(oneLine(out, 66)).toMatch(/no spam messages to train on/);
  }, 120_000);

  it('an unknown option, an unknown command, a missing config file', async () => {
    expect(oneLine(await runCliChild(['train', '--corpse', 'x'], env()), 2)).toContain('--corpse');
    expect(oneLine(await runCliChild(['frobnicate'], env()), 2)).toContain('frobnicate');
    const missing = await runCliChild(['--config', '/no/such.yaml', 'migrate'], env());
    expect(oneLine(missing, 78)).toContain('/no/such.yaml');
    const bad = await runCliChild(['migrate'], { ...env(), ADMIN_API_KEY: 'short-key' });
    expect(oneLine(bad, 78)).toMatch(/api\.adminApiKey \(env ADMIN_API_KEY\): expected text of at least/);
  }, 120_000);

  it('an unexpected failure is one line too; LOG_LEVEL=debug adds the stack', async () => {
    // A data directory that is a file: nothing the command checks for by name.
    const file = path.join(tmp(), 'not-a-dir');
    writeFileSync(file, 'x');
    const quiet = await runCliChild(['apikey', 'create', '--role', 'admin'], {
      DATA_DIR: file,
      DATABASE_URL: '',
    });
    expect(oneLine(quiet, 1)).toMatch(/LOG_LEVEL=debug shows where/);
    const debug = await runCliChild(['apikey', 'create', '--role', 'admin'], {
      DATA_DIR: file,
      DATABASE_URL: '',
      LOG_LEVEL: 'debug',
    });
    expect(debug.code).toBe(1);
    expect(debug.stderr).toMatch(STACK);
  }, 120_000);

  it('serve on an embedded data directory another process holds: one line naming the holder, exit 75', async () => {
    // serve starts opening the store while its modules load; the refusal must still come out as the one
    // line, not as an unhandled rejection or a stack.
    const data = path.join(tmp(), 'data');
    mkdirSync(data, { recursive: true });
    const lock = await acquireDirLock(data, 'serve');
    try {
      const out = await runCliChild(['serve'], {
        DATA_DIR: data,
        DATABASE_URL: '',
        SMTP_LISTEN: '127.0.0.1:0',
        API_LISTEN: '127.0.0.1:0',
      });
      expect(oneLine(out, 75)).toContain(`in use by pid ${process.pid}`);
    } finally {
      lock.release();
    }
  }, 120_000);
});

describe('a database that cannot be used', () => {
  it('one that does not answer: one line naming the setting and the server, never its password, exit 75', async () => {
    // A port that was free a moment ago: nothing answers there.
    const closed = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const { port } = s.address() as net.AddressInfo;
        s.close(() => resolve(port));
      });
    });
    const url = `postgres://mailsentra:hunter2@127.0.0.1:${closed}/mail`;
    for (const argv of [['serve'], ['migrate'], ['apikey', 'create', '--role', 'admin']]) {
      const out = await runCliChild(argv, {
        DATA_DIR: path.join(tmp(), 'data'),
        DATABASE_URL: url,
        SMTP_LISTEN: '127.0.0.1:0',
        API_LISTEN: '127.0.0.1:0',
      });
      const line = oneLine(out, 75);
      expect(line, argv[0]).toContain(
        `cannot reach the database at 127.0.0.1:${closed}/mail (database.url, env DATABASE_URL): `,
      );
      expect(line).not.toContain('hunter2');
    }
  }, 120_000);

  it.skipIf(!process.env.DATABASE_URL)(
    'one that refuses the setting (no such database): one line, exit 78',
    async () => {
      const url = new URL(process.env.DATABASE_URL as string);
      url.pathname = '/mailsentra_no_such_database';
      const out = await runCliChild(['serve'], {
        DATA_DIR: path.join(tmp(), 'data'),
        DATABASE_URL: url.toString(),
        SMTP_LISTEN: '127.0.0.1:0',
        API_LISTEN: '127.0.0.1:0',
      });
      expect(oneLine(out, 78)).toMatch(
        /the database at .*\/mailsentra_no_such_database refused the connection \(database\.url, env DATABASE_URL\): database "mailsentra_no_such_database" does not exist$/,
      );
    },
    120_000,
  );
});

describe('a database URL that cannot be used', () => {
  it('one that hangs up at once, one without TLS asked for it, one that is no URL: one line each', async () => {
    // A server that accepts and closes: the driver's "Connection terminated unexpectedly".
    const hangUp = net.createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => hangUp.listen(0, '127.0.0.1', resolve));
    const port = (hangUp.address() as net.AddressInfo).port;
    const env = (url: string) => ({
      DATA_DIR: path.join(tmp(), 'data'),
      DATABASE_URL: url,
      SMTP_LISTEN: '127.0.0.1:0',
      API_LISTEN: '127.0.0.1:0',
    });
    try {
      const line = oneLine(
        await runCliChild(['migrate'], env(`postgres://u:hunter2@127.0.0.1:${port}/mail`)),
        75,
      );
      expect(line).toContain(
        `cannot reach the database at 127.0.0.1:${port}/mail (database.url, env DATABASE_URL)`,
      );
      expect(line).not.toContain('hunter2');
    } finally {
      hangUp.close();
    }
    const noUrl = oneLine(await runCliChild(['migrate'], env('postgres://u:hunter2@[::1:5432/mail')), 78);
    expect(noUrl).toBe('mailsentra: config: database.url (env DATABASE_URL): not a URL that can be read');
    if (process.env.DATABASE_URL) {
      // The local server has no TLS.
      const url = new URL(process.env.DATABASE_URL);
      url.searchParams.set('sslmode', 'verify-full');
      // (node-postgres prints its own notice about sslmode names before; the service's answer is the last line.)
      const out = await runCliChild(['migrate'], env(url.toString()));
      expect(out.code).toBe(78);
      expect(out.stderr.trimEnd().split('\n').at(-1)).toMatch(
        /^mailsentra: the database at .* refused the connection \(database\.url, env DATABASE_URL\): .*does not support SSL/i,
      );
    }
  }, 120_000);
});

describe('serve that cannot listen', () => {
  const held = async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return { server, port: (server.address() as net.AddressInfo).port };
  };

  it('on an address another process holds: one line naming the setting, exit 75, and nothing left open', async () => {
    const { server, port } = await held();
    const data = path.join(tmp(), 'data');
    try {
      const smtp = await runCliChild(['serve'], {
        DATA_DIR: data,
        DATABASE_URL: '',
        SMTP_LISTEN: `127.0.0.1:${port}`,
        API_LISTEN: '127.0.0.1:0',
      });
      expect(oneLine(smtp, 75)).toBe(
        `mailsentra: cannot listen on 127.0.0.1:${port} (smtp.listen, env SMTP_LISTEN): another process is listening there`,
      );
      const api = await runCliChild(['serve'], {
        DATA_DIR: data,
        DATABASE_URL: '',
        SMTP_LISTEN: '127.0.0.1:0',
        API_LISTEN: `127.0.0.1:${port}`,
      });
      expect(oneLine(api, 75)).toMatch(
        /\(api\.listen, env API_LISTEN\): another process is listening there$/,
      );
    } finally {
      server.close();
    }
    // The data directory was let go: this process can take it.
    (await acquireDirLock(data, 'serve')).release();
  }, 120_000);

  it('on a unix socket in a folder that does not exist: one line, exit 77', async () => {
    const out = await runCliChild(['serve'], {
      DATA_DIR: path.join(tmp(), 'data'),
      DATABASE_URL: '',
      SMTP_LISTEN: 'off',
      API_LISTEN: '127.0.0.1:0',
      MILTER_LISTEN: '/no/such/folder/milter.sock',
    });
    expect(oneLine(out, 77)).toContain(
      'cannot listen on /no/such/folder/milter.sock (milter.listen, env MILTER_LISTEN): cannot create a socket there',
    );
  }, 120_000);

  it.skipIf(!process.env.DATABASE_URL)(
    'with several SMTP processes: the workers and the primary stop, exit 75',
    async () => {
      const { server, port } = await held();
      const db = await freshDatabaseUrl();
      try {
        const out = await runCliChild(['serve'], {
          DATA_DIR: path.join(tmp(), 'data'),
          DATABASE_URL: db.url,
          SMTP_PROCESSES: '2',
          SMTP_LISTEN: `127.0.0.1:${port}`,
          API_LISTEN: '127.0.0.1:0',
        });
        expect(out.code).toBe(75);
        expect(out.stderr).toContain(`cannot listen on 127.0.0.1:${port} (smtp.listen, env SMTP_LISTEN)`);
        expect(out.stderr).toMatch(/an SMTP worker stopped before it listened \(exit 75/);
        expect(out.stderr).not.toMatch(STACK);
      } finally {
        server.close();
        await db.drop();
      }
    },
    120_000,
  );
});

describe('slips in a command or its arguments', () => {
  // In-process: each of these is refused before anything is opened.
  const cases: [string[], RegExp][] = [
    [['scna'], /unknown command 'scna' \(did you mean scan\?/],
    [['--confg', 'x', 'serve'], /unknown option --confg \(did you mean --config\?/],
    [['--config'], /--config needs a file/],
    [['apikey'], /apikey needs a subcommand; usage: mailsentra apikey create/],
    [['apikey', 'creat', '--role', 'admin'], /unknown subcommand 'creat' \(did you mean create\?\)/],
    [['apikey', 'create'], /--role is required/],
    [['apikey', 'create', '--role', 'root'], /--role must be admin or analyst, got 'root'/],
    [['apikey', 'create', '--rol', 'admin'], /unknown option --rol \(did you mean --role\?\)/],
    [['apikey', 'create', '--role'], /--role needs a value/],
    [['apikey', 'create', '--role', 'admin', 'extra'], /unexpected 'extra'/],
    [['scan'], /scan needs a file, a directory or -/],
    [['scan', '--jsno', 'x.eml'], /unknown option --jsno \(did you mean --json\?\)/],
    [['eval', 'x'], /unexpected 'x'; usage: mailsentra eval/],
    [['eval', '--corpus', 'a', '--corpus', 'b'], /--corpus given more than once/],
    [['migrate', 'now'], /unexpected 'now'; usage: mailsentra migrate/],
    [['serve', '--port', '25'], /unexpected '--port'; usage: .*serve/],
    [['train', '--ham'], /--ham needs a value/],
    [['train', '--corpse', 'x'], /unknown option --corpse \(did you mean --corpus\?\)/],
  ];
  it.each(cases)('%j: one line naming the slip, exit 2', async (argv, expected) => {
    const out = await runCli(argv);
    expect(oneLine(out, 2)).toMatch(expected);
    expect(out.stdout).toBe('');
  });
});

describe('progress line', () => {
  it('is drawn on stderr when it is a terminal, and not in a pipe', async () => {
    const dataDir = path.join(tmp(), 'data');
    const inbox = tmp();
    for (const m of loadSpamAssassin('test').slice(0, 40))
      writeFileSync(path.join(inbox, path.basename(m.path)), m.raw);
    const env = { DATA_DIR: dataDir, DATABASE_URL: '', REDIS_URL: '', LOG_LEVEL: 'warn' };
    // In a pipe (and this first run stores the default model, so the terminal run below is quick).
    const piped = await runCliChild(['scan', inbox], env, { timeoutMs: 120_000 });
    expect(piped.code).toBe(0);
    expect(piped.stdout.trim().split('\n')).toHaveLength(40);
    expect(piped.stderr).not.toContain('\r');
    expect(piped.stderr).not.toContain('scanning');
    // On a pseudo-terminal (util-linux script): stdout and stderr both reach it.
    const loader = pathToFileURL(path.join(root, 'node_modules/tsx/dist/loader.mjs')).href;
    const command = [process.execPath, '--import', loader, path.join(root, 'src/cli.ts'), 'scan', inbox]
      .map((a) => `'${a}'`)
      .join(' ');
    const proc = spawn('script', ['-qec', command, '/dev/null'], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let screen = '';
    proc.stdout.on('data', (d: Buffer) => {
      screen += d.toString();
    });
    const code = await new Promise<number | null>((resolve) => proc.once('close', resolve));
    expect(code).toBe(0);
    expect(screen).toMatch(/\r\x1b\[Kscanning \d+\/40 \(\d+ %\), ETA/);
  }, 300_000);
});
