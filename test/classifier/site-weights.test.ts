/**
 * Site copies (site-weights.ts): feedback lands in a table of its own beside the trained weights, steps by the
 * model's error on the report, and an un-learn takes back the step its learn took — also after the model
 * went through its artefact or its start-up image.
 */
import { describe, expect, it } from 'vitest';
import { fnv1a } from '../../src/classifier/common.js';
import { DEFAULT_LINEAR_PARAMS, type LinearModel } from '../../src/classifier/linear-model.js';
import { deserializeModel } from '../../src/classifier/model.js';
import { decodeModelImage, encodeModelImage } from '../../src/classifier/model-image.js';
import { lessonKey } from '../../src/classifier/site-weights.js';
import { trainFromFeatures } from '../../src/classifier/train.js';

/** The copies' sum as it stands, whatever the reports in force. */
const RAW = { feedbackGrow: 0 };
const spammy = ['w:viagra', 'w:free', 'w:money', 'u:pills.example', 'w:click'];
const hammy = ['w:meeting', 'w:agenda', 'w:patch', 'w:review', 'w:thanks'];

function model(): LinearModel {
  const items = [];
  for (let i = 0; i < 40; i++) {
    items.push({ tokens: [...spammy, `w:noise${i}`], label: 'spam' as const });
    items.push({ tokens: [...hammy, `w:noise${i}`], label: 'ham' as const });
  }
  return trainFromFeatures(items);
}

const trainedWeights = (m: LinearModel) => {
  const out: number[] = [];
  for (let i = 0; i < m.table.capacity; i++) if (m.table.key(i) !== 0) out.push(m.table.weight(i));
  return out;
};

describe('site copies', () => {
  it('hold what feedback taught, and leave the trained weights as they were', () => {
    const m = model();
    const before = trainedWeights(m);
    const message = ['w:invoice', 'w:overdue', ...hammy];
    const score = m.score(message).score;
    m.learn(message, 'spam');
    expect(trainedWeights(m)).toEqual(before);
    expect(m.score(message).score).toBeGreaterThan(score);
    expect(m.site.table.weightOf(fnv1a('w:invoice'))).toBeGreaterThan(0);
    // A word the corpus never saw is taught as much as any: the copy starts from 0 for every feature.
    expect(m.site.table.weightOf(fnv1a('w:overdue'))).toBeGreaterThan(0.1);
    expect(m.site.reports).toBe(1);
  });

  it('count the same in a verdict as in the margin, and in its explanation with the trained part', () => {
    const m = model();
    m.learn(['w:invoice', 'w:overdue', ...hammy], 'spam');
    const message = ['w:invoice', 'w:overdue', 'w:meeting', 'w:unrelated'];
    const verdict = m.score(message);
    expect(verdict.score).toBe(m.probability(m.margin(message)));
    // w:overdue is known only to the site copies: the explanation names it, toward spam.
    expect(verdict.topFeatures.find((f) => f.feature === 'w:overdue')?.weight).toBeGreaterThan(0);
    const before = model().score(message);
    expect(before.topFeatures.find((f) => f.feature === 'w:overdue')).toBeUndefined();
  });

  it('step by the error the model makes on the report: one it already gets right teaches little', () => {
    const right = model();
    right.learn(spammy, 'spam');
    const wrong = model();
    wrong.learn(hammy, 'spam');
    const moved = (m: LinearModel, tokens: string[]) => m.site.margin(tokens, RAW);
    expect(moved(right, spammy)).toBeGreaterThan(0);
    expect(moved(wrong, hammy)).toBeGreaterThan(20 * moved(right, spammy));
    // Reported again, a lesson the model has learned steps less than the first time.
    const again = model();
    again.learn(hammy, 'spam');
    const first = again.site.margin(hammy, RAW);
    again.learn(hammy, 'spam');
    expect(again.site.margin(hammy, RAW) - first).toBeLessThan(first);
    expect(again.site.margin(hammy, RAW) - first).toBeGreaterThan(0);
  });

  it('count m / (m + feedbackGrow) of their sum with m reports in force: one report cannot swing the site', () => {
    const m = model();
    const message = ['w:invoice', 'w:overdue', 'w:wire'];
    m.learn(message, 'spam');
    const raw = m.site.margin(message, RAW);
    expect(raw).toBeGreaterThan(0);
    expect(m.params.feedbackGrow).toBe(10);
    expect(m.site.margin(message, m.params)).toBeCloseTo(raw / 11, 9);
    for (let i = 0; i < 9; i++) m.learn([`w:other${i}`], 'ham');
    expect(m.site.margin(message, m.params)).toBeCloseTo(raw / 2, 9);
    expect(m.margin(message) - m.margin([])).toBeGreaterThan(0);
  });

  it('step a ham report feedbackHam times as far as a spam report', () => {
    const message = ['w:invoice', 'w:overdue', 'w:wire'];
    const [asSpam, asHam] = [model(), model()];
    for (const m of [asSpam, asHam]) m.params = { ...m.params, feedbackError: false, feedbackHam: 2 };
    asSpam.learn(message, 'spam');
    asHam.learn(message, 'ham');
    expect(asSpam.site.margin(message, RAW)).toBeGreaterThan(0);
    expect(asHam.site.margin(message, RAW)).toBeCloseTo(-2 * asSpam.site.margin(message, RAW), 5);
  });

  it('un-learning takes back the step the learn took, though the model has moved since', () => {
    const m = model();
    const a = ['w:invoice', 'w:overdue', 'w:wire'];
    const b = ['w:lottery', 'w:winner', 'w:claim'];
    const before = [m.score(a).score, m.score(b).score];
    m.learn(a, 'spam');
    m.learn(b, 'spam');
    m.learn(a, 'spam');
    m.unlearn(a, 'spam');
    m.unlearn(a, 'spam');
    m.unlearn(b, 'spam');
    expect(m.score(a).score).toBeCloseTo(before[0] as number, 6);
    expect(m.score(b).score).toBeCloseTo(before[1] as number, 6);
    expect(m.site.lessons.size).toBe(0);
    expect(m.site.reports).toBe(0);
  });

  it('an un-learn of a report never learned here steps by the error the model makes on it now', () => {
    const m = model();
    m.learn(hammy, 'spam'); // a lesson trained into the version
    m.site.lessons.clear(); // as if the record of it were gone
    const taught = m.site.margin(hammy, RAW);
    m.unlearn(hammy, 'spam');
    const left = m.site.margin(hammy, RAW);
    expect(left).toBeLessThan(taught);
    expect(left).toBeGreaterThan(0);
  });

  it('keep their weights, report counts and recorded lessons through the artefact and the start-up image', () => {
    const roundTrips = [
      (m: LinearModel) => deserializeModel(m.serialize()),
      (m: LinearModel) => decodeModelImage(encodeModelImage(m)),
    ];
    for (const roundTrip of roundTrips) {
      const m = model();
      m.learn([...hammy, 'w:overdue'], 'spam');
      m.learn(spammy, 'ham');
      const copy = roundTrip(m);
      for (const tokens of [hammy, spammy, ['w:overdue']])
        expect(copy.score(tokens).score).toBe(m.score(tokens).score);
      expect(copy.site.reports).toBe(2);
      expect(copy.site.lessons.get(lessonKey(spammy, -1))).toEqual(m.site.lessons.get(lessonKey(spammy, -1)));
      // Un-learning on the copy takes back the same step as on the original.
      copy.unlearn(spammy, 'ham');
      m.unlearn(spammy, 'ham');
      expect(copy.score(spammy).score).toBe(m.score(spammy).score);
    }
  });

  it('a model that learned no feedback stores no site section', () => {
    const m = model();
    const plain = m.serialize().length;
    m.learn(hammy, 'spam');
    expect(m.serialize().length).toBeGreaterThan(plain);
    m.unlearn(hammy, 'spam');
    expect(deserializeModel(m.serialize()).site.reports).toBe(0);
  });

  it("a loaded version learns by this release's feedback rule, whatever its artefact says", () => {
    const m = model();
    m.params = { ...m.params, feedbackEta: 0.1, feedbackError: false, feedbackHold: 9 };
    for (const copy of [deserializeModel(m.serialize()), decodeModelImage(encodeModelImage(m))]) {
      expect(copy.params.feedbackEta).toBe(DEFAULT_LINEAR_PARAMS.feedbackEta);
      expect(copy.params.feedbackError).toBe(DEFAULT_LINEAR_PARAMS.feedbackError);
      expect(copy.params.feedbackHold).toBe(DEFAULT_LINEAR_PARAMS.feedbackHold);
      // What was trained is the artefact's.
      expect(copy.params.t).toBe(m.params.t);
    }
  });
});
