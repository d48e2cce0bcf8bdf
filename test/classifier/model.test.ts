import { describe, expect, it } from 'vitest';
import { type CountModel, deserializeModel, ModelError } from '../../src/classifier/model.js';
import { trainFromFeatures } from '../../src/classifier/train.js';

const spammy = ['w:viagra', 'w:free', 'w:money', 'u:pills.example', 'w:click'];
const hammy = ['w:meeting', 'w:agenda', 'w:patch', 'w:review', 'w:thanks'];

function smallModel(): CountModel {
  const items = [];
  for (let i = 0; i < 40; i++) {
    items.push({ tokens: [...spammy, `w:noise${i}`], label: 'spam' as const });
    items.push({ tokens: [...hammy, `w:noise${i}`], label: 'ham' as const });
  }
  return trainFromFeatures(items, { minCount: 1 });
}

describe('count model', () => {
  it('separates what it was taught and calls unfamiliar mail neutral', () => {
    const model = smallModel();
    expect(model.score(spammy).score).toBeGreaterThan(0.9);
    expect(model.score(hammy).score).toBeLessThan(0.1);
    const unfamiliar = model.score(['w:quarterly', 'w:budget', 'w:spreadsheet']);
    expect(unfamiliar.score).toBeGreaterThan(0.3);
    expect(unfamiliar.score).toBeLessThan(0.5);
    expect(unfamiliar.topFeatures).toEqual([]);
  });

  it('explains a verdict by the features that weighed most, strongest first', () => {
    const result = smallModel().score([...spammy, 'w:thanks']);
    expect(result.topFeatures.length).toBeGreaterThan(0);
    const weights = result.topFeatures.map((f) => Math.abs(f.weight));
    expect([...weights].sort((a, b) => b - a)).toEqual(weights);
    expect(result.topFeatures.find((f) => f.feature === 'w:viagra')?.weight).toBeGreaterThan(0);
    expect(result.topFeatures.find((f) => f.feature === 'w:thanks')?.weight).toBeLessThan(0);
  });

  it('learning moves a score toward the label, and un-learning takes it back exactly', () => {
    const model = smallModel();
    const message = ['w:invoice', 'w:overdue', 'w:wire', 'w:transfer'];
    const before = model.score(message).score;
    for (let i = 0; i < 5; i++) model.learn(message, 'spam');
    const after = model.score(message).score;
    expect(after).toBeGreaterThan(before);
    for (let i = 0; i < 5; i++) model.unlearn(message, 'spam');
    expect(model.score(message).score).toBe(before);
    // A relabel (unlearn spam, learn ham) moves it the other way.
    model.learn(message, 'spam');
    model.unlearn(message, 'spam');
    model.learn(message, 'ham');
    expect(model.score(message).score).toBeLessThan(before);
  });

  it('round-trips through its artefact with identical scores', () => {
    const model = smallModel();
    const copy = deserializeModel(model.serialize());
    expect(copy.version).toBe(model.version);
    for (const tokens of [spammy, hammy, ['w:other'], [...spammy, ...hammy]]) {
      expect(copy.score(tokens)).toEqual(model.score(tokens));
    }
  });

  it('refuses a damaged artefact with a coded error', () => {
    expect(() => deserializeModel(Buffer.from('not a model'))).toThrow(ModelError);
    const artefact = smallModel().serialize();
    expect(() => deserializeModel(artefact.subarray(0, artefact.length - 20))).toThrow(ModelError);
  });
});
