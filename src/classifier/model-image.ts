/**
 * A loaded linear model's memory image, for the start-up cache (model-cache.ts): `MSTI`, the header's length
 * (uint32 LE), a JSON header padded to a multiple of 8 bytes, then the feature table's arrays exactly as laid
 * out in memory (slots, weights, Adagrad accumulators, report counts), then the site copies in their stored
 * form (site-weights.ts; small, decoded). Restoring it is a file read and three
 * typed-array views, where decoding an artefact re-inserts every feature into a new table (a quarter to
 * half a second for the default model). Local to one data directory and rebuilt from the artefact whenever
 * it does not parse: it is never stored in the database or compared between versions of the software.
 */
import { FeatureTable } from './feature-table.js';
import { LinearModel, type LinearParams, withCurrentFeedback } from './linear-model.js';
import { SiteWeights } from './site-weights.js';

const MAGIC = 'MSTI';

interface ImageHeader {
  version: string;
  params: LinearParams;
  bias: number;
  nSpam: number;
  nHam: number;
  capacity: number;
  size: number;
  /** Bytes of the site copies after the table (0: none). */
  siteBytes: number;
}

export function encodeModelImage(model: LinearModel): Buffer {
  const { capacity, size, cells, accum, reports } = model.table.image();
  const site = model.site.table.size > 0 ? model.site.encode() : Buffer.alloc(0);
  const header: ImageHeader = {
    version: model.version,
    params: model.params,
    bias: model.bias,
    nSpam: model.nSpam,
    nHam: model.nHam,
    capacity,
    size,
    siteBytes: site.length,
  };
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const head = Buffer.alloc(8);
  head.write(MAGIC, 0, 'latin1');
  head.writeUInt32LE(Buffer.byteLength(json), 4);
  const view = (a: Uint32Array | Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  return Buffer.concat([head, Buffer.from(json), view(cells), view(accum), view(reports), site]);
}

/** The model an image holds; throws on anything that is not a whole image. */
export function decodeModelImage(image: Buffer): LinearModel {
  if (image.length < 8 || image.toString('latin1', 0, 4) !== MAGIC) throw new RangeError('not a model image');
  const headerLength = image.readUInt32LE(4);
  const header = JSON.parse(image.toString('utf8', 8, 8 + headerLength)) as ImageHeader;
  const { capacity, size } = header;
  const start = 8 + headerLength;
  const siteBytes = header.siteBytes ?? 0;
  if (!Number.isInteger(capacity) || image.length !== start + capacity * 16 + siteBytes)
    throw new RangeError('model image is truncated');
  // Views need 4-byte alignment: a file read into its own buffer has it; anything else is copied once.
  const aligned = (image.byteOffset + start) % 4 === 0 ? image : Buffer.from(image);
  const at = aligned.byteOffset + start;
  const table = FeatureTable.fromImage({
    capacity,
    size,
    cells: new Uint32Array(aligned.buffer, at, capacity * 2),
    accum: new Float32Array(aligned.buffer, at + capacity * 8, capacity),
    reports: new Float32Array(aligned.buffer, at + capacity * 12, capacity),
  });
  const model = new LinearModel(withCurrentFeedback(header.params), header.version, table);
  model.bias = header.bias;
  model.nSpam = header.nSpam;
  model.nHam = header.nHam;
  if (siteBytes > 0) model.site = SiteWeights.decode(aligned, start + capacity * 16);
  return model;
}
