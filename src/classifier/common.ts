/** Pieces shared by the model formats: the feature hash and the artefact error. */

/** FNV-1a's initial state. */
export const FNV_OFFSET = 0x811c9dc5;

/**
 * 32-bit FNV-1a of a feature string, over its UTF-16 code units (one step per `charCodeAt`, not per UTF-8
 * byte): the key under which a feature's statistics are stored.
 */
export function fnv1a(text: string): number {
  return fnv1aFrom(FNV_OFFSET, text);
}

/**
 * FNV-1a continued from the state `h` reached after some prefix: `fnv1aFrom(fnv1a(a), b) === fnv1a(a + b)`,
 * so a feature made of parts is hashed without building its string.
 */
export function fnv1aFrom(h: number, text: string): number {
  let s = h;
  for (let i = 0; i < text.length; i++) {
    s ^= text.charCodeAt(i);
    s = Math.imul(s, 0x01000193);
  }
  return s >>> 0;
}

export function sigmoid(z: number): number {
  return 1 / (1 + Math.exp(-z));
}

export { ModelError } from '../errors.js';
