/**
 * Every error code that crosses a boundary, declared once. SMTP errors carry `responseCode` (smtp-server sends
 * `err.responseCode || 450`) and the enhanced status at the start of the message; HTTP errors carry
 * `statusCode` and become `{ "error": code, "message": text }`. Tests assert on codes, not text.
 */

export class SmtpError extends Error {
  constructor(
    readonly code: string,
    readonly responseCode: number,
    readonly enhanced: string,
    text: string,
  ) {
    super(`${enhanced} ${text}`);
    this.name = 'SmtpError';
  }
}

export const smtpErrors = {
  relayTempfail: (text = 'Next hop temporarily unavailable, try again later') =>
    new SmtpError('RELAY_TEMPFAIL', 451, '4.4.1', text),
  relayTimeout: () => new SmtpError('RELAY_TIMEOUT', 451, '4.4.2', 'Next hop timed out, try again later'),
  localTempfail: (text = 'Local error in processing, try again later') =>
    new SmtpError('LOCAL_TEMPFAIL', 451, '4.3.0', text),
  rejectedAsSpam: (score: number, ref: string) =>
    new SmtpError(
      'REJECTED_SPAM',
      550,
      '5.7.1',
      `Message rejected as spam (score ${score.toFixed(3)}, ref ${ref})`,
    ),
  messageTooBig: (limit: number) =>
    new SmtpError(
      'MESSAGE_TOO_BIG',
      552,
      '5.3.4',
      `Message size exceeds fixed maximum message size (${limit} bytes)`,
    ),
  tooManyRecipients: () => new SmtpError('TOO_MANY_RECIPIENTS', 452, '4.5.3', 'Too many recipients'),
  tooManySessions: () =>
    new SmtpError('TOO_MANY_SESSIONS', 421, '4.7.0', 'Too many connections, try again later'),
  clientNotAllowed: () => new SmtpError('CLIENT_NOT_ALLOWED', 554, '5.7.1', 'Client host not allowed'),
  bareLineEnding: () =>
    new SmtpError('BARE_LINE_ENDING', 550, '5.6.0', 'Bare LF or CR in message; lines must end with CRLF'),
} as const;

export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export const httpErrors = {
  badRequest: (message: string) => new HttpError(400, 'BAD_REQUEST', message),
  unauthorized: () => new HttpError(401, 'UNAUTHORIZED', 'missing or invalid credentials'),
  forbidden: (action: string) => new HttpError(403, 'FORBIDDEN', `your role may not ${action}`),
  notFound: (what: string) => new HttpError(404, 'NOT_FOUND', `${what} not found`),
  conflict: (message: string) => new HttpError(409, 'CONFLICT', message),
  gone: (message: string) => new HttpError(410, 'GONE', message),
  unavailable: (message: string) => new HttpError(503, 'UNAVAILABLE', message),
  relayFailed: (message: string) => new HttpError(502, 'RELAY_FAILED', message),
} as const;

/**
 * A user mistake or a refusal on the command line: one line on stderr (`mailsentra: <message>`) and
 * `exitCode` (2 usage, the shell convention; sysexits 66 no input, 75 try again later, 78 config); never a stack trace.
 */
export class CliError extends Error {
  constructor(
    readonly code: string,
    readonly exitCode: number,
    message: string,
  ) {
    super(message);
    this.name = 'CliError';
  }
}
