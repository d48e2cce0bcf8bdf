/** Clients for tests: nodemailer (a real SMTP client) and a raw socket for byte-exact protocol abuse. */
import net from 'node:net';
import nodemailer from 'nodemailer';

export interface SendResult {
  ok: boolean;
  code: number;
  response: string;
}

export async function send(
  port: number,
  envelope: { from: string; to: string[] },
  raw: Buffer | string,
  options: { helo?: string } = {},
): Promise<SendResult> {
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port,
    ...(options.helo ? { name: options.helo } : {}),
    secure: false,
    ignoreTLS: true,
    logger: false,
  });
  try {
    const info = await transport.sendMail({ envelope, raw });
    return { ok: true, code: Number(info.response.slice(0, 3)), response: info.response };
  } catch (err) {
    const e = err as { responseCode?: number; response?: string; message: string };
    return { ok: false, code: e.responseCode ?? 0, response: e.response ?? e.message };
  } finally {
    transport.close();
  }
}

/** Speaks SMTP line by line over a raw socket; returns every reply line group in order. */
export async function rawSession(
  port: number,
  steps: (string | Buffer)[],
  timeoutMs = 5000,
  /** Written on connect, before the greeting (a PROXY protocol header). */
  preamble?: string,
): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    if (preamble !== undefined) socket.write(preamble);
    const replies: string[] = [];
    let buffer = '';
    let i = 0;
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(replies);
    }, timeoutMs);
    socket.on('data', (d) => {
      buffer += d.toString('latin1');
      // A complete reply ends with a line "NNN text" (space, not dash).
      for (;;) {
        const m = /^((?:\d{3}-[^\r\n]*\r\n)*\d{3} [^\r\n]*\r\n)/.exec(buffer);
        if (!m) break;
        replies.push((m[1] as string).trim());
        buffer = buffer.slice((m[1] as string).length);
        const next = steps[i++];
        if (next === undefined) {
          clearTimeout(timer);
          socket.end();
          resolve(replies);
          return;
        }
        socket.write(next);
      }
    });
    socket.on('error', (e) => {
      clearTimeout(timer);
      if (replies.length > 0) resolve(replies);
      else reject(e);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(replies);
    });
  });
}
