/**
 * A real Postfix (Debian's package) started for one test: its own config, queue and data directories under a
 * temporary folder, listening on loopback only, relaying everything to a given next hop. The MailSentra part
 * of master.cf is read from `config/postfix/` — the very files docs/integration.md tells administrators to
 * use — with only the ports rewritten, so the documented configuration is the tested one.
 */
import { execFile } from 'node:child_process';
import { access, chmod, chown, constants, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { loadSpamAssassin } from '../../src/classifier/corpus.js';
import type { DeepPartial } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { waitForPort } from './child-service.js';
import { freePort } from './free-port.js';
import { startTestService, type TestService } from './service.js';
import { type Sink, startSink } from './sink.js';
import { waitFor } from './wait.js';

const run = promisify(execFile);
export const POSTFIX = '/usr/sbin/postfix';

export type PostfixMode = 'after-queue' | 'before-queue' | 'milter';

export interface PostfixInstance {
  /** Postfix's public smtpd (what the sending MTA or client talks to). */
  port: number;
  /** Its configuration directory (`sendmail -C` submits locally through it). */
  conf: string;
  /** Postfix's own log (maillog_file), for diagnostics and assertions. */
  log(): Promise<string>;
  stop(): Promise<void>;
}

// The services every Postfix needs, unchrooted: a temporary queue directory has no /etc inside it.
const BASE_MASTER_CF = `
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
`;

/** The documented master.cf snippet with test ports, every service unchrooted. */
export function adaptSnippet(
  snippet: string,
  ports: { smtpd: number; filter: number; reinject: number; milter?: number },
): string {
  return snippet
    .split('\n')
    .map((line) => {
      if (line.startsWith('#') || /^\s/.test(line) || line.trim() === '') return line;
      const fields = line.split(/\s+/);
      if (fields[0] === 'smtp' && fields[1] === 'inet') fields[0] = `127.0.0.1:${ports.smtpd}`;
      fields[4] = 'n';
      return fields.join(' ');
    })
    .join('\n')
    .replaceAll('127.0.0.1:10025', `127.0.0.1:${ports.filter}`)
    .replaceAll('127.0.0.1]:10025', `127.0.0.1]:${ports.filter}`)
    .replaceAll('127.0.0.1:10026', `127.0.0.1:${ports.reinject}`)
    .replaceAll('127.0.0.1:11332', `127.0.0.1:${ports.milter ?? 11332}`);
}

export async function startPostfix(options: {
  mode: PostfixMode;
  smtpdPort: number;
  filterPort: number;
  reinjectPort: number;
  nextHopPort: number;
  /** milter mode: MailSentra's milter port, and main.cf settings that replace the documented ones. */
  milterPort?: number;
  mainCf?: Record<string, string>;
}): Promise<PostfixInstance> {
  const root = await mkdtemp(path.join(tmpdir(), 'mailsentra-postfix-'));
  // mkdtemp makes it 0700; Postfix's unprivileged daemons must reach their data directory inside.
  await chmod(root, 0o755);
  const conf = path.join(root, 'conf');
  const data = path.join(root, 'data');
  const maillog = path.join(root, 'maillog');
  await mkdir(conf);
  await mkdir(data);
  await mkdir(path.join(root, 'queue'));
  const { stdout: uid } = await run('id', ['-u', 'postfix']);
  await chown(data, Number(uid.trim()), -1);
  const mainCf = [
    'compatibility_level = 3.6',
    `queue_directory = ${root}/queue`,
    `data_directory = ${data}`,
    'mail_owner = postfix',
    'setgid_group = postdrop',
    'myhostname = postfix-test.localdomain',
    'mydomain = localdomain',
    'mydestination =',
    'inet_interfaces = 127.0.0.1',
    'inet_protocols = ipv4',
    'mynetworks = 127.0.0.0/8',
    // Everything leaves through the test's next hop; no DNS is ever asked.
    `relayhost = [127.0.0.1]:${options.nextHopPort}`,
    'smtp_dns_support_level = disabled',
    'smtpd_peername_lookup = no',
    'smtpd_relay_restrictions = permit_mynetworks, reject',
    'alias_maps =',
    'alias_database =',
    'local_recipient_maps =',
    `maillog_file_prefixes = ${root}`,
    `maillog_file = ${maillog}`,
    // A deferred message is retried within seconds, not the production minutes.
    'queue_run_delay = 1s',
    'minimal_backoff_time = 1s',
    'maximal_backoff_time = 2s',
    '',
  ].join('\n');
  const snippet = await readFile(
    new URL(`../../config/postfix/master.cf.${options.mode}`, import.meta.url),
    'utf8',
  );
  const ports = {
    smtpd: options.smtpdPort,
    filter: options.filterPort,
    reinject: options.reinjectPort,
    ...(options.milterPort ? { milter: options.milterPort } : {}),
  };
  // The milter set-up keeps Postfix's own smtpd on the public port and adds main.cf lines.
  const smtpd = options.mode === 'milter' ? `127.0.0.1:${options.smtpdPort} inet n - n - - smtpd\n` : '';
  const masterCf = `${BASE_MASTER_CF}\n${smtpd}${adaptSnippet(snippet, ports)}\n`;
  let extra = '';
  if (options.mode === 'milter') {
    const documented = await readFile(
      new URL('../../config/postfix/main.cf.milter', import.meta.url),
      'utf8',
    );
    extra = documented
      .replaceAll('127.0.0.1:11332', `127.0.0.1:${options.milterPort ?? 11332}`)
      .split('\n')
      .map((line) => {
        const key = /^(\w+)\s*=/.exec(line)?.[1];
        return key && options.mainCf?.[key] !== undefined ? `${key} = ${options.mainCf[key]}` : line;
      })
      .join('\n');
  }
  await writeFile(path.join(conf, 'main.cf'), `${mainCf}${extra}\n`);
  await writeFile(path.join(conf, 'master.cf'), masterCf);
  const log = () => readFile(maillog, 'utf8').catch(() => '');
  try {
    await run(POSTFIX, ['-c', conf, 'start']);
    await waitForPort(options.smtpdPort, 15_000);
  } catch (err) {
    await run(POSTFIX, ['-c', conf, 'abort']).catch(() => undefined);
    throw new Error(`postfix failed to start: ${(err as Error).message}\n${await log()}`);
  }
  return {
    port: options.smtpdPort,
    conf,
    log,
    async stop() {
      await run(POSTFIX, ['-c', conf, 'stop']).catch(() => run(POSTFIX, ['-c', conf, 'abort']));
      await rm(root, { recursive: true, force: true });
    },
  };
}

/** A short ham and spam of the test corpus, with the CRLF line ends an MTA sends. */
export function postfixSamples(): { ham: Buffer; spam: Buffer } {
  const corpus = loadSpamAssassin('test');
  const crlf = (b: Buffer) => Buffer.from(b.toString('latin1').replace(/\r?\n/g, '\r\n'), 'latin1');
  const first = (label: 'ham' | 'spam', under: number) => {
    const found = corpus.find((m) => m.label === label && m.raw.length < under);
    if (!found) throw new Error(`no ${label} under ${under} bytes in the test corpus`);
    return crlf(found.raw);
  };
  return { ham: first('ham', 4000), spam: first('spam', 6000) };
}

/** Waits for what Postfix does in its own time (queue runs, retries, log lines). */
export const waitForPostfix = <T>(
  what: string,
  check: () => T | false | undefined | Promise<T | false | undefined>,
) => waitFor(what, check, { timeoutMs: 20_000, intervalMs: 100 });

export interface PostfixWorld {
  /** Postfix's next hop. */
  sink: Sink;
  postfix: PostfixInstance;
  /** The running MailSentra (throws once `stopService` ran). */
  service(): TestService;
  /** Stops MailSentra alone (Postfix keeps running). */
  stopService(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * MailSentra wired into a real Postfix in `mode` (config/postfix/ with test ports): Postfix delivers to a
 * recording sink, and MailSentra relays (and releases) back to Postfix's re-injection listener. Fails, never
 * skips, where Postfix is missing or the test is not root.
 */
export async function startPostfixWorld(
  mode: PostfixMode,
  config: DeepPartial<Config> = {},
): Promise<PostfixWorld> {
  await access(POSTFIX, constants.X_OK).catch(() => {
    throw new Error(`${POSTFIX} is missing: install Debian's postfix package (.ci/run does)`);
  });
  if (process.getuid?.() !== 0) throw new Error('starting a real Postfix needs root (CI runs as root)');
  const sink = await startSink();
  const reinjectPort = await freePort();
  const svc = await startTestService({
    sink,
    config: { ...config, relay: { ...config.relay, to: `127.0.0.1:${reinjectPort}` } },
  });
  const postfix = await startPostfix({
    mode,
    smtpdPort: await freePort(),
    filterPort: mode === 'milter' ? 0 : svc.smtpPort,
    reinjectPort,
    nextHopPort: sink.port,
    ...(mode === 'milter' ? { milterPort: svc.milterPort } : {}),
  }).catch(async (err: unknown) => {
    await svc.stop();
    await sink.close();
    throw err;
  });
  let running: TestService | null = svc;
  const stopService = async () => {
    const stopping = running;
    running = null;
    await stopping?.stop();
  };
  return {
    sink,
    postfix,
    service() {
      if (!running) throw new Error('MailSentra was stopped');
      return running;
    },
    stopService,
    async stop() {
      await postfix.stop();
      await stopService();
      await sink.close();
    },
  };
}
