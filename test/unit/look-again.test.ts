import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { AgentDiscovery } from "../../src/shared/discovery/discovery.js";
import { hostHash } from "../../src/shared/discovery/host-hash.js";
import { Cleanup, run, tempDir } from "../helpers/process.js";

const uid = process.getuid?.() ?? 0;

async function socketAt(cleanup: Cleanup, path: string): Promise<Server> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(path, resolve));
  cleanup.add(() => server.close());
  return server;
}

/** Part 1 of issue 10: a connection that finds no agent must not depend on a notification. */
describe("AgentDiscovery.lookAgain", () => {
  const cleanup = new Cleanup();
  after(() => cleanup.run());

  async function discovery() {
    const base = await tempDir();
    cleanup.add(() => run("rm", ["-rf", base]));
    const tmpRoot = join(base, "tmp");
    const home = join(base, "home");
    await mkdir(join(home, ".ssh", "agent"), { recursive: true, mode: 0o700 });
    await mkdir(tmpRoot, { mode: 0o700 });
    const found = new AgentDiscovery({ uid, hostHash, home, tmpRoot, extraDirs: [] });
    await found.start();
    cleanup.add(() => found.stop());
    return { found, tmpRoot, home };
  }

  it("finds a login that appeared a moment ago, at once, whatever notification is pending and however recent the last full scan", async () => {
    const { found, tmpRoot } = await discovery();
    await found.rescan(); // a full scan that has just finished
    const directory = join(tmpRoot, "ssh-JustNow001");
    await mkdir(directory, { mode: 0o700 });
    await socketAt(cleanup, join(directory, "agent.9000000"));
    // No waiting for the change notification: the look itself must find it.
    await found.lookAgain(300);
    assert.deepEqual(found.candidates().map((c) => c.path), [join(directory, "agent.9000000")]);
  });

  it("reads ~/.ssh/agent again (OpenSSH 10.1 layout)", async () => {
    const { found, home } = await discovery();
    const path = join(home, ".ssh", "agent", `s.${hostHash()}.sshd.0123456789`);
    await socketAt(cleanup, path);
    await found.lookAgain(300);
    assert.ok(found.candidates().some((c) => c.path === path));
  });

  it("answers within its budget and shares one look among callers arriving together", async () => {
    const { found } = await discovery();
    const started = performance.now();
    await Promise.all(Array.from({ length: 50 }, () => found.lookAgain(300)));
    assert.ok(performance.now() - started < 1000, "bounded in time");
  });
});
