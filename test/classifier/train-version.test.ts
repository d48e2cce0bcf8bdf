/**
 * trainVersion() learns site feedback with the sender-authentication signals it was scanned with, so a
 * retrained version keeps what feedback taught those weights (the bundled corpus has no live results).
 */
import { describe, expect, it } from 'vitest';
import { fnv1a } from '../../src/classifier/common.js';
import { loadSpamAssassin } from '../../src/classifier/corpus.js';
import { signalFeatures } from '../../src/classifier/signals.js';
import { type RawLabelled, trainVersion } from '../../src/classifier/train-version.js';

describe('trainVersion and auth signals', () => {
  it('trains feedback with its signals: spoofed spam teaches x:dmarc-fail-reject a spam weight', () => {
    const test = loadSpamAssassin('test');
    const pick = (label: 'ham' | 'spam', n: number, skip = 0) =>
      test.filter((m) => m.label === label).slice(skip, skip + n);
    const site: RawLabelled[] = [...pick('ham', 30), ...pick('spam', 30)];
    const feedback: RawLabelled[] = [
      ...pick('spam', 12, 30).map((m) => ({
        raw: m.raw,
        label: 'spam' as const,
        authSignals: ['dmarc-fail-reject'],
      })),
      ...pick('ham', 12, 30).map((m) => ({ raw: m.raw, label: 'ham' as const, authSignals: ['dmarc-pass'] })),
    ];
    const weight = (name: string, withSignals: boolean) => {
      const { model } = trainVersion({
        maxBytes: 512_000,
        versionPrefix: 'test',
        site,
        bundled: false,
        sources: 'test',
        feedback: withSignals ? feedback : feedback.map(({ raw, label }) => ({ raw, label })),
      });
      const [feature] = signalFeatures([name]);
      return model.table.knownWeight(fnv1a(feature as string));
    };
    expect(weight('dmarc-fail-reject', true)).toBeGreaterThan(0);
    expect(weight('dmarc-pass', true)).toBeLessThan(0);
    expect(weight('dmarc-fail-reject', false)).toBeUndefined();
  }, 120_000);
});
