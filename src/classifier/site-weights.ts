/**
 * Site copies of the features: what the site's feedback taught, kept apart from the trained weights and
 * added to the margin beside them: the sum of the message's copies / √n, times m / (m + feedbackGrow) for m
 * reports in force, so a site's first one or two reports cannot swing every message sharing their words
 * (not scaled by evidence: a site's own report is direct evidence). Training never writes here and
 * feedback never writes the trained weights.
 *
 * A report is a logistic step: each copy of a message of n features moves toward its label by
 *   feedbackEta · e · h · (1/√n) / √((1/n)·(1 + r/feedbackHold) + feedbackAccum · G), where
 *   e = |y − p|, p the model's score of the message now (trained weights and site copies): a report of mail
 *     the model already judges right teaches little, one it judged fully wrong a full step, and reporting
 *     the same message again teaches less each time (feedbackError off: e = 1 always);
 *   h = feedbackHam for a ham report, 1 for spam: ham scored as spam is the costlier error;
 *   r = the reports that copy already had: its step stays large for its first feedbackHold reports, then
 *     shrinks as 1/√r, so a feature reported often settles;
 *   G = the feature's training accumulator (0 for a word the corpus never saw): words the corpus knew well
 *     move less than new ones, and one report moves a message of unknown words by about feedbackEta.
 * The error each report was learned with is recorded (by its features and label, kept in the artefact), so
 * an un-learn — a relabel — takes back exactly that step: it first takes back the report count, so the
 * last learn is reversed exactly up to float32 rounding, an earlier one up to what later reports of shared
 * features changed in their counts. An un-learn of a report with no record steps by the model's error now.
 */
import { FNV_OFFSET } from './common.js';
import { vectorOf } from './feature-list.js';
import { FeatureTable } from './feature-table.js';
import type { FeatureInput, FeatureVector } from './types.js';

export interface SiteParams {
  /** Step of a report. */
  feedbackEta: number;
  /** How much a feature's training history damps its feedback step. */
  feedbackAccum: number;
  /** Reports a copy takes before its step starts to shrink. */
  feedbackHold: number;
  /** Reports in force at which the copies count half (0: they count fully from the first report). */
  feedbackGrow: number;
  /** A ham report's step over a spam report's: ham scored as spam is the costlier error. */
  feedbackHam: number;
  /** Whether a report's step is scaled by the model's error on it, e = |y − p| (else e = 1). */
  feedbackError: boolean;
}

/** A report's identity: its features (their hashes, in order) and its label, FNV-1a over those words. */
export function lessonKey(features: FeatureInput, label: 1 | -1): number {
  const { hashes } = vectorOf(features);
  let h = Math.imul(FNV_OFFSET ^ (label === 1 ? 1 : 2), 0x01000193);
  for (let j = 0; j < hashes.length; j++) {
    const x = hashes[j] as number;
    for (let shift = 0; shift < 32; shift += 8) h = Math.imul(h ^ ((x >>> shift) & 0xff), 0x01000193);
  }
  return h >>> 0;
}

/** A feature's pull on the margin: trained weight (scaled by evidence) and site copy, each over √n. */
export interface Pull {
  feature: string;
  trained: number;
  site: number;
}

/**
 * The `limit` features that pull the margin most (|trained + site|), strongest first, among the heaviest
 * trained and the heaviest site parts (a feature in both counts once, with both parts).
 */
export function strongestPulls(
  trained: readonly Pull[],
  taught: readonly { feature: string; w: number }[],
  trainedPull: (feature: string) => number,
  siteScale: number,
  limit: number,
): Pull[] {
  const pulls = new Map<string, Pull>(trained.map((p) => [p.feature, { ...p }]));
  for (const { feature, w } of taught) {
    const found = pulls.get(feature);
    if (found) found.site = w * siteScale;
    else pulls.set(feature, { feature, trained: trainedPull(feature), site: w * siteScale });
  }
  const total = (p: Pull) => Math.abs(p.trained + p.site);
  return [...pulls.values()]
    .sort((x, y) => total(y) - total(x) || (x.feature < y.feature ? -1 : 1))
    .slice(0, limit);
}

/** A step's inputs from the model: its error on the message, a feature's training accumulator. */
export interface Reference {
  /** The model's error on the message now, |y − p| (read only when a learn needs it). */
  error(): number;
  accum(hash: number): number;
}

export class SiteWeights {
  /** Keys are the features' hashes; `reports` counts each copy's reports in force. */
  table: FeatureTable;
  /** Reports in force (learned and not un-learned). */
  reports: number;
  /** The error each report in force was learned with, by lessonKey: an un-learn takes back that step. */
  lessons = new Map<number, number[]>();

  constructor(table = new FeatureTable(16), reports = 0) {
    this.table = table;
    this.reports = reports;
  }

  /** The sum of a message's site copies / √n (0 when the site taught nothing). */
  margin(features: FeatureInput, params: Pick<SiteParams, 'feedbackGrow'>): number {
    if (this.table.size === 0) return 0;
    const v = vectorOf(features);
    const n = v.hashes.length;
    return n === 0 ? 0 : this.weigh(v, 0, params).sum / Math.sqrt(n);
  }

  /** The share m / (m + feedbackGrow) the copies count with, for m reports in force. */
  growth(params: Pick<SiteParams, 'feedbackGrow'>): number {
    return params.feedbackGrow > 0 ? this.reports / (this.reports + params.feedbackGrow) : 1;
  }

  /**
   * The sum of the message's site copies, and the `limit` heaviest (|w|, heaviest first; only those are
   * spelled).
   */
  weigh(
    v: FeatureVector,
    limit: number,
    params: Pick<SiteParams, 'feedbackGrow'>,
  ): { sum: number; top: { feature: string; w: number }[] } {
    const heavy: { j: number; w: number }[] = [];
    const n = v.hashes.length;
    if (this.table.size === 0 || n === 0) return { sum: 0, top: [] };
    const hashes = v.hashes;
    const table = this.table;
    let sum = 0;
    let floor = 0;
    for (let j = 0; j < n; j++) {
      const i = table.find(hashes[j] as number);
      if (i < 0) continue;
      const w = table.weight(i);
      sum += w;
      const m = Math.abs(w);
      if (m === 0 || m <= floor || limit === 0) continue;
      let k = heavy.length;
      while (k > 0 && Math.abs((heavy[k - 1] as { w: number }).w) < m) k--;
      heavy.splice(k, 0, { j, w });
      if (heavy.length > limit) heavy.pop();
      if (heavy.length === limit) floor = Math.abs((heavy[limit - 1] as { w: number }).w);
    }
    const grow = this.growth(params);
    const top = heavy.map(({ j, w }) => ({ feature: v.name(j), w: w * grow }));
    return { sum: sum * grow, top };
  }

  /** One report toward `label` (+1 spam, −1 ham), or taken back (sign −1). */
  step(features: FeatureInput, label: 1 | -1, sign: 1 | -1, ref: Reference, params: SiteParams): void {
    const v = vectorOf(features);
    const { hashes } = v;
    const n = hashes.length;
    if (n === 0 || (sign === -1 && this.reports === 0)) return;
    const table = this.table;
    // Insert first: growing the table moves slots.
    if (sign === 1) for (let j = 0; j < n; j++) table.insert(hashes[j] as number);
    const g = 1 / Math.sqrt(n);
    const e =
      (params.feedbackError ? this.lessonError(v, label, sign, ref) : 1) *
      (label === -1 ? params.feedbackHam : 1);
    const hold = Math.max(1e-9, params.feedbackHold);
    for (let j = 0; j < n; j++) {
      const h = hashes[j] as number;
      const i = table.find(h);
      if (i < 0) continue;
      if (sign === -1) table.reports[i] = Math.max(0, (table.reports[i] as number) - 1);
      const r = table.reports[i] as number;
      const G = ref.accum(h);
      const step =
        (params.feedbackEta * e * g) / Math.sqrt(g * g * (1 + r / hold) + params.feedbackAccum * G);
      if (sign === 1) table.reports[i] = r + 1;
      table.setWeight(i, table.weight(i) + label * sign * step);
    }
    this.reports += sign;
  }

  /** The error a learn steps with (recorded), or the one the un-learn of it takes back (forgotten); an
   * un-learn of a report this model never learned takes the error the model makes on it now. */
  private lessonError(v: FeatureVector, label: 1 | -1, sign: 1 | -1, ref: Reference): number {
    const key = lessonKey(v, label);
    const recorded = this.lessons.get(key);
    if (sign === -1) {
      const e = recorded?.pop();
      if (recorded && recorded.length === 0) this.lessons.delete(key);
      return e ?? ref.error();
    }
    // Stored as float32, as it is in the artefact: the un-learn then steps exactly as the learn did.
    const e = Math.fround(ref.error());
    if (recorded) recorded.push(e);
    else this.lessons.set(key, [e]);
    return e;
  }

  /** Stored form (LE): counts of copies, reports in force and recorded lessons (uint32 each), then the copies'
   * keys (uint32), weights and report counts (float32), then the lessons' keys (uint32) and errors (float32). */
  encode(): Buffer {
    const table = this.table;
    const n = table.size;
    const k = new Uint32Array(n);
    const w = new Float32Array(n);
    const r = new Float32Array(n);
    let j = 0;
    for (let i = 0; i < table.capacity; i++) {
      if (table.key(i) === 0) continue;
      k[j] = table.key(i);
      w[j] = table.weight(i);
      r[j] = table.reports[i] as number;
      j++;
    }
    const lessons = [...this.lessons].flatMap(([key, errors]) => errors.map((e) => [key, e] as const));
    const lk = Uint32Array.from(lessons, ([key]) => key);
    const le = Float32Array.from(lessons, ([, e]) => e);
    const head = Buffer.alloc(12);
    head.writeUInt32LE(n, 0);
    head.writeUInt32LE(this.reports, 4);
    head.writeUInt32LE(lessons.length, 8);
    const view = (a: Uint32Array | Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
    return Buffer.concat([head, view(k), view(w), view(r), view(lk), view(le)]);
  }

  /** Bytes `encode` wrote, read from the stored counts at `offset` (0 when they are cut off). */
  static encodedLength(body: Buffer, offset: number): number {
    if (body.length < offset + 12) return 0;
    return 12 + body.readUInt32LE(offset) * 12 + body.readUInt32LE(offset + 8) * 8;
  }

  static decode(body: Buffer, offset: number): SiteWeights {
    const length = SiteWeights.encodedLength(body, offset);
    if (length === 0 || body.length < offset + length) throw new RangeError('site weights are truncated');
    const n = body.readUInt32LE(offset);
    const reports = body.readUInt32LE(offset + 4);
    const m = body.readUInt32LE(offset + 8);
    // Copy out of the (possibly unaligned) buffer.
    const slice = (at: number, count: number) =>
      body.buffer.slice(body.byteOffset + at, body.byteOffset + at + count * 4);
    const start = offset + 12;
    const k = new Uint32Array(slice(start, n));
    const w = new Float32Array(slice(start + n * 4, n));
    const r = new Float32Array(slice(start + n * 8, n));
    const lk = new Uint32Array(slice(start + n * 12, m));
    const le = new Float32Array(slice(start + n * 12 + m * 4, m));
    const table = new FeatureTable(Math.max(8, n));
    for (let j = 0; j < n; j++) {
      const i = table.insert(k[j] as number);
      table.setWeight(i, w[j] as number);
      table.reports[i] = r[j] as number;
    }
    const site = new SiteWeights(table, reports);
    for (let j = 0; j < m; j++) {
      const key = lk[j] as number;
      const errors = site.lessons.get(key);
      if (errors) errors.push(le[j] as number);
      else site.lessons.set(key, [le[j] as number]);
    }
    return site;
  }
}
