import assert from "node:assert/strict";
import { once } from "node:events";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { addKey, makeKey, sshAdd, startAgent } from "../helpers/agent.js";
import { forwardedSocketPath } from "../helpers/daemon.js";
import { socketAcceptsConnections } from "../../src/shared/core/dial.js";
import { BIN, Cleanup, run, section, spawnTracked, tempDir, waitFor } from "../helpers/process.js";

/**
 * Node's own modules cost a daemon that idles for weeks their code and state, loaded once and
 * kept (docs/benchmarks.md, seventh and ninth passes): perf_hooks (the global `performance`), v8
 * and vm were 300 KiB of its idle memory for a clock, a heap size and gc(); crypto 400 KiB for the
 * fingerprints of the keys each probe saw. The daemon reads the same from what Node has loaded
 * anyway (src/shared/core/clock.ts, src/features/daemon/memory-keeper.ts) and hashes keys only
 * for per-identity scopes (src/features/daemon/agent-book.ts, status-report.ts); this
 * holds it there, for the daemon as the launcher starts it, once it has served requests.
 */
const NOT_LOADED = ["perf_hooks", "internal/perf/performance", "v8", "vm", "crypto"];

/** Written into the process at its start (NODE_OPTIONS=--require): its module list, at exit. */
const RECORDER = `
process.on("exit", () => require("node:fs").writeFileSync(process.env.MODULES_FILE, process.moduleLoadList.join("\\n")));
`;

/** How many times the process's main thread has been put on a CPU (schedstat's third field). */
async function timesRun(pid: number): Promise<number> {
  return Number((await readFile(`/proc/${pid}/task/${pid}/schedstat`, "utf8")).trim().split(" ")[2]);
}

/**
 * A daemon started as the launcher starts it, beside a forwarded-looking agent of its own (with
 * a key when `key` is given), once its socket accepts connections.
 */
async function startDaemonBesideAgent(cleanup: Cleanup, options: { login: string; key?: string; env?: NodeJS.ProcessEnv }) {
  const base = await tempDir();
  cleanup.add(() => run("rm", ["-rf", base]));
  const home = join(base, "home");
  const tmpRoot = join(base, "tmp");
  await run("mkdir", ["-p", "-m", "700", home, tmpRoot]);
  const agent = await startAgent(cleanup, forwardedSocketPath(tmpRoot, options.login));
  if (options.key) await addKey(agent.path, await makeKey(base, options.key));
  const socket = join(base, "anchor", "agent.sock");
  const daemon = spawnTracked(cleanup, BIN, ["run", "--socket", socket, "--tmp-dir", tmpRoot], { ...process.env, ...options.env, HOME: home });
  let log = "";
  daemon.stderr?.on("data", (chunk: Buffer) => (log += chunk.toString()));
  const explain = () => section("the daemon's log", log);
  await waitFor("the daemon's socket", () => socketAcceptsConnections(socket, 500), { timeoutMs: 10_000, explain });
  return { daemon, socket, explain };
}

describe("the daemon's idle footprint", () => {
  const cleanup = new Cleanup();
  after(() => cleanup.run());

  it("serves without loading Node's modules it has no use for (perf_hooks, v8, vm, crypto)", async () => {
    const scratch = await tempDir();
    cleanup.add(() => run("rm", ["-rf", scratch]));
    const recorder = join(scratch, "recorder.cjs");
    const modulesFile = join(scratch, "modules.txt");
    await writeFile(recorder, RECORDER);
    const env = { NODE_OPTIONS: `--require ${recorder}`, MODULES_FILE: modulesFile };
    const { daemon, socket, explain } = await startDaemonBesideAgent(cleanup, { login: "Mod", key: "id_footprint", env });
    for (let i = 0; i < 3; i += 1) {
      const listed = await sshAdd(socket, ["-l"]);
      assert.match(listed.stdout, /id_footprint/, explain());
    }
    const exited = once(daemon, "exit");
    daemon.kill("SIGTERM");
    await exited;
    const loaded = (await readFile(modulesFile, "utf8")).split("\n").filter((line) => line.startsWith("NativeModule ")).map((line) => line.slice("NativeModule ".length));
    assert.ok(loaded.includes("net"), `the recorder saw the daemon's modules: ${loaded.join(", ")}`);
    assert.deepEqual(
      NOT_LOADED.filter((name) => loaded.includes(name)),
      [],
    );
  });

  it("sleeps while idle: nothing wakes it several times a second (its few periodic looks are seconds apart)", async () => {
    const { daemon, socket, explain } = await startDaemonBesideAgent(cleanup, { login: "Idle" });
    assert.equal((await sshAdd(socket, ["-l"])).code, 1, `the agent answered through the daemon (no keys)\n${explain()}`);
    // Six windows of a second: the periodic looks (every 5 s) fall in a few of them; a timer of
    // a few hundred ms (the forwards' sweep ran four times a second with no forward) in all.
    const windows: number[] = [];
    for (let i = 0; i < 6; i += 1) {
      const before = await timesRun(daemon.pid as number);
      await sleep(1000);
      windows.push((await timesRun(daemon.pid as number)) - before);
    }
    assert.ok(Math.min(...windows) <= 1, `the daemon's main thread ran ${windows.join(", ")} times in six idle seconds`);
  });
});
