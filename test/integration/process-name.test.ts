import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { BIN, Cleanup, run, tempDir } from "../helpers/process.js";

/** What the README says about the running daemon: its name, and its memory as status shows it. */
describe("the daemon as ps and status show it", () => {
  const cleanup = new Cleanup();
  let socket: string;
  let pid: number;
  let env: NodeJS.ProcessEnv;
  before(async () => {
    const base = await tempDir();
    cleanup.add(() => run("rm", ["-rf", base]));
    socket = join(base, "anchor", "agent.sock");
    env = { ...process.env, NO_COLOR: "1" };
    const started = await run(BIN, ["start", "--socket", socket, "--tmp-dir", join(base, "tmp")], { env });
    assert.equal(started.code, 0, started.stderr);
    cleanup.add(() => run(BIN, ["stop", "--socket", socket], { env }));
    pid = Number((await readFile(`${socket}.pid`, "utf8")).trim());
  });
  after(() => cleanup.run());

  it("is named ssh-anchor in /proc/PID/comm, and ps shows its command line", async () => {
    assert.equal(await readFile(`/proc/${pid}/comm`, "utf8"), "ssh-anchor\n");
    const ps = await run("ps", ["-o", "args=", "-p", String(pid)]);
    assert.match(ps.stdout.trim(), new RegExp(`^ssh-anchor run --socket ${socket.replaceAll(".", "\\.")}\\b`));
  });

  it("status shows private memory (RssAnon) first, and says which figure is which", async () => {
    const json = JSON.parse((await run(BIN, ["status", "--json", "--socket", socket], { env })).stdout) as {
      memoryKiB: { private: number; privateSource: string; rss: number };
    };
    assert.equal(json.memoryKiB.privateSource, "RssAnon");
    const anon = Number(/^RssAnon:\s+(\d+) kB$/m.exec(await readFile(`/proc/${pid}/status`, "utf8"))?.[1]);
    // Read a moment apart: within 2 MiB of each other, and well below resident memory.
    assert.ok(Math.abs(json.memoryKiB.private - anon) < 2048, `${json.memoryKiB.private} KiB vs RssAnon ${anon} KiB`);
    assert.ok(json.memoryKiB.private < json.memoryKiB.rss);
    const text = (await run(BIN, ["status", "--socket", socket], { env })).stdout;
    assert.match(text, /^memory: +\d+ KiB private \(RssAnon\), \d+ KiB resident with the shared node binary \(/m);
  });

  it("status says what its counters count", async () => {
    await run("ssh-add", ["-l"], { env: { ...env, SSH_AUTH_SOCK: socket } });
    const text = (await run(BIN, ["status", "--socket", socket], { env })).stdout;
    assert.match(text, /^connections: \d+ accepted, 0 open; /m);
    assert.match(text, /^requests: +1 agent request in them /m);
  });
});
