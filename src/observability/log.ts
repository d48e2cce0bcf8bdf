/**
 * pino JSON logs. Events have stable names in `event` (ZoneMTA style); child loggers bind `sessionId` and
 * `messageId` so every line about a message carries its id. Keys, passwords and message bodies are redacted.
 */
import { type DestinationStream, type Logger, pino } from 'pino';

export type { Logger };

/**
 * A destination that blanks out every occurrence of the given secrets (config values such as a database URL's
 * password) before a line is written: errors from client libraries quote connection strings in their messages,
 * which no redaction path can foresee.
 */
export function maskingDestination(dest: DestinationStream, secrets: readonly string[]): DestinationStream {
  const needles = [...new Set(secrets.flatMap((s) => [s, JSON.stringify(s).slice(1, -1)]))].filter(
    (s) => s.length > 0,
  );
  if (needles.length === 0) return dest;
  const flushable = dest as DestinationStream & { flushSync?: () => void };
  return {
    write(line: string) {
      let out = line;
      for (const n of needles) if (out.includes(n)) out = out.replaceAll(n, '****');
      dest.write(out);
    },
    ...(flushable.flushSync ? { flushSync: () => flushable.flushSync?.() } : {}),
  } as DestinationStream;
}

export function createLogger(
  level: string,
  destination: DestinationStream = pino.destination(1),
  secrets: readonly string[] = [],
): Logger {
  return pino(
    {
      level,
      // pid tells the processes of a cluster (smtp.processes) apart.
      base: { service: 'mailsentra', pid: process.pid },
      redact: {
        paths: [
          'key',
          '*.key',
          'apiKey',
          '*.apiKey',
          'password',
          '*.password',
          'authorization',
          '*.authorization',
          'req.headers.authorization',
          'raw',
          '*.raw',
          'body',
          '*.body',
        ],
        censor: '[redacted]',
      },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    maskingDestination(destination, secrets),
  );
}

/** A logger that writes nothing, for tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
