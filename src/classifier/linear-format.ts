/**
 * The stored form of a linear model (artefact format MSM2): `MSM2`, the header's length (uint32 LE), a JSON
 * header (version, parameters, bias, example counts, feature count), then one little-endian array per
 * column — feature hashes (uint32), weights, Adagrad accumulators and, only for an artefact whose trained
 * weights carry feedback, report counts (float32) — then, for a model taught site feedback, its site copies
 * (site-weights.ts). The artefact is this body gzipped; its sha256 is the version digest.
 */
import { ModelError } from './common.js';
import { FeatureTable } from './feature-table.js';
import type { LinearParams } from './linear-model.js';
import { SiteWeights } from './site-weights.js';

export const LINEAR_MAGIC = 'MSM2';

/** What a stored artefact without these parameters scored with (its feedback parameters are the software's:
 * linear-model.ts sets them on load). */
const STORED_DEFAULTS: Pick<LinearParams, 'evidenceK' | 'signalsNonNegative'> = {
  evidenceK: 0,
  signalsNonNegative: false,
};

/** Everything an artefact holds. */
export interface LinearState {
  version: string;
  params: LinearParams;
  bias: number;
  /** Labelled messages the weights were trained or taught on. */
  nSpam: number;
  nHam: number;
  table: FeatureTable;
  /** What site feedback taught (site-weights.ts). */
  site: SiteWeights;
}

const DIGIT_BITS = 11;
const DIGITS = 1 << DIGIT_BITS;
const DIGIT_MASK = DIGITS - 1;

/**
 * The occupied slots of a table's `cells` (key at 2i, weight bits at 2i+1; key 0 is an empty slot),
 * ordered by (weight bits, key) as unsigned integers: stable counting passes of 11 bits, least significant
 * first, over compact copies of the two words (reading them through the slots would miss the cache at
 * every step). A comparison sort of 64-bit keys takes hundreds of milliseconds for the default model, on
 * the thread that answers mail.
 */
export function slotsByWeight(cells: Uint32Array, n: number): Uint32Array {
  let slots = new Uint32Array(n);
  let keys = new Uint32Array(n);
  let bits = new Uint32Array(n);
  let j = 0;
  for (let i = 0; i < cells.length / 2; i++) {
    const key = cells[2 * i] as number;
    if (key === 0) continue;
    slots[j] = i;
    keys[j] = key;
    bits[j] = cells[2 * i + 1] as number;
    j++;
  }
  let toSlots = new Uint32Array(n);
  let toKeys = new Uint32Array(n);
  let toBits = new Uint32Array(n);
  const count = new Uint32Array(DIGITS);
  for (let pass = 0; pass < 6; pass++) {
    const shift = (pass % 3) * DIGIT_BITS;
    const digits = pass < 3 ? keys : bits;
    count.fill(0);
    for (let x = 0; x < n; x++) {
      const d = ((digits[x] as number) >>> shift) & DIGIT_MASK;
      count[d] = (count[d] as number) + 1;
    }
    let sum = 0;
    for (let d = 0; d < DIGITS; d++) {
      const c = count[d] as number;
      count[d] = sum;
      sum += c;
    }
    for (let x = 0; x < n; x++) {
      const d = ((digits[x] as number) >>> shift) & DIGIT_MASK;
      const to = count[d] as number;
      count[d] = to + 1;
      toSlots[to] = slots[x] as number;
      toKeys[to] = keys[x] as number;
      toBits[to] = bits[x] as number;
    }
    [slots, toSlots] = [toSlots, slots];
    [keys, toKeys] = [toKeys, keys];
    [bits, toBits] = [toBits, bits];
  }
  return slots;
}

/** The uncompressed artefact body. */
export function encodeLinearBody(state: LinearState): Buffer {
  const { table } = state;
  const n = table.size;
  // Features are written grouped by weight: the features a training message alone contained share one
  // weight and accumulator (they received identical updates), so runs of equal values compress well.
  // Sort key: the weight's bits, then the feature hash, both unsigned (deterministic).
  const { cells } = table.image();
  const order = slotsByWeight(cells, n);
  const k = new Uint32Array(n);
  const w = new Float32Array(n);
  const g = new Float32Array(n);
  const r = new Float32Array(n);
  let reported = false;
  for (let x = 0; x < n; x++) {
    const i = order[x] as number;
    k[x] = table.key(i);
    w[x] = table.weight(i);
    g[x] = table.accum[i] as number;
    r[x] = table.reports[i] as number;
    if (r[x] !== 0) reported = true;
  }
  const header = Buffer.from(
    JSON.stringify({
      version: state.version,
      params: state.params,
      bias: state.bias,
      nSpam: state.nSpam,
      nHam: state.nHam,
      size: n,
      // Only a model that learned feedback carries the report counts (a trained artefact stays small).
      ...(reported ? { reports: true } : {}),
      ...(state.site.table.size > 0 ? { site: true } : {}),
    }),
  );
  const head = Buffer.alloc(8);
  head.write(LINEAR_MAGIC, 0, 'latin1');
  head.writeUInt32LE(header.length, 4);
  return Buffer.concat([
    head,
    header,
    Buffer.from(k.buffer, 0, n * 4),
    Buffer.from(w.buffer, 0, n * 4),
    Buffer.from(g.buffer, 0, n * 4),
    ...(reported ? [Buffer.from(r.buffer, 0, n * 4)] : []),
    ...(state.site.table.size > 0 ? [state.site.encode()] : []),
  ]);
}

/** Reads an MSM2 artefact body (already gunzipped, magic checked). */
export function decodeLinearBody(body: Buffer): LinearState {
  const headerLength = body.readUInt32LE(4);
  let header: Omit<LinearState, 'table' | 'site'> & { size: number; reports?: boolean; site?: boolean };
  try {
    header = JSON.parse(body.toString('utf8', 8, 8 + headerLength));
  } catch {
    throw new ModelError('model artefact header is damaged');
  }
  const { size } = header;
  const offset = 8 + headerLength;
  const arrays = header.reports ? 4 : 3;
  const siteAt = offset + size * 4 * arrays;
  const siteLength = header.site ? SiteWeights.encodedLength(body, siteAt) : 0;
  if (!Number.isInteger(size) || (header.site && siteLength === 0) || body.length !== siteAt + siteLength)
    throw new ModelError('model artefact is truncated');
  // Copy out of the (possibly unaligned) buffer.
  const slice = (start: number) =>
    body.buffer.slice(body.byteOffset + start, body.byteOffset + start + size * 4);
  const keys = new Uint32Array(slice(offset));
  const weights = new Float32Array(slice(offset + size * 4));
  const accum = new Float32Array(slice(offset + size * 8));
  const reports = header.reports ? new Float32Array(slice(offset + size * 12)) : null;
  const table = new FeatureTable(size);
  for (let j = 0; j < size; j++) {
    const i = table.insert(keys[j] as number);
    table.setWeight(i, weights[j] as number);
    table.accum[i] = accum[j] as number;
    if (reports) table.reports[i] = reports[j] as number;
  }
  return {
    version: header.version,
    params: { ...STORED_DEFAULTS, ...header.params },
    bias: header.bias,
    nSpam: header.nSpam,
    nHam: header.nHam,
    table,
    site: header.site ? SiteWeights.decode(body, siteAt) : new SiteWeights(),
  };
}
