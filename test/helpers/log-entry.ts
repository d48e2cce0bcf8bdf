/** A verdict-log entry for tests: an ordinary delivered message, with whatever a test cares about overridden. */
import { randomUUID } from 'node:crypto';
import type { MessageLogEntry } from '../../src/store/types.js';

export function logEntry(overrides: Partial<MessageLogEntry> = {}): MessageLogEntry {
  return {
    id: randomUUID(),
    receivedAt: new Date(),
    sessionId: 's',
    clientIp: null,
    clientHelo: null,
    mailFrom: 'a@example.org',
    rcptTo: ['b@example.net'],
    messageIdHeader: null,
    headerFrom: null,
    subject: null,
    size: 1,
    contentHash: 'h',
    score: 0,
    action: 'pass',
    reason: 'r',
    modelVersion: null,
    topFeatures: [],
    scanMs: 0,
    totalMs: 1,
    status: 'delivered',
    response: null,
    raw: null,
    ...overrides,
  };
}
