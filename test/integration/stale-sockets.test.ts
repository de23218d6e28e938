import assert from "node:assert/strict";
import { chmod, mkdir, readdir, symlink } from "node:fs/promises";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import type { DoctorReport } from "../../src/features/doctor/doctor.js";
import { LIMITS } from "../../src/features/daemon/policy.js";
import { askDaemon } from "../../src/shared/control/client.js";
import type { StatusReport } from "../../src/shared/control/status.js";
import { socketAcceptsConnections } from "../../src/shared/core/dial.js";
import { hostHash } from "../../src/shared/discovery/host-hash.js";
import { removeStaleSocket, staleHomeSockets } from "../../src/shared/discovery/stale-sockets.js";
import { addKey, makeKey, sshAdd, startAgent } from "../helpers/agent.js";
import { BIN, Cleanup, run, spawnTracked, waitFor } from "../helpers/process.js";
import { makeStaleSockets, staleSandboxDirs } from "../helpers/stale.js";

/** No process has a pid above the largest pid_max (2^22): a login that ended. */
const DEAD_PID = 4_194_304 + 77;

interface Sandbox {
  readonly base: string;
  readonly home: string;
  readonly tmpRoot: string;
  readonly agentDir: string;
  readonly socket: string;
  readonly env: NodeJS.ProcessEnv;
}

async function sandbox(cleanup: Cleanup): Promise<Sandbox> {
  const { base, home, tmpRoot, agentDir } = await staleSandboxDirs(cleanup);
  for (const dir of ["tmux", "screen"]) await mkdir(join(base, dir), { mode: 0o700 });
  const socket = join(base, "anchor", "agent.sock");
  const env = { ...process.env, HOME: home, TMUX_TMPDIR: join(base, "tmux"), SCREENDIR: join(base, "screen"), SSH_ANCHOR_SOCKET: socket, NO_COLOR: "1" };
  return { base, home, tmpRoot, agentDir, socket, env };
}

async function startDaemonIn(cleanup: Cleanup, box: Sandbox): Promise<() => string> {
  const child = spawnTracked(cleanup, BIN, ["run", "--socket", box.socket, "--tmp-dir", box.tmpRoot, "--verbose"], box.env);
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  await waitFor("the daemon's socket", () => socketAcceptsConnections(box.socket, 500), { timeoutMs: 20_000, explain: () => stderr });
  cleanup.add(() => run(BIN, ["stop", "--socket", box.socket], { env: box.env }));
  return () => stderr;
}

/** The status report over the control socket (the text of `status --json` with thousands of candidates is long). */
const statusOf = (box: Sandbox) => askDaemon<StatusReport>(`${box.socket}.ctl`, "status", 20_000);

describe("stale sockets (dead logins' sockets that refuse connections)", () => {
  const cleanup = new Cleanup();
  after(() => cleanup.run());

  for (const hidden of [false, true]) {
    const where = hidden ? "bound through a symlinked path, so that nothing tells it from the stale ones without a connect" : "~/.ssh/agent";
    it(`answers the first request after a start among 300 stale sockets in each layout, trying a bounded number in turn (live agent ${where})`, async () => {
      const box = await sandbox(cleanup);
      const tag = hostHash();
      // The live agent is the oldest socket: newest-first alone would try every stale one first.
      // Bound under another spelling of its path, /proc/net/unix does not show it at the path
      // the daemon knows (as a listener in another network namespace): it is a suspect too, and
      // the checks ahead of the request find it.
      const live = join(box.agentDir, `s.${tag}.sshd.live000000`);
      if (hidden) await symlink(box.home, join(box.base, "home-link"));
      await startAgent(cleanup, hidden ? join(box.base, "home-link", ".ssh", "agent", `s.${tag}.sshd.live000000`) : live);
      await addKey(live, await makeKey(box.base, "live-key"));
      const stale: string[] = [];
      for (let i = 0; i < 300; i++) {
        const directory = join(box.tmpRoot, `ssh-stale${String(i).padStart(4, "0")}`);
        await mkdir(directory, { mode: 0o700 });
        stale.push(join(directory, `agent.${DEAD_PID + i}`));
        stale.push(join(box.agentDir, `s.${tag}.sshd.stale${String(i).padStart(4, "0")}`));
      }
      await makeStaleSockets(stale);
      const log = await startDaemonIn(cleanup, box);
      const listed = await sshAdd(box.socket, ["-l"]);
      assert.equal(listed.code, 0, `${listed.stdout}${listed.stderr}\n${log()}`);
      assert.match(listed.stdout, /live-key/);
      const report = await statusOf(box);
      const tried = report.connections.deadTriedMax ?? NaN;
      assert.ok(tried <= LIMITS.deadTriedPerRequest, `the first request tried ${tried} dead candidates in turn\n${log()}`);
      // Every stale one is found out, without a request paying for each.
      await waitFor("the stale sockets to be counted", async () => (await statusOf(box)).staleSockets?.count === 300, {
        timeoutMs: 20_000,
        explain: async () => `${JSON.stringify((await statusOf(box)).staleSockets)}\n${log()}`,
      });
      // status names a few dead ones and counts the rest (--json has them all).
      const text = await run(BIN, ["status", "--socket", box.socket], { env: box.env });
      assert.match(text.stdout, /\.\.\. and \d+ more dead/);
      assert.ok(text.stdout.split("\n").length < 80, text.stdout);
      const again = await sshAdd(box.socket, ["-l"]);
      assert.match(again.stdout, /live-key/);
      assert.ok(((await statusOf(box)).connections.deadTriedMax ?? NaN) <= LIMITS.deadTriedPerRequest);
    });
  }

  it("status counts this host's stale sockets in ~/.ssh/agent; doctor reports them and --fix removes only them", async () => {
    const box = await sandbox(cleanup);
    const tag = hostHash();
    const otherTag = hostHash(`not-this-host-${process.pid}`);
    const live = join(box.agentDir, `s.${tag}.sshd.live000000`);
    await startAgent(cleanup, live);
    await addKey(live, await makeKey(box.base, "live-key"));
    const ours = [0, 1, 2].map((i) => join(box.agentDir, `s.${tag}.sshd.stale${i}`));
    const otherHost = join(box.agentDir, `s.${otherTag}.sshd.elsewhere0`);
    await makeStaleSockets([...ours, otherHost]);
    const log = await startDaemonIn(cleanup, box);
    await waitFor("3 stale sockets counted", async () => (await statusOf(box)).staleSockets?.count === 3, { timeoutMs: 20_000, explain: log });
    const text = await run(BIN, ["status", "--socket", box.socket], { env: box.env });
    assert.match(text.stdout, /stale: +3 sockets of this host in .*\.ssh\/agent refuse connections/);

    const doctor = await run(BIN, ["doctor", "--json", "--socket", box.socket], { env: box.env, timeoutMs: 60_000 });
    const report = JSON.parse(doctor.stdout) as DoctorReport;
    const finding = report.findings.find((f) => f.title.includes("refuse"));
    assert.ok(finding, doctor.stdout);
    assert.match(finding.title, /^3 sockets of this host/);
    assert.equal(finding.verdict, "warn");

    const fixed = await run(BIN, ["doctor", "--fix", "--json", "--socket", box.socket], { env: box.env, timeoutMs: 60_000 });
    const fixReport = JSON.parse(fixed.stdout) as DoctorReport;
    assert.ok(fixReport.repairs.some((r) => r.startsWith("removed 3 stale sockets")), fixed.stdout);
    assert.ok(!fixReport.findings.some((f) => f.title.includes("refuse")), fixed.stdout);
    const left = (await readdir(box.agentDir)).sort();
    // The live one accepts connections; the other host's may well be alive there: both stay.
    assert.deepEqual(left, [`s.${otherTag}.sshd.elsewhere0`, `s.${tag}.sshd.live000000`].sort());
    const listed = await sshAdd(box.socket, ["-l"]);
    assert.match(listed.stdout, /live-key/);
  });

  it("acts on nothing in a ~/.ssh/agent that fails the daemon's rule for directories (group-writable)", async () => {
    const box = await sandbox(cleanup);
    const tag = hostHash();
    const stale = join(box.agentDir, `s.${tag}.sshd.stale0`);
    await makeStaleSockets([stale]);
    const uid = process.getuid?.() ?? 0;
    const found = await staleHomeSockets(box.home, uid, tag);
    assert.deepEqual(
      found.map((socket) => socket.path),
      [stale],
      "found while the directory is the user's alone",
    );
    // A group member could rename a live socket onto a stale one's name between check and unlink.
    await chmod(box.agentDir, 0o770);
    assert.deepEqual(await staleHomeSockets(box.home, uid, tag), [], "nothing is counted");
    assert.equal(await removeStaleSocket(found[0]!, uid), false, "nothing is removed");
    assert.deepEqual(await readdir(box.agentDir), [`s.${tag}.sshd.stale0`]);
  });
});
