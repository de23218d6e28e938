import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { after, describe, it } from "node:test";
import { encodeMessage } from "../../src/shared/protocol/encode.js";
import { fingerprint, parseIdentitiesAnswer } from "../../src/shared/protocol/identities.js";
import { MessageType } from "../../src/shared/protocol/messages.js";
import { makeKey } from "../helpers/agent.js";
import { run, tempDir } from "../helpers/process.js";

function sshString(bytes: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

function answer(keys: Array<{ blob: Buffer; comment: string }>): Buffer {
  const count = Buffer.alloc(4);
  count.writeUInt32BE(keys.length);
  const body = Buffer.concat([count, ...keys.flatMap((k) => [sshString(k.blob), sshString(Buffer.from(k.comment))])]);
  return encodeMessage(MessageType.IDENTITIES_ANSWER, body).subarray(4);
}

describe("parseIdentitiesAnswer", async () => {
  const dir = await tempDir();
  after(() => run("rm", ["-rf", dir]));

  it("gives the same fingerprint, type and comment as ssh-keygen -l", async () => {
    const key = await makeKey(dir, "laptop-key");
    const [type, base64, comment] = (await readFile(`${key}.pub`, "utf8")).trim().split(" ");
    const blob = Buffer.from(base64 as string, "base64");
    const [identity] = parseIdentitiesAnswer(answer([{ blob, comment: comment as string }]));
    const expected = (await run("ssh-keygen", ["-l", "-E", "sha256", "-f", `${key}.pub`])).stdout.split(" ")[1];
    assert.equal(identity?.keyType, type);
    assert.equal(identity?.comment, "laptop-key");
    assert.equal(fingerprint(identity?.blob ?? new Uint8Array()), expected);
  });

  it("keeps blobs it cannot parse as opaque keys", () => {
    const [identity] = parseIdentitiesAnswer(answer([{ blob: Buffer.from([1, 2]), comment: "odd" }]));
    assert.equal(identity?.keyType, "unknown");
    assert.match(fingerprint(identity?.blob ?? new Uint8Array()), /^SHA256:[A-Za-z0-9+/]{43}$/);
  });

  it("rejects truncated answers, wrong types and absurd counts", () => {
    const whole = answer([{ blob: Buffer.from("abc"), comment: "c" }]);
    assert.throws(() => parseIdentitiesAnswer(whole.subarray(0, whole.length - 1)), /truncated/);
    assert.throws(() => parseIdentitiesAnswer(Buffer.from([MessageType.FAILURE])), /expected an identities answer/);
    assert.throws(() => parseIdentitiesAnswer(Buffer.from([12, 0xff, 0xff, 0xff, 0xff])), /more than/);
  });
});
