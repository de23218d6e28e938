import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { REQUEST_IDENTITIES_MESSAGE } from "../../src/shared/protocol/encode.js";
import { socketAcceptsConnections } from "../../src/shared/core/dial.js";
import { memoryOf } from "../../bench/system.js";
import { RawAgentClient } from "../../bench/agent-client.js";
import { timeRequest } from "../helpers/abuse.js";
import { addKey, makeKey, startAgent } from "../helpers/agent.js";
import { forwardedSocketPath, startDaemon } from "../helpers/daemon.js";
import { BIN, Cleanup, run, sleep, spawnTracked, tempDir, waitFor } from "../helpers/process.js";

const hasPrlimit = spawnSync("prlimit", ["--version"]).status === 0;

/** Opens `count` connections that each send one request and stay; resolves once all have
 * connected or been refused. */
async function flood(path: string, count: number): Promise<Socket[]> {
  const sockets: Socket[] = [];
  await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<void>((resolve) => {
          const socket = connect({ path });
          sockets.push(socket);
          socket.on("error", () => resolve());
          socket.on("close", () => resolve());
          socket.on("data", () => undefined);
          socket.on("connect", () => {
            socket.write(REQUEST_IDENTITIES_MESSAGE);
            resolve();
          });
        }),
    ),
  );
  return sockets;
}

describe("running out of file descriptors (issue 10, part 3)", () => {
  const cleanup = new Cleanup();
  after(() => cleanup.run());

  it(
    "sheds new connections under a real descriptor limit, keeps serving open ones, never dies, and serves normally once descriptors are free",
    { skip: hasPrlimit ? false : "SKIPPED: prlimit (util-linux) is not installed" },
    async () => {
      const base = await tempDir();
      cleanup.add(() => run("rm", ["-rf", base]));
      const tmpRoot = join(base, "tmp");
      const home = join(base, "home");
      await run("mkdir", ["-p", "-m", "700", tmpRoot, home]);
      const key = await makeKey(base, "fd-key");
      const agent = await startAgent(cleanup, forwardedSocketPath(tmpRoot, "Fds"));
      await addKey(agent.path, key);
      const socket = join(base, "anchor", "agent.sock");
      // A real limit on the real daemon: 256 descriptors, soft and hard.
      const child = spawnTracked(cleanup, "prlimit", ["--nofile=256:256", "--", BIN, "run", "--socket", socket, "--tmp-dir", tmpRoot], {
        ...process.env,
        HOME: home,
      });
      let log = "";
      child.stderr?.on("data", (chunk: Buffer) => (log += chunk.toString()));
      await waitFor("the daemon", () => socketAcceptsConnections(socket, 500), 10_000);
      const pid = child.pid as number;

      const old = await RawAgentClient.open(socket);
      assert.equal((await old.request(REQUEST_IDENTITIES_MESSAGE))[4], 12);

      const crowd = await flood(socket, 600);
      try {
        // Long enough for every timer to have fired while short of descriptors (the memory
        // keeper looks every 5 s; a probe, the socket check).
        await sleep(6500);
        assert.equal(child.exitCode, null, `the daemon died: ${log.slice(-2000)}`);
        assert.equal(child.signalCode, null);
        const answer = await Promise.race([old.request(REQUEST_IDENTITIES_MESSAGE), sleep(2000).then(() => undefined)]);
        assert.ok(answer, "an open connection is still served while new ones are shed");
        assert.match(log, /out of file descriptors/);
        assert.doesNotMatch(log, /internal error/);
      } finally {
        for (const s of crowd) s.destroy();
      }
      // Free again: served normally within 1 s.
      await sleep(200);
      const fresh = await timeRequest(socket, 5000);
      assert.equal(fresh.keys, 1, `no answer once descriptors are free: ${log.slice(-1000)}`);
      assert.ok(fresh.ms < 1000, `took ${fresh.ms.toFixed(0)} ms`);
      const status = JSON.parse((await run(BIN, ["status", "--json", "--socket", socket], { env: { ...process.env, HOME: home } })).stdout);
      assert.equal(status.pid, pid, "the same daemon");
      assert.ok(status.connections.shed > 0, "connections were shed");
      const text = (await run(BIN, ["status", "--socket", socket], { env: { ...process.env, HOME: home } })).stdout;
      assert.match(text, new RegExp(`, ${status.connections.shed} closed at once while out of file descriptors \\(raise ulimit -n\\)$`, "m"), text);
      assert.equal(status.agents[0]?.state, "live", "the agent was not judged by the daemon's own shortage");
      old.close();
    },
  );
});

describe("the empty agent applies backpressure (issue 10, part 4)", () => {
  const cleanup = new Cleanup();
  let daemon: Awaited<ReturnType<typeof startDaemon>>;
  before(async () => {
    daemon = await startDaemon(cleanup);
  });
  after(() => cleanup.run());

  it("stops reading a client that does not read its answers: the daemon's memory and the client's writes stay bounded", async () => {
    const pid = daemon.process.pid as number;
    const before = (await memoryOf(pid)).rssAnonKiB;
    const block = Buffer.concat(Array.from({ length: (64 * 1024) / 5 }, () => REQUEST_IDENTITIES_MESSAGE));
    let accepted = 0;
    await new Promise<void>((resolve, reject) => {
      const socket = connect({ path: daemon.socket });
      socket.on("error", reject);
      let first = true;
      socket.on("data", () => {
        if (!first) return;
        first = false;
        // Read the first answer, then never again; write as fast as the socket takes it.
        socket.pause();
        const deadline = performance.now() + 3000;
        const pump = (): void => {
          while (performance.now() < deadline) {
            accepted += block.length;
            if (!socket.write(block)) {
              socket.once("drain", pump);
              return;
            }
          }
          socket.destroy();
          resolve();
        };
        pump();
        // A client held by backpressure never sees "drain": end the test on time anyway.
        setTimeout(() => {
          socket.destroy();
          resolve();
        }, 3200);
      });
      socket.on("connect", () => socket.write(REQUEST_IDENTITIES_MESSAGE));
    });
    const grown = (await memoryOf(pid)).rssAnonKiB - before;
    assert.equal(daemon.process.exitCode, null, "the daemon is alive");
    // Without backpressure a client pushes hundreds of MiB in 3 s (and the daemon's answers pile up).
    assert.ok(accepted < 16 * 1024 * 1024, `the client could write ${accepted} bytes`);
    assert.ok(grown < 32 * 1024, `RssAnon grew by ${grown} KiB`);
    const fresh = await timeRequest(daemon.socket, 5000);
    assert.equal(fresh.keys, 0, "a fresh client is still answered as an empty agent");
  });
});
