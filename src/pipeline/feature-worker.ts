/** Piscina worker: MIME parsing and feature extraction, the CPU-heavy half of a scan, off the event loop. */
import { extractFeatures } from '../classifier/features.js';
import type { MessageFeatures } from '../classifier/types.js';

export interface FeatureTask {
  raw: Uint8Array;
  maxBytes: number;
}

export default function extract(task: FeatureTask): MessageFeatures {
  return extractFeatures(Buffer.from(task.raw.buffer, task.raw.byteOffset, task.raw.byteLength), {
    maxBytes: task.maxBytes,
  });
}
