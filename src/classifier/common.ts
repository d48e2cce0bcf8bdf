/** Pieces shared by the model formats: the feature hash and the artefact error. */

/** 32-bit FNV-1a of a feature string: the key under which a feature's statistics are stored. */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export function sigmoid(z: number): number {
  return 1 / (1 + Math.exp(-z));
}

export { ModelError } from '../errors.js';
