/**
 * pino JSON logs. Events have stable names in `event` (ZoneMTA style); child loggers bind `sessionId` and
 * `messageId` so every line about a message carries its id. Keys, passwords and message bodies are redacted.
 */
import { type DestinationStream, type Logger, pino } from 'pino';

export type { Logger };

export function createLogger(level: string, destination?: DestinationStream): Logger {
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
    destination,
  );
}

/** A logger that writes nothing, for tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
