import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { encodeMessage } from "../../src/shared/protocol/encode.js";
import { FrameError, FrameScanner } from "../../src/shared/protocol/frame-scanner.js";
import { MAX_MESSAGE_LENGTH } from "../../src/shared/protocol/messages.js";

/** Scans `bytes` cut at `cuts`; returns the message types seen and the error, if any. */
function scan(bytes: Uint8Array, cuts: number[]): { types: number[]; error?: string; atBoundary: boolean } {
  const scanner = new FrameScanner();
  const types: number[] = [];
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  let start = 0;
  try {
    for (const cut of [...points, bytes.length]) {
      scanner.push(bytes.subarray(start, cut), (type) => types.push(type));
      start = cut;
    }
  } catch (error) {
    assert.ok(error instanceof FrameError, `only FrameError may escape, got ${String(error)}`);
    return { types, error: error.message, atBoundary: false };
  }
  return { types, atBoundary: scanner.atBoundary };
}

const message = fc
  .tuple(fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 600 }))
  .map(([type, body]) => encodeMessage(type, body));

describe("FrameScanner properties", () => {
  it("any byte sequence, split anywhere, gives the same messages or the same rejection as whole", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), fc.array(fc.nat(), { maxLength: 12 }), (bytes, cuts) => {
        assert.deepEqual(scan(bytes, cuts), scan(bytes, []));
      }),
      { numRuns: 2000 },
    );
  });

  it("valid streams decode to exactly their messages, at any split", () => {
    fc.assert(
      fc.property(fc.array(message, { maxLength: 20 }), fc.array(fc.nat(), { maxLength: 20 }), (messages, cuts) => {
        const result = scan(Buffer.concat(messages), cuts);
        assert.equal(result.error, undefined);
        assert.deepEqual(result.types, messages.map((m) => m[4]));
        assert.equal(result.atBoundary, true);
      }),
      { numRuns: 1000 },
    );
  });

  it("rejects every declared length of zero or over the limit before any body byte, whatever follows", () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.constant(0), fc.integer({ min: MAX_MESSAGE_LENGTH + 1, max: 0xffffffff })),
        fc.uint8Array({ maxLength: 64 }),
        (length, rest) => {
          const prefix = Buffer.alloc(4);
          prefix.writeUInt32BE(length);
          const result = scan(Buffer.concat([prefix, rest]), [1, 2, 3]);
          assert.ok(result.error, `length ${length} must be rejected`);
          assert.deepEqual(result.types, []);
        },
      ),
    );
  });

  it("holds no bytes: its memory does not grow with the messages it follows", () => {
    const scanner = new FrameScanner();
    const big = encodeMessage(13, Buffer.alloc(MAX_MESSAGE_LENGTH - 1));
    const before = process.memoryUsage().arrayBuffers;
    for (let i = 0; i < 200; i++) scanner.push(big.subarray(0, 1000)), scanner.push(big.subarray(1000));
    // 200 messages of 256 KiB went past: 50 MiB if anything were kept.
    assert.ok(process.memoryUsage().arrayBuffers - before < 4 * 1024 * 1024);
  });
});
