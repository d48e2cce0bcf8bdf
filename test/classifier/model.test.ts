import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { fnv1a } from '../../src/classifier/common.js';
import { FeatureTable } from '../../src/classifier/feature-table.js';
import { LinearModel } from '../../src/classifier/linear-model.js';
import { deserializeModel, ModelError } from '../../src/classifier/model.js';
import { siteRepeat, trainWithSiteCheck } from '../../src/classifier/site-feedback.js';
import { heldOutEvidence, trainFromFeatures } from '../../src/classifier/train.js';
import { RetiredModelFormatError } from '../../src/errors.js';
import { msm1Artefact } from '../helpers/msm1.js';

const spammy = ['w:viagra', 'w:free', 'w:money', 'u:pills.example', 'w:click'];
const hammy = ['w:meeting', 'w:agenda', 'w:patch', 'w:review', 'w:thanks'];

function items() {
  const out = [];
  for (let i = 0; i < 40; i++) {
    out.push({ tokens: [...spammy, `w:noise${i}`], label: 'spam' as const });
    out.push({ tokens: [...hammy, `w:noise${i}`], label: 'ham' as const });
  }
  return out;
}

function smallModel(): LinearModel {
  return trainFromFeatures(items());
}

describe('linear model', () => {
  it('separates what it was taught and keeps unfamiliar mail under the decision point', () => {
    const model = smallModel();
    expect(model.score(spammy).score).toBeGreaterThan(0.9);
    expect(model.score(hammy).score).toBeLessThan(0.1);
    const unfamiliar = model.score(['w:quarterly', 'w:budget', 'w:spreadsheet']);
    expect(unfamiliar.spam).toBe(false);
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

  it('learning moves a score toward the label, and un-learning takes it back (to float32 rounding)', () => {
    const model = smallModel();
    const message = ['w:invoice', 'w:overdue', 'w:wire', 'w:transfer', 'w:meeting'];
    const before = model.score(message).score;
    for (let i = 0; i < 5; i++) model.learn(message, 'spam');
    const after = model.score(message).score;
    expect(after).toBeGreaterThan(before);
    for (let i = 0; i < 5; i++) model.unlearn(message, 'spam');
    expect(model.score(message).score).toBeCloseTo(before, 6);
    // A relabel (unlearn spam, learn ham) moves it the other way.
    model.learn(message, 'spam');
    model.unlearn(message, 'spam');
    model.learn(message, 'ham');
    expect(model.score(message).score).toBeLessThan(before);
    // Learning ham on a spammy message lowers its score; un-learning restores it.
    const spamBefore = model.score(spammy).score;
    model.learn(spammy, 'ham');
    expect(model.score(spammy).score).toBeLessThan(spamBefore);
    model.unlearn(spammy, 'ham');
    expect(model.score(spammy).score).toBeCloseTo(spamBefore, 6);
  });

  it('un-learning what was never learned is a no-op', () => {
    const model = new LinearModel();
    model.unlearn(spammy, 'spam');
    expect(model.nSpam).toBe(0);
    expect(model.score(spammy).topFeatures).toEqual([]);
  });

  it('round-trips through its MSM2 artefact with identical scores, and keeps learning the same way', () => {
    const model = smallModel();
    const copy = deserializeModel(model.serialize()) as LinearModel;
    expect(copy).toBeInstanceOf(LinearModel);
    expect(copy.version).toBe(model.version);
    expect(copy.params).toEqual(model.params);
    const probes = [spammy, hammy, ['w:other'], [...spammy, ...hammy], []];
    for (const tokens of probes) expect(copy.score(tokens)).toEqual(model.score(tokens));
    model.learn(hammy, 'spam');
    copy.learn(hammy, 'spam');
    for (const tokens of probes) expect(copy.score(tokens)).toEqual(model.score(tokens));
    expect(deserializeModel(copy.serialize()).score(hammy)).toEqual(model.score(hammy));
  });

  it('holds many features in its hash table without losing any', () => {
    const table = new FeatureTable(4);
    const slots = new Map<number, number>();
    for (let h = 0; h < 5000; h++) slots.set(h, table.insert(h * 2654435761));
    for (let h = 0; h < 5000; h++) expect(table.find(h * 2654435761)).toBe(table.insert(h * 2654435761));
    expect(table.size).toBe(5000);
    expect(table.find(123)).toBe(-1);
  });

  it('keeps only known slots once sealed, and notices an insert after the seal', () => {
    const table = new FeatureTable(4);
    const trained = table.insert(fnv1a('w:trained'));
    table.setWeight(trained, 0.5);
    table.accum[trained] = 0.25;
    table.setWeight(table.insert(fnv1a('w:never-updated')), 0.75);
    expect(table.knownWeight(fnv1a('w:never-updated'))).toBeUndefined();
    table.sealKnown();
    // The slot never updated is gone; the known one keeps its weight and accumulator.
    expect(table.size).toBe(1);
    expect(table.knownWeight(fnv1a('w:trained'))).toBe(0.5);
    expect(table.accum[table.find(fnv1a('w:trained'))]).toBe(0.25);
    expect(table.find(fnv1a('w:never-updated'))).toBe(-1);
    expect(table.knownWeight(fnv1a('w:absent'))).toBeUndefined();

    const sealed = new FeatureTable(4);
    const only = sealed.insert(fnv1a('w:trained'));
    sealed.setWeight(only, 0.5);
    sealed.accum[only] = 0.25;
    sealed.sealKnown();
    expect(sealed.knownWeight(fnv1a('w:trained'))).toBe(0.5);
    // An insert after the seal adds an unknown slot: lookups must notice it again.
    sealed.setWeight(sealed.insert(fnv1a('w:late')), 0.75);
    expect(sealed.knownWeight(fnv1a('w:late'))).toBeUndefined();
  });

  it('is calibrated on held-out folds: the decision point keeps held-out ham false positives in check', () => {
    const data = items();
    const model = trainFromFeatures(data);
    const held = heldOutEvidence(data, model, 5);
    expect(held).toHaveLength(data.length);
    const fp = held.filter((h) => h.label === 'ham' && h.z >= model.params.t).length;
    expect(fp).toBe(0);
    expect(model.params.t).toBeGreaterThan(0);
  });

  it('never trains a named content signal toward ham, while other features learn either way', () => {
    // bulk-mailer (a named signal) and a header fact appear only on ham: the corpus would make both hammy.
    const data = items().map((item) =>
      item.label === 'ham' ? { ...item, tokens: [...item.tokens, 'x:bulk-mailer', 'h:mailer:mutt'] } : item,
    );
    const weight = (model: LinearModel, feature: string) =>
      model.table.weightOf(fnv1a(feature)) ?? Number.NaN;
    const model = trainFromFeatures(data);
    expect(model.params.signalsNonNegative).toBe(true);
    expect(weight(model, 'x:bulk-mailer')).toBe(0);
    expect(weight(model, 'h:mailer:mutt')).toBeLessThan(-0.1);
    // A signal the pipeline adds from outside the message (sender authentication) is not constrained.
    const auth = trainFromFeatures(
      items().map((item) =>
        item.label === 'ham' ? { ...item, tokens: [...item.tokens, 'x:spf-pass'] } : item,
      ),
    );
    expect(weight(auth, 'x:spf-pass')).toBeLessThan(-0.1);
    const free = trainFromFeatures(data, { params: { signalsNonNegative: false } });
    expect(weight(free, 'x:bulk-mailer')).toBeLessThan(-0.1);
    // Site feedback may still teach a signal toward ham.
    model.learn(['x:bulk-mailer', ...hammy], 'ham');
    expect(model.site.table.weightOf(fnv1a('x:bulk-mailer'))).toBeLessThan(0);
  });

  it('refuses a damaged artefact with a coded error', () => {
    expect(() => deserializeModel(Buffer.from('not a model'))).toThrow(ModelError);
    expect(() => deserializeModel(gzipSync(Buffer.from('MSM9xxxxxxxx')))).toThrow(/unknown format/);
    const artefact = smallModel().serialize();
    expect(() => deserializeModel(artefact.subarray(0, artefact.length - 20))).toThrow(ModelError);
  });
});

describe('retraining with site feedback', () => {
  // A site whose spam talks like the corpus's ham, so only its feedback can teach it.
  const siteSpam = (i: number) => ({
    tokens: [...hammy, 'w:invoice', 'w:wire', `w:site${i}`],
    label: 'spam' as const,
  });
  const siteHam = (i: number) => ({
    tokens: ['w:lunch', 'w:team', 'w:friday', `w:site${i}`],
    label: 'ham' as const,
  });

  it('weighs the site examples to a quarter of the training weight', () => {
    expect(siteRepeat(4500, 0)).toBe(1);
    expect(siteRepeat(4500, 100)).toBe(15);
    expect(siteRepeat(4500, 5000)).toBe(1);
  });

  it('scores candidate and active version on held-out feedback, then keeps every lesson', () => {
    const corpus = items();
    const active = trainFromFeatures(corpus);
    const feedback = Array.from({ length: 40 }, (_, i) => ({
      ...(i % 2 ? siteSpam(i) : siteHam(i)),
      held: i % 4 < 2,
    }));
    const { model, site } = trainWithSiteCheck(corpus, feedback, {
      maxBytes: 512_000,
      versionPrefix: 'sa',
      active: { version: active.version, artefact: active.serialize() },
    });
    expect(site).not.toBeNull();
    expect(site?.ham).toBe(10);
    expect(site?.spam).toBe(10);
    expect(site?.baseline.version).toBe(active.version);
    expect(site?.candidate.falseNegatives).toBeLessThanOrEqual(site?.baseline.falseNegatives ?? 0);
    // The held-out lessons were taught after the check: the stored version learned all 40.
    expect(model.nSpam + model.nHam).toBeGreaterThanOrEqual(corpus.length + 40);
    expect(model.score(siteSpam(99).tokens).spam).toBe(true);
  });

  it('without enough held-out feedback or an active version, trains on all of it and reports no site check', () => {
    const corpus = items();
    const feedback = [{ ...siteSpam(1), held: true }];
    const { site } = trainWithSiteCheck(corpus, feedback, {
      maxBytes: 512_000,
      versionPrefix: 'sa',
    });
    expect(site).toBeNull();
  });
});

describe('MSM1 artefacts (a retired format)', () => {
  it('are refused with a coded 409 naming the version and the step that replaces it', () => {
    let refused: unknown;
    try {
      deserializeModel(msm1Artefact('sa-20240101-0ldc0unt'));
    } catch (err) {
      refused = err;
    }
    expect(refused).toBeInstanceOf(RetiredModelFormatError);
    expect(refused).toMatchObject({ code: 'MODEL_FORMAT_RETIRED', statusCode: 409, exitCode: 78 });
    expect((refused as Error).message).toMatch(/sa-20240101-0ldc0unt .*MSM1.*mailsentra train/);
  });
});
