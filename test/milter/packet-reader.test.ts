/**
 * Framing: whatever segments the stream arrives in (one byte at a time, several packets in one, a packet's
 * head split across two), the reader yields the same packets, and refuses an impossible length at once.
 */
import { describe, expect, it } from 'vitest';
import { encode, MAX_PACKET, MilterProtocolError, PacketReader } from '../../src/milter/protocol.js';

const PACKETS = [
  encode('O', Buffer.from([0, 0, 0, 6, 0, 0, 1, 0xff, 0, 0x1f, 0xff, 0xff])),
  encode('H', Buffer.from('mx.example\0')),
  encode('B', Buffer.alloc(70_000, 0x61)),
  encode('E'),
];
const STREAM = Buffer.concat(PACKETS);
const decoded = (packets: { cmd: string; data: Buffer }[]) =>
  packets.map((p) => `${p.cmd}:${p.data.toString('hex')}`);
const expected = decoded(
  PACKETS.map((p) => ({ cmd: String.fromCharCode(p[4] as number), data: p.subarray(5) })),
);

function readInSegments(sizes: (i: number) => number) {
  const reader = new PacketReader();
  const out: { cmd: string; data: Buffer }[] = [];
  for (let at = 0, i = 0; at < STREAM.length; i++) {
    const n = Math.max(1, sizes(i));
    out.push(...reader.push(STREAM.subarray(at, at + n)));
    at += n;
  }
  return decoded(out);
}

describe('PacketReader', () => {
  it('yields the same packets whatever the segments', () => {
    expect(readInSegments(() => STREAM.length)).toEqual(expected);
    expect(readInSegments(() => 1)).toEqual(expected);
    expect(readInSegments(() => 3)).toEqual(expected);
    expect(readInSegments((i) => (i * 7919) % 1500)).toEqual(expected);
    // Every split of the stream into two segments.
    for (let cut = 1; cut < 60; cut++) {
      const reader = new PacketReader();
      const out = [...reader.push(STREAM.subarray(0, cut)), ...reader.push(STREAM.subarray(cut))];
      expect(decoded(out), `cut at ${cut}`).toEqual(expected);
    }
  });

  it('refuses a zero or oversized length as soon as its head is read', () => {
    const head = (n: number) => {
      const b = Buffer.alloc(4);
      b.writeUInt32BE(n);
      return b;
    };
    for (const n of [0, MAX_PACKET + 1, 0xffffffff]) {
      const reader = new PacketReader();
      reader.push(head(n).subarray(0, 2));
      expect(() => reader.push(head(n).subarray(2))).toThrow(MilterProtocolError);
    }
  });
});
