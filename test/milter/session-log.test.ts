/**
 * A milter session's own log lines (the pipeline logs each decided message under its own child): the
 * message's queue id and the connection's id are on each, though the child logger is made only when a line
 * is written.
 */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { Cmd, type Packet } from '../../src/milter/protocol.js';
import { createSession, type ProcessMessage } from '../../src/milter/session.js';
import { createLogger } from '../../src/observability/log.js';

function session(process: ProcessMessage) {
  const lines: Record<string, unknown>[] = [];
  const sent: Buffer[] = [];
  const config = loadConfig({ file: null, env: {}, overrides: { smtp: { maxMessageSize: 1024 } } });
  const logger = createLogger('info', { write: (line: string) => void lines.push(JSON.parse(line)) });
  const s = createSession('m7', {
    config,
    logger,
    process,
    overTcp: true,
    send: (b) => void sent.push(b),
    end() {},
  });
  return { s, lines, sent };
}

const packet = (cmd: string, data: string | Buffer = ''): Packet => ({
  cmd,
  data: typeof data === 'string' ? Buffer.from(data, 'latin1') : data,
});

async function message(s: ReturnType<typeof createSession>, body: Buffer) {
  const optneg = Buffer.alloc(12);
  optneg.writeUInt32BE(6, 0);
  optneg.writeUInt32BE(0x1ff, 4);
  optneg.writeUInt32BE(0x1fffff, 8);
  for (const p of [
    packet(Cmd.OPTNEG, optneg),
    packet(Cmd.MACRO, 'Mi\0QID7\0'),
    packet(Cmd.MAIL, '<alice@example.org>\0'),
    packet(Cmd.RCPT, '<bob@example.net>\0'),
    packet(Cmd.HEADER, 'Subject\0 hello\0'),
    packet(Cmd.EOH),
    packet(Cmd.BODY, body),
    packet(Cmd.EOM),
  ])
    await s.handle(p);
}

describe('milter session log', () => {
  it('names the queue id and the connection on a message over the size limit', async () => {
    const { s, lines } = session(async () => {
      throw new Error('not reached');
    });
    await message(s, Buffer.alloc(4000, 'a'));
    const line = lines.find((l) => l.event === 'MILTER_TOO_BIG');
    expect(line).toMatchObject({ queueId: 'QID7', milterConnection: 'm7' });
  });

  it('names them on an unexpected failure of the pipeline, and answers 4xx', async () => {
    const { s, lines, sent } = session(async () => {
      throw new Error('boom');
    });
    await message(s, Buffer.from('hi\r\n'));
    expect(lines.find((l) => l.event === 'MILTER_MESSAGE_FAILED')).toMatchObject({
      queueId: 'QID7',
      milterConnection: 'm7',
      err: 'boom',
    });
    const answer = Buffer.concat(sent).toString('latin1');
    expect(answer).toContain('451');
  });
});
