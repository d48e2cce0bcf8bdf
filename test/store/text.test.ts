import { describe, expect, it } from 'vitest';
import { storableJson, storableText } from '../../src/store/text.js';

describe('storableJson', () => {
  it('writes JSON as JSON.stringify does when no string holds U+0000', () => {
    const value = [{ feature: 'w:caf\u00e9 \ud83d\ude00', weight: -0.25 }, { nested: { a: [1, null, 'x'] } }];
    expect(storableJson(value)).toBe(JSON.stringify(value));
  });

  it('replaces U+0000 in values and keys, however deep', () => {
    const value = { 'k\u0000': 'v\u0000', list: [{ feature: 'w:\u0000', weight: 1 }] };
    expect(JSON.parse(storableJson(value))).toEqual({
      'k\uFFFD': 'v\uFFFD',
      list: [{ feature: 'w:\uFFFD', weight: 1 }],
    });
  });

  it('keeps the six characters \\u0000 written out in a string as they are', () => {
    const value = { text: 'a literal \\u0000, not a NUL' };
    expect(JSON.parse(storableJson(value))).toEqual(value);
  });
});

describe('storableText', () => {
  it('replaces U+0000 only', () => {
    expect(storableText('a\u0000b')).toBe('a\uFFFDb');
    expect(storableText('plain')).toBe('plain');
  });
});
