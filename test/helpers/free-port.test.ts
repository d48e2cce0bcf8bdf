/**
 * The tests' port picker: a port it hands out is bound only later (by a Postfix service, a child process),
 * so it must never hand out one twice, nor one the kernel may give to another process meanwhile.
 */
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { freePort } from './free-port.js';

it('never hands out one port twice, however often it is asked', async () => {
  const ports = [];
  for (let i = 0; i < 2000; i++) ports.push(await freePort());
  expect(new Set(ports).size).toBe(ports.length);
});

it('hands out ports below the range the kernel draws listen(0) and outgoing connections from', async () => {
  const [ephemeralLow] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/);
  for (let i = 0; i < 50; i++) expect(await freePort()).toBeLessThan(Number(ephemeralLow));
});
