import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { encodeMessage } from "../../src/shared/protocol/encode.js";
import { FrameError, FrameScanner } from "../../src/shared/protocol/frame-scanner.js";
import { MAX_MESSAGE_LENGTH, MessageType } from "../../src/shared/protocol/messages.js";

const stream = Buffer.concat([
  encodeMessage(MessageType.REQUEST_IDENTITIES),
  encodeMessage(MessageType.SIGN_REQUEST, Buffer.alloc(300, 7)),
  encodeMessage(MessageType.EXTENSION, Buffer.from("\0\0\0\x05query")),
]);
const types = [MessageType.REQUEST_IDENTITIES, MessageType.SIGN_REQUEST, MessageType.EXTENSION];

function scanInPieces(bytes: Buffer, cuts: number[]): number[] {
  const scanner = new FrameScanner();
  const seen: number[] = [];
  let start = 0;
  for (const cut of [...cuts, bytes.length]) {
    scanner.push(bytes.subarray(start, cut), (type) => seen.push(type));
    start = cut;
  }
  assert.equal(scanner.atBoundary, true);
  return seen;
}

describe("FrameScanner", () => {
  it("finds every message in one chunk", () => {
    assert.deepEqual(scanInPieces(stream, []), types);
  });

  it("finds the same messages whatever single point the stream is split at", () => {
    for (let cut = 0; cut <= stream.length; cut++) assert.deepEqual(scanInPieces(stream, [cut]), types, `cut at ${cut}`);
  });

  it("finds the same messages when fed one byte at a time", () => {
    assert.deepEqual(
      scanInPieces(stream, Array.from({ length: stream.length }, (_, i) => i)),
      types,
    );
  });

  it("counts completed messages and knows when it stops mid-message", () => {
    const scanner = new FrameScanner();
    assert.equal(scanner.push(stream.subarray(0, 7)), 1);
    assert.equal(scanner.atBoundary, false);
    assert.equal(scanner.push(stream.subarray(7)), 2);
  });

  it("accepts a message of exactly the limit and rejects one byte more", () => {
    const atLimit = Buffer.alloc(4);
    atLimit.writeUInt32BE(MAX_MESSAGE_LENGTH);
    assert.doesNotThrow(() => new FrameScanner().push(atLimit));
    const over = Buffer.alloc(4);
    over.writeUInt32BE(MAX_MESSAGE_LENGTH + 1);
    assert.throws(() => new FrameScanner().push(over), FrameError);
  });

  it("rejects a zero-length message", () => {
    assert.throws(() => new FrameScanner().push(Buffer.from([0, 0, 0, 0])), /zero-length/);
  });

  it("rejects a huge length split across chunks", () => {
    const scanner = new FrameScanner();
    scanner.push(Buffer.from([0xff, 0xff]));
    assert.throws(() => scanner.push(Buffer.from([0xff, 0xff])), FrameError);
  });
});
