/**
 * Every error code that crosses a boundary, declared once with its status. SMTP errors carry `responseCode`
 * (smtp-server sends `err.responseCode || 450` and `err.message`, so an SmtpError goes to its callbacks as it
 * is) and the enhanced status at the start of the message; HTTP errors carry `statusCode` and become
 * `{ "error": code, "message": text }`. Tests assert on codes, not text.
 */

export class SmtpError extends Error {
  /** `message` is the reply text after the basic code, starting with the enhanced status code. */
  constructor(
    readonly code: string,
    readonly responseCode: number,
    message: string,
  ) {
    super(message);
    this.name = 'SmtpError';
  }
}

const smtp = (code: string, responseCode: number, enhanced: string, text: string) =>
  new SmtpError(code, responseCode, `${enhanced} ${text}`);

export const smtpErrors = {
  /** The next hop cannot take the message now; `detail` says why. */
  relayTempfail: (detail: string) => smtp('RELAY_TEMPFAIL', 451, '4.4.1', detail),
  /** The next hop's own refusal passed upstream as it was given (`text` after the basic code). */
  nextHopRefused: (responseCode: number, text: string) =>
    new SmtpError('NEXT_HOP_REFUSED', responseCode, text),
  localTempfail: (text = 'Local error in processing, try again later') =>
    smtp('LOCAL_TEMPFAIL', 451, '4.3.0', text),
  rejectedAsSpam: (score: number, ref: string) =>
    smtp('REJECTED_SPAM', 550, '5.7.1', `Message rejected as spam (score ${score.toFixed(3)}, ref ${ref})`),
  /** A policy reject without a score (DMARC p=reject): the reason says which rule. */
  rejectedByPolicy: (reason: string, ref: string) =>
    smtp(
      'REJECTED_POLICY',
      550,
      '5.7.1',
      `Message rejected: ${reason.replace(/[^\x20-\x7e]/g, '?').slice(0, 300)} (ref ${ref})`,
    ),
  messageTooBig: (limit: number) =>
    smtp('MESSAGE_TOO_BIG', 552, '5.3.4', `Message size exceeds fixed maximum message size (${limit} bytes)`),
  tooManyRecipients: () => smtp('TOO_MANY_RECIPIENTS', 452, '4.5.3', 'Too many recipients'),
  tooManySessions: () => smtp('TOO_MANY_SESSIONS', 421, '4.7.0', 'Too many connections, try again later'),
  clientNotAllowed: () => smtp('CLIENT_NOT_ALLOWED', 554, '5.7.1', 'Client host not allowed'),
  bareLineEnding: () =>
    smtp('BARE_LINE_ENDING', 550, '5.6.0', 'Bare LF or CR in message; lines must end with CRLF'),
  tooManyMessages: () =>
    smtp('TOO_MANY_MESSAGES', 421, '4.7.0', 'Too many messages in this session, reconnect to send more'),
  readFailed: (detail: string) => smtp('READ_FAILED', 451, '4.3.0', `Error reading message: ${detail}`),
  shuttingDown: () => smtp('SHUTTING_DOWN', 421, '4.3.2', 'Service shutting down, try again later'),
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
  relayFailed: (message: string) => new HttpError(502, 'RELAY_FAILED', message),
} as const;

/**
 * A user mistake or a refusal on the command line: one line on stderr (`mailsentra: <message>`) and
 * `exitCode` (2 usage, the shell convention; sysexits 66 no input, 75 try again later, 77 no permission,
 * 78 config); never a stack trace.
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

/**
 * A listener `serve` could not open, naming the setting and the address: exit 75 when another process
 * holds the address (a restart after it lets go succeeds), 77 without the permission, 78 when the address
 * is not one of this host's (the setting is wrong).
 */
export class ListenError extends CliError {
  constructor(setting: string, address: string, cause: NodeJS.ErrnoException) {
    const [why, exitCode] =
      cause.code === 'EADDRINUSE'
        ? ['another process is listening there', 75]
        : cause.code === 'EACCES'
          ? [
              address.startsWith('/')
                ? // libuv reports a missing folder as EACCES too.
                  'cannot create a socket there (its folder is missing or not writable by this user)'
                : 'permission denied (a port below 1024 needs root or CAP_NET_BIND_SERVICE)',
              77,
            ]
          : cause.code === 'EADDRNOTAVAIL'
            ? ['no interface of this host has that address', 78]
            : [cause.message, 1];
    super('LISTEN_FAILED', exitCode, `cannot listen on ${address} (${setting}): ${why}`);
    this.name = 'ListenError';
  }
}

/** A training request while this instance's job `jobId` runs: 409, naming the job to follow instead. */
export class TrainingRunningError extends HttpError {
  constructor(readonly jobId: string) {
    super(
      409,
      'CONFLICT',
      `training job ${jobId} is running; its outcome will be at /api/v1/models/jobs/${jobId}`,
    );
    this.name = 'TrainingRunningError';
  }
}

/** A `?cursor=` this service did not hand out: the client's mistake, not ours. */
export class CursorError extends HttpError {
  constructor() {
    super(400, 'BAD_CURSOR', 'cursor: not a cursor this API returned');
    this.name = 'CursorError';
  }
}

/** A model version asked for by name that is not stored. */
export class ModelNotFoundError extends HttpError {
  constructor(version: string) {
    super(404, 'MODEL_NOT_FOUND', `model version '${version}' does not exist`);
    this.name = 'ModelNotFoundError';
  }
}

/** A model artefact that cannot be read (damaged, truncated, unknown format): unprocessable as given. */
export class ModelError extends HttpError {
  constructor(message: string) {
    super(422, 'MODEL_INVALID', message);
    this.name = 'ModelError';
  }
}

/**
 * A stored model version in an artefact format this release no longer reads: it cannot score, so it is
 * refused at activation (HTTP 409) and at start (`exitCode`, sysexits EX_CONFIG: the installation needs a
 * step from its admin), with the step that fixes it.
 */
export class RetiredModelFormatError extends HttpError {
  readonly exitCode = 78;
  constructor(format: string, version: string | null) {
    super(
      409,
      'MODEL_FORMAT_RETIRED',
      `model version ${version ?? '(unnamed)'} is in the retired ${format} format, which this release does ` +
        'not read: train a new version (`mailsentra train`, or POST /api/v1/models/train and activate it)',
    );
    this.name = 'RetiredModelFormatError';
  }
}

/** Feature extraction ran past scanner.timeoutMs: the message may be retried later (SMTP 451, HTTP 503). */
export class ScanTimeoutError extends HttpError {
  constructor(message: string) {
    super(503, 'SCAN_TIMEOUT', message);
    this.name = 'ScanTimeoutError';
  }
}
