import assert from "node:assert/strict";
import { connect } from "node:net";
import { after, before, describe, it } from "node:test";
import { REQUEST_IDENTITIES_MESSAGE } from "../../src/shared/protocol/encode.js";
import { MessageType } from "../../src/shared/protocol/messages.js";
import { addKey, makeKey, sshAdd, startAgent } from "../helpers/agent.js";
import { forwardedSocketPath, startDaemon, type TestDaemon } from "../helpers/daemon.js";
import { Cleanup, run, tempDir, waitFor } from "../helpers/process.js";

/** Sends `count` requests in pieces of `pieceBytes` bytes (all at once), reads every answer. */
function pipeline(path: string, count: number, pieceBytes: number): Promise<number[]> {
  const bytes = Buffer.concat(Array.from({ length: count }, () => REQUEST_IDENTITIES_MESSAGE));
  return new Promise((resolve, reject) => {
    const socket = connect({ path });
    const types: number[] = [];
    let buffered = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`only ${types.length} of ${count} answers within 20 s`));
    }, 20_000);
    socket.on("error", reject);
    socket.on("connect", () => {
      for (let offset = 0; offset < bytes.length; offset += pieceBytes) socket.write(bytes.subarray(offset, offset + pieceBytes));
    });
    socket.on("data", (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 4 && buffered.length >= 4 + buffered.readUInt32BE(0)) {
        types.push(buffered[4] as number);
        buffered = buffered.subarray(4 + buffered.readUInt32BE(0));
      }
      if (types.length === count) {
        clearTimeout(timer);
        socket.destroy();
        resolve(types);
      }
    });
  });
}

/** At most a few requests of a connection are with the agent at once; the rest wait in the
 * daemon. A client that pipelines must still get every answer, in order. */
describe("pipelined requests through the daemon", () => {
  const cleanup = new Cleanup();
  let daemon: TestDaemon;
  before(async () => {
    const keys = await tempDir();
    cleanup.add(() => run("rm", ["-rf", keys]));
    daemon = await startDaemon(cleanup);
    const agent = await startAgent(cleanup, forwardedSocketPath(daemon.tmpRoot, "Pipeline"));
    await addKey(agent.path, await makeKey(keys, "pipelined-key"));
    await waitFor("the agent", async () => (await sshAdd(daemon.socket, ["-l"])).code === 0, 5000);
  });
  after(() => cleanup.run());

  for (const [count, piece] of [[64, 64 * 5], [1000, 5000], [200, 3], [300, 7]] as const) {
    it(`answers all of ${count} requests sent in pieces of ${piece} bytes`, async () => {
      const types = await pipeline(daemon.socket, count, piece);
      assert.equal(types.length, count);
      assert.ok(types.every((type) => type === MessageType.IDENTITIES_ANSWER));
    });
  }
});
