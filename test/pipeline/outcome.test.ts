import { describe, expect, it } from 'vitest';
import { SmtpError } from '../../src/errors.js';
import { type Outcome, respond, type Verdict } from '../../src/pipeline/outcome.js';

const id = '00000000-0000-4000-8000-000000000001';
const verdict = (action: Verdict['action']): Verdict => ({
  action,
  reason: 'score 0.990 >= reject 0.950',
  scan: null,
  required: 0.5,
});

/** Each outcome → the error code and SMTP reply upstream gets; a 250 carries no error. */
const table: [Outcome, string | null, number][] = [
  [{ kind: 'bare-line-ending' }, 'BARE_LINE_ENDING', 550],
  [{ kind: 'scan-failed', error: 'boom' }, 'LOCAL_TEMPFAIL', 451],
  [{ kind: 'rejected', verdict: verdict('reject') }, 'REJECTED_POLICY', 550],
  [{ kind: 'quarantined', verdict: verdict('quarantine') }, null, 250],
  [{ kind: 'quarantine-failed', verdict: verdict('quarantine') }, 'LOCAL_TEMPFAIL', 451],
  [
    { kind: 'handed-on', verdict: verdict('pass'), handOff: { result: 'accepted', response: '250 ok' } },
    null,
    250,
  ],
  [
    {
      kind: 'handed-on',
      verdict: verdict('pass'),
      handOff: { result: 'deferred', response: '421 busy', detail: 'Next hop busy' },
    },
    'RELAY_TEMPFAIL',
    451,
  ],
  [
    {
      kind: 'handed-on',
      verdict: verdict('pass'),
      handOff: { result: 'refused', code: 550, response: '550 5.1.1 no such user' },
    },
    'NEXT_HOP_REFUSED',
    550,
  ],
];

describe('respond(): outcome → reply', () => {
  it.each(table)('%o → %s %i', (outcome, code, responseCode) => {
    const { reply, response } = respond(outcome, id);
    expect(reply.code).toBe(responseCode);
    expect(reply.error?.code ?? null).toBe(code);
    if (reply.error) {
      // The transport hands this error on as it is: smtp-server sends responseCode and message.
      expect(reply.error).toBeInstanceOf(SmtpError);
      expect(reply.error.responseCode).toBe(responseCode);
      expect(reply.error.message).toBe(reply.text);
      expect(reply.text).toMatch(/^[245]\.\d+\.\d+ /);
    }
    expect(response).toMatch(/^\d{3} /);
  });
});
