import { describe, expect, it } from 'vitest';
import { closest } from '../../src/util/closest.js';

const COMMANDS = ['serve', 'scan', 'train', 'migrate', 'apikey', 'eval'];

describe('closest', () => {
  it('finds the word a slip meant: swapped, missing, extra or wrong letters', () => {
    expect(closest('scna', COMMANDS)).toBe('scan');
    expect(closest('trian', COMMANDS)).toBe('train');
    expect(closest('migrat', COMMANDS)).toBe('migrate');
    expect(closest('serv', COMMANDS)).toBe('serve');
    expect(closest('apikye', COMMANDS)).toBe('apikey');
    expect(closest('--corpse', ['--corpus', '--ham', '--spam'])).toBe('--corpus');
    expect(closest('--hma', ['--corpus', '--ham', '--spam'])).toBe('--ham');
  });

  it('offers nothing for a word that is not a slip of any choice', () => {
    expect(closest('frobnicate', COMMANDS)).toBeNull();
    expect(closest('x', COMMANDS)).toBeNull();
    expect(closest('start', COMMANDS)).toBeNull();
    expect(closest('--port', ['--corpus', '--ham', '--spam'])).toBeNull();
  });
});
