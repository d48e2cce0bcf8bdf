/** What a model has learned from the feedback table, and what its next sync reads (pure logic). */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createFeedbackLedger, LOOKBACK_MS, MAX_UUID } from '../../src/pipeline/feedback-ledger.js';

const versionCreated = new Date('2025-03-04T10:00:00Z');
const at = (ms: number) => new Date(versionCreated.getTime() + ms);
const row = (ms: number) => ({ createdAt: at(ms), id: randomUUID() });
const fresh = () => createFeedbackLedger({ createdAt: versionCreated, id: MAX_UUID });

describe('feedback ledger', () => {
  it('reads from the version’s creation until a row is applied', () => {
    expect(fresh().window()).toEqual({ after: { createdAt: versionCreated, id: MAX_UUID }, exclude: [] });
  });

  it('re-reads the last LOOKBACK_MS before the newest row applied, leaving out the rows applied there', () => {
    const ledger = fresh();
    const old = row(1000);
    const newest = row(LOOKBACK_MS + 5000);
    ledger.add(old);
    ledger.add(newest);
    // A row dated before `newest` may still commit: the window reaches back, and skips what it has.
    const { after, exclude } = ledger.window();
    expect(after).toEqual({ createdAt: at(5000), id: MAX_UUID });
    expect(exclude).toEqual([newest.id]);
    // `old` can never be read again, so it is no longer remembered; `newest` is.
    expect(ledger.has(old.id)).toBe(false);
    expect(ledger.has(newest.id)).toBe(true);
  });

  it('never reaches back before the version’s creation, or before where a capped replay started', () => {
    const ledger = fresh();
    ledger.add(row(10));
    expect(ledger.window().after).toEqual({ createdAt: versionCreated, id: MAX_UUID });
    const firstReplayed = row(5);
    ledger.startAfter(firstReplayed);
    expect(ledger.window().after).toEqual(firstReplayed);
    ledger.startAfter({ createdAt: versionCreated, id: MAX_UUID }); // only forward
    expect(ledger.window().after).toEqual(firstReplayed);
  });

  it('names the rows learned: none is empty, the same rows in any order agree, any other row differs', () => {
    const [a, b, c] = [row(1), row(2), row(3)];
    const one = fresh();
    const other = fresh();
    expect(one.generation()).toBe('');
    one.add(a!);
    one.add(b!);
    other.add(b!);
    expect(other.generation()).not.toBe(one.generation());
    other.add(a!);
    expect(other.generation()).toBe(one.generation());
    other.add(c!);
    expect(other.generation()).not.toBe(one.generation());
  });
});
