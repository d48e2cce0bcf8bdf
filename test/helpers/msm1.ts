/**
 * An artefact in the retired MSM1 format (a count model), built from the format's own
 * layout: `MSM1`, the JSON header's length (uint32 LE), the header, then three uint32 columns (feature hashes,
 * spam counts, ham counts), gzipped. What a registry trained before the format was retired still holds.
 */
import { gzipSync } from 'node:zlib';

export function msm1Artefact(version: string): Buffer {
  const counts = [
    [0x1234abcd, 3, 0],
    [0x0badf00d, 0, 4],
  ];
  const header = Buffer.from(
    JSON.stringify({
      version,
      params: { s: 1, x: 0.5, minStrength: 0.1, maxClues: 150, combine: 'chi2', a: 1, t: 0 },
      nSpam: 3,
      nHam: 4,
      size: counts.length,
    }),
  );
  const head = Buffer.alloc(8);
  head.write('MSM1', 0, 'latin1');
  head.writeUInt32LE(header.length, 4);
  const column = (k: number) => Buffer.from(Uint32Array.from(counts, (row) => row[k] as number).buffer);
  return gzipSync(Buffer.concat([head, header, column(0), column(1), column(2)]));
}
