import assert from "node:assert/strict";
import { chown, mkdir, symlink } from "node:fs/promises";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { addKey, makeKey, sshAdd, startAgent, type TestAgent } from "../helpers/agent.js";
import { forwardedSocketPath, startDaemon, type TestDaemon } from "../helpers/daemon.js";
import { Cleanup, run, sleep, tempDir, waitFor } from "../helpers/process.js";

const NOBODY = 65534;
const isRoot = process.getuid?.() === 0;

/** Opens a raw connection to the daemon. */
function open(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ path }, () => resolve(socket));
    socket.once("error", reject);
  });
}

/** Resolves when the daemon closes `socket`, or with "open" if it is still open after `ms`. */
function closedWithin(socket: Socket, ms: number): Promise<"closed" | "open"> {
  return new Promise((resolve) => {
    if (socket.destroyed) return resolve("closed");
    const timer = setTimeout(() => resolve("open"), ms);
    socket.on("error", () => undefined);
    socket.once("close", () => {
      clearTimeout(timer);
      resolve("closed");
    });
  });
}

describe("hostile candidates and hostile clients", () => {
  const cleanup = new Cleanup();
  let daemon: TestDaemon;
  let mine: TestAgent;
  before(async () => {
    const keys = await tempDir();
    cleanup.add(() => run("rm", ["-rf", keys]));
    daemon = await startDaemon(cleanup);
    mine = await startAgent(cleanup, forwardedSocketPath(daemon.tmpRoot, "Mine"));
    await addKey(mine.path, await makeKey(keys, "my-key"));

    // A live agent with a tempting key, reachable only through look-alikes the daemon must refuse.
    const bait = await startAgent(cleanup, join(keys, "bait", "agent.sock"));
    await addKey(bait.path, await makeKey(keys, "someone-elses-key"));
    const lure = join(daemon.tmpRoot, "ssh-Lure");
    await mkdir(lure, { mode: 0o700 });
    await symlink(bait.path, join(lure, "agent.9000100"));
    await run("mkfifo", [join(lure, "agent.9000101")]);
    if (isRoot) {
      // Another user's session directory holding a live agent (root could read it; must not).
      const theirs = await startAgent(cleanup, forwardedSocketPath(daemon.tmpRoot, "Theirs"));
      await addKey(theirs.path, await makeKey(keys, "another-users-key"));
      await chown(join(theirs.path, ".."), NOBODY, NOBODY);
      await chown(theirs.path, NOBODY, NOBODY);
    }
    await waitFor("the daemon to see the planted entries", async () => (await daemon.status()).ignored.length >= 2, 5000);
  });
  after(() => cleanup.run());

  it("uses only the user's own real sockets, and says why it refused the others", async () => {
    const listed = await sshAdd(daemon.socket, ["-l"]);
    assert.equal(listed.code, 0);
    assert.match(listed.stdout, /my-key/);
    assert.doesNotMatch(listed.stdout, /someone-elses-key|another-users-key/);
    const status = await daemon.status();
    assert.deepEqual(status.agents.map((a) => a.path), [mine.path]);
    const reasons = status.ignored.map((entry) => `${entry.path.split("/").pop()}: ${entry.reason}`).sort();
    assert.deepEqual(reasons, ["agent.9000100: is a symlink (never followed)", "agent.9000101: is a FIFO, not a socket"]);
  });

  for (const [what, bytes] of [
    ["a message over 256 KiB", Buffer.from([0x00, 0x04, 0x00, 0x01, 11])],
    ["a zero-length message", Buffer.from([0, 0, 0, 0, 0, 0, 0, 1, 11])],
    ["garbage", Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n")],
  ] as const) {
    it(`closes a connection that sends ${what}, and nothing else is affected`, async () => {
      const bystander = await open(daemon.socket);
      const hostile = await open(daemon.socket);
      hostile.write(bytes);
      assert.equal(await closedWithin(hostile, 3000), "closed");
      assert.equal(await closedWithin(bystander, 200), "open");
      bystander.destroy();
      assert.match((await sshAdd(daemon.socket, ["-l"])).stdout, /my-key/);
    });
  }

  it("survives clients that vanish mid-message", async () => {
    const rejectedBefore = (await daemon.status()).connections.rejected;
    for (let i = 0; i < 50; i++) {
      const client = await open(daemon.socket);
      // A header promising 100 bytes, then 3 of them, then gone.
      client.end(Buffer.from([0, 0, 0, 100, 13, 1, 2]));
    }
    await sleep(200);
    const status = await daemon.status();
    assert.equal(status.connections.active, 0, "every vanished client's connection must be released");
    assert.equal(status.connections.rejected, rejectedBefore);
    assert.match((await sshAdd(daemon.socket, ["-l"])).stdout, /my-key/);
  });

  it("serves 16 parallel ssh-add -l while an idle client holds its connection open", async () => {
    const idle = await open(daemon.socket);
    const results = await Promise.all(Array.from({ length: 16 }, () => sshAdd(daemon.socket, ["-l"], 10_000)));
    for (const result of results) {
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /my-key/);
    }
    assert.ok(Math.max(...results.map((r) => r.millis)) < 5000);
    assert.equal(await closedWithin(idle, 100), "open");
    idle.destroy();
  });
});
