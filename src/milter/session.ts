/**
 * One milter connection's conversation: negotiation, the SMTP stages as the MTA reports them, the message
 * collected from its headers and body chunks, and at end of message the pipeline's decision turned into
 * milter replies. The MTA keeps the SMTP conversation and the queue; the milter only decides.
 *
 * Commands are handled strictly in order (a command after EOM waits for its answer). ABORT forgets the
 * message and keeps the connection; QUIT_NC forgets the connection's client too (the MTA reuses the
 * socket for another SMTP session). A protocol error ends this connection only (the caller closes it).
 */
import type { Config } from '../config/schema.js';
import { smtpErrors } from '../errors.js';
import type { Logger } from '../observability/log.js';
import type { Reply as PipelineReply } from '../pipeline/process-message.js';
import type { Delivery, Transport } from '../pipeline/transport.js';
import { type ModificationContext, modifications, type ReceivedHeader } from './modifications.js';
import {
  Action,
  Cmd,
  type ConnectInfo,
  encode,
  encodeOptNeg,
  MilterProtocolError,
  NO_REPLY,
  negotiate,
  type OptNeg,
  type Packet,
  parseConnect,
  parseMacros,
  parseOptNeg,
  Reply,
  replyCode,
  Step,
  splitStrings,
  unbracket,
} from './protocol.js';

export type ProcessMessage = ((delivery: Delivery, transport: Transport) => Promise<PipelineReply>) & {
  /** A message over smtp.maxMessageSize (`delivery.raw` is what was kept of it): its log row and reply. */
  tooBig?(delivery: Delivery, size: number): PipelineReply;
};

export interface SessionDeps {
  config: Config;
  logger: Logger;
  process: ProcessMessage;
  /** The MTA is reached over TCP (not a unix socket): negotiation then asks it for DATA, to answer it. */
  overTcp: boolean;
  /** Writes to the MTA (ignored once the connection is gone). */
  send(data: Buffer): void;
  /** Ends the connection (QUIT). */
  end(): void;
}

interface Message {
  mailFrom: string;
  rcptTo: string[];
  /** RCPT arguments as sent, by bare address. */
  rcptArgs: Map<string, string>;
  headers: ReceivedHeader[];
  body: Buffer[];
  size: number;
  tooBig: boolean;
}

const newMessage = (mailFrom = ''): Message => ({
  mailFrom,
  rcptTo: [],
  rcptArgs: new Map(),
  headers: [],
  body: [],
  size: 0,
  tooBig: false,
});

/** Macros sent before the connection and HELO stages survive a new message; the others belong to it. */
const CONNECTION_STAGES = new Set<string>([Cmd.CONNECT, Cmd.HELO]);
/** The stages whose macros are read (`macro()`); those of any other stage are not kept. */
const MACRO_STAGES = new Set<string>([Cmd.CONNECT, Cmd.HELO, Cmd.MAIL, Cmd.RCPT, Cmd.DATA, Cmd.EOH, Cmd.EOM]);
/** One stage's macros: an MTA sends a few short values (queue id, daemon name, TLS and auth facts). */
const MAX_MACRO_BYTES = 64 * 1024;

export function createSession(id: string, deps: SessionDeps) {
  const { config, logger, process } = deps;
  const maxSize = config.smtp.maxMessageSize;
  let agreed: OptNeg | null = null;
  let macros = new Map<string, Map<string, string>>();
  let client: ConnectInfo | null = null;
  let helo: string | null = null;
  let message: Message | null = null;
  let messages = 0;

  const reply = (cmd: string) => {
    const bit = NO_REPLY[cmd];
    if (bit !== undefined && agreed && agreed.steps & bit) return;
    deps.send(encode(Reply.CONTINUE));
  };

  function macro(name: string): string | null {
    for (const stage of [Cmd.EOM, Cmd.EOH, Cmd.DATA, Cmd.RCPT, Cmd.MAIL, Cmd.HELO, Cmd.CONNECT]) {
      const v = macros.get(stage)?.get(name);
      if (v !== undefined) return v;
    }
    return null;
  }

  function forgetMessage(): void {
    message = null;
    for (const stage of macros.keys()) if (!CONNECTION_STAGES.has(stage)) macros.delete(stage);
  }

  function current(): Message {
    message ??= newMessage();
    return message;
  }

  function addBody(chunk: Buffer): void {
    const m = current();
    m.size += chunk.length;
    if (m.size > maxSize) {
      m.tooBig = true;
      m.body = [];
    } else m.body.push(chunk);
  }

  function rebuild(m: Message, leadingSpace: boolean): Buffer {
    // Folded values may come with bare LF between their lines; the message is rebuilt with CRLF throughout.
    const head = m.headers
      .map((h) => `${h.name}:${leadingSpace ? '' : ' '}${h.value.replace(/\r?\n/g, '\r\n')}\r\n`)
      .join('');
    return Buffer.concat([Buffer.from(`${head}\r\n`, 'latin1'), ...m.body]);
  }

  async function endOfMessage(): Promise<void> {
    const m = current();
    const negotiated = agreed as OptNeg;
    const queueId = macro('i');
    messages++;
    // Made on first use, as the connection's: the pipeline logs the message under its own child.
    let messageLog: Logger | null = null;
    const log = () =>
      (messageLog ??= logger.child({ milterConnection: id, queueId, client: client?.address ?? null }));
    const leadingSpace = (negotiated.steps & Step.HDR_LEADSPC) !== 0;
    const delivery: Delivery = {
      sessionId: queueId ?? `${id}.${messages}`,
      clientIp: client && (client.family === '4' || client.family === '6') ? client.address : null,
      clientHelo: helo,
      mailFrom: m.mailFrom,
      rcptTo: m.rcptTo,
      raw: rebuild(m, leadingSpace),
      receivedAt: new Date(),
    };
    if (m.tooBig) {
      log().info({ event: 'MILTER_TOO_BIG', size: m.size }, 'message over smtp.maxMessageSize');
      const refused = deps.process.tooBig?.(delivery, m.size);
      const e = refused?.error ?? smtpErrors.messageTooBig(maxSize);
      deps.send(replyCode(e.responseCode, e.message));
      return;
    }
    const ctx: ModificationContext = {
      headers: m.headers,
      actions: negotiated.actions,
      leadingSpace,
      recipientArgs: m.rcptArgs,
    };
    let changes: Buffer[] | null = null;
    const transport: Transport = {
      splitsRecipients: (negotiated.actions & Action.DELRCPT) !== 0,
      async handOn(h) {
        changes = modifications(h, h.quarantined, ctx);
        return { result: 'accepted', response: `returned to the MTA${queueId ? ` as ${queueId}` : ''}` };
      },
    };
    // The MTA waits for this answer under its own timeout (Postfix: milter_content_timeout); PROGRESS
    // restarts that timer while a slow scan or a slow database keeps the decision back.
    const progress = setInterval(() => deps.send(encode(Reply.PROGRESS)), config.milter.progressIntervalMs);
    let answer: PipelineReply;
    try {
      answer = await process(delivery, transport);
    } catch (err) {
      // A defect must not lose mail: the MTA keeps it and the sender retries.
      log().error({ event: 'MILTER_MESSAGE_FAILED', err: (err as Error).message }, 'unexpected failure');
      const e = smtpErrors.localTempfail();
      answer = { code: e.responseCode, text: e.message, error: e };
    } finally {
      clearInterval(progress);
    }
    const made = changes as Buffer[] | null;
    if (answer.code === 250 && made) {
      // One write for the whole answer: each socket write is a system call and, on loopback, the peer's
      // wake-up too; the MTA reads the packets in order either way.
      deps.send(Buffer.concat([...made, encode(Reply.ACCEPT)]));
    } else if (answer.code === 250) {
      // Held in quarantine for every recipient: the MTA drops its copy, ours is committed.
      deps.send(encode(Reply.DISCARD));
    } else {
      deps.send(replyCode(answer.code, answer.text));
    }
  }

  /** Handles one packet. Throws MilterProtocolError on a malformed or out-of-place one. */
  async function handle(p: Packet): Promise<void> {
    if (p.cmd !== Cmd.OPTNEG && agreed === null) {
      throw new MilterProtocolError(`command '${p.cmd}' before option negotiation`);
    }
    switch (p.cmd) {
      case Cmd.OPTNEG:
        agreed = negotiate(parseOptNeg(p.data), deps.overTcp);
        deps.send(encodeOptNeg(agreed));
        return;
      case Cmd.MACRO: {
        // Bounded, so that one connection cannot hold more than a few stages' worth of them.
        if (p.data.length > MAX_MACRO_BYTES)
          throw new MilterProtocolError(`macros of ${p.data.length} bytes exceed ${MAX_MACRO_BYTES}`);
        const { for: stage, macros: pairs } = parseMacros(p.data);
        if (MACRO_STAGES.has(stage)) macros.set(stage, new Map(pairs));
        return;
      }
      case Cmd.CONNECT:
        client = parseConnect(p.data);
        helo = null;
        forgetMessage();
        return reply(p.cmd);
      case Cmd.HELO:
        helo = splitStrings(p.data)[0] ?? '';
        return reply(p.cmd);
      case Cmd.MAIL: {
        const [from] = splitStrings(p.data);
        if (from === undefined) throw new MilterProtocolError('MAIL without a sender');
        // Macros sent for this MAIL arrived just before it: keep those, forget the last message's.
        const mailMacros = macros.get(Cmd.MAIL);
        forgetMessage();
        if (mailMacros) macros.set(Cmd.MAIL, mailMacros);
        message = newMessage(unbracket(from));
        return reply(p.cmd);
      }
      case Cmd.RCPT: {
        const [arg] = splitStrings(p.data);
        if (arg === undefined) throw new MilterProtocolError('RCPT without a recipient');
        const m = current();
        // The envelope counts toward smtp.maxMessageSize as the headers and body do: an MTA (or a peer
        // posing as one) sending recipients without end gets 552 at the end, not the service's memory.
        m.size += arg.length;
        if (m.size > maxSize) m.tooBig = true;
        if (m.tooBig) return reply(p.cmd);
        const address = unbracket(arg);
        m.rcptTo.push(address);
        m.rcptArgs.set(address, arg);
        return reply(p.cmd);
      }
      case Cmd.HEADER: {
        const [name, value] = splitStrings(p.data);
        if (name === undefined || value === undefined || name === '') {
          throw new MilterProtocolError('malformed HEADER');
        }
        const m = current();
        m.size += name.length + value.length + 4;
        if (m.size > maxSize) m.tooBig = true;
        else m.headers.push({ name, value });
        return reply(p.cmd);
      }
      case Cmd.BODY:
        addBody(p.data);
        return reply(p.cmd);
      case Cmd.DATA:
      case Cmd.EOH:
      case Cmd.UNKNOWN:
        return reply(p.cmd);
      case Cmd.EOM:
        // Sendmail may put the last body chunk into EOM itself.
        if (p.data.length > 0) addBody(p.data);
        await endOfMessage();
        forgetMessage();
        return;
      case Cmd.ABORT:
        forgetMessage();
        return;
      case Cmd.QUIT_NC:
        forgetMessage();
        macros = new Map();
        client = null;
        helo = null;
        return;
      case Cmd.QUIT:
        deps.end();
        return;
      default:
        throw new MilterProtocolError(`unknown command 0x${p.cmd.charCodeAt(0).toString(16)}`);
    }
  }

  return {
    handle,
    /** A message is being collected or decided (graceful shutdown waits for it). */
    get busy() {
      return message !== null;
    },
  };
}
