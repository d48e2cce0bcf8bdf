/**
 * The tests' port picker: a port it hands out is bound only later (by a Postfix service, a child process),
 * so it must never hand out the same one twice in a process.
 */
import { expect, it } from 'vitest';
import { freePort } from './redis.js';

it('never hands out one port twice, however often it is asked', async () => {
  // 2 000 draws from the kernel's ~14 000 ports for bind: without the picker's memory, a repeat is all
  // but certain (the birthday bound).
  const ports = [];
  for (let i = 0; i < 2000; i++) ports.push(await freePort());
  expect(new Set(ports).size).toBe(ports.length);
});
