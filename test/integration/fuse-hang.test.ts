import assert from "node:assert/strict";
import { chmod, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { askDaemon } from "../../src/shared/control/client.js";
import { socketAcceptsConnections } from "../../src/shared/core/dial.js";
import { addKey, makeKey, sshAdd, startAgent } from "../helpers/agent.js";
import { makeAttacker, type Attacker } from "../helpers/attacker.js";
import { BIN, Cleanup, REPO, requireRoot, run, spawnTracked, tempDir, waitFor } from "../helpers/process.js";

const skip = requireRoot();

/** A file system whose getattr (and readdir) never returns: fusepy, as Debian packages it. */
const HANGING_FS = `
import sys, threading
from fusepy import FUSE, Operations
class Hang(Operations):
    def getattr(self, path, fh=None):
        threading.Event().wait()
    def readdir(self, path, fh):
        threading.Event().wait()
FUSE(Hang(), sys.argv[1], foreground=True, allow_other=True)
`;

/** In a separate process (its stuck thread must not be the test's): the gate against the mount. */
const GATE_PROBE = `
import { readFile } from "node:fs/promises";
import { ForeignFs, UNANSWERED } from ${JSON.stringify(join(REPO, "src/shared/core/foreign-fs.ts"))};
const gate = new ForeignFs(1, 1000);
const path = process.argv[2];
let started = performance.now();
const first = await gate.lstat(path);
const firstMs = performance.now() - started;
started = performance.now();
const second = await gate.lstat(path);
const secondMs = performance.now() - started;
// The pool still serves other calls: one thread is held, the others are free.
started = performance.now();
await readFile("/proc/self/status", "utf8");
const otherMs = performance.now() - started;
process.stdout.write(JSON.stringify({ first: first === UNANSWERED, firstMs, second: second === UNANSWERED, secondMs, otherMs, hanging: gate.hanging() }) + "\\n");
`;

const mountedAt = async (path: string): Promise<string | undefined> =>
  (await readFile("/proc/self/mountinfo", "utf8")).split("\n").find((line) => line.split(" ")[4] === path);

/**
 * Issue 18, item 6: another user (user_allow_other in /etc/fuse.conf) mounts a file system whose
 * getattr never returns on a session-directory name in the tmp root. The daemon, its periodic
 * scan, a fresh login and doctor must all go on as if it were not there.
 */
describe("another user's FUSE mount that never answers, in the tmp root", { skip }, () => {
  const cleanup = new Cleanup();
  let attacker: Attacker;
  let base: string;
  let tmpRoot: string;
  let home: string;
  let socket: string;
  let keys: string;
  let mount: string;
  let env: NodeJS.ProcessEnv;
  const dumps: string[] = [];

  before(async () => {
    // /etc/fuse.conf and /dev/fuse as they were, restored last (cleanup runs in reverse).
    const conf = await readFile("/etc/fuse.conf", "utf8").catch(() => undefined);
    const devMode = (await stat("/dev/fuse")).mode & 0o777;
    cleanup.add(async () => {
      if (conf === undefined) await run("rm", ["-f", "/etc/fuse.conf"]);
      else await writeFile("/etc/fuse.conf", conf);
      await chmod("/dev/fuse", devMode);
    });
    await writeFile("/etc/fuse.conf", `${conf ?? ""}\nuser_allow_other\n`);
    // A container's /dev/fuse may be root's only; a desktop's is 0666 already.
    await chmod("/dev/fuse", 0o666);
    attacker = await makeAttacker(cleanup);
    base = await tempDir("anchor-fuse-");
    await chmod(base, 0o755);
    cleanup.add(() => run("rm", ["-rf", base]));
    tmpRoot = join(base, "tmp");
    home = join(base, "home");
    keys = join(base, "keys");
    await run("mkdir", ["-m", "1777", tmpRoot]);
    await chmod(tmpRoot, 0o1777);
    await run("mkdir", ["-m", "700", home, keys]);
    const script = join(base, "hang.py");
    await writeFile(script, HANGING_FS, { mode: 0o644 });
    socket = join(base, "anchor", "agent.sock");
    env = { ...process.env, HOME: home };
    // The user's login, with a key of its own, before anything hangs.
    const login = await startAgent(cleanup, join(tmpRoot, "ssh-login1", "agent.9000001"));
    await addKey(login.path, await makeKey(keys, "first-login"));
    const daemon = spawnTracked(cleanup, BIN, ["run", "--socket", socket, "--tmp-dir", tmpRoot, "--verbose"], env);
    daemon.stderr?.on("data", (chunk: Buffer) => dumps.push(chunk.toString()));
    await waitFor("the daemon's socket", () => socketAcceptsConnections(socket, 500), 10_000);
    await waitFor("the login to be served", async () => (await sshAdd(socket, ["-l"], 5000)).stdout.includes("first-login"), 10_000);

    mount = join(tmpRoot, "ssh-xHANG");
    await attacker.run(`mkdir -m 755 ${mount}`);
    const fs = attacker.spawn("/usr/bin/python3", [script, mount]);
    let fsOutput = "";
    fs.stderr?.on("data", (chunk: Buffer) => (fsOutput += chunk.toString()));
    // Unmounted even on failure: lazily (nothing waits for the stuck requests), and the
    // connection aborted, which answers every stuck request with an error.
    cleanup.add(async () => {
      const line = await mountedAt(mount);
      const device = line?.split(" ")[2]?.split(":")[1];
      if (device) await writeFile(`/sys/fs/fuse/connections/${device}/abort`, "1").catch(() => undefined);
      await run("umount", ["-l", mount]);
      fs.kill("SIGKILL");
    });
    await waitFor("the attacker's FUSE mount", async () => (await mountedAt(mount)) ?? (fs.exitCode !== null ? Promise.reject(new Error(fsOutput)) : undefined), 10_000);
  });

  after(async () => {
    await cleanup.run();
  });

  it("a full scan (rescan) does not stop ssh-add through the stable socket: answered within 1 s, again and again", async () => {
    // What SIGHUP does: the control command "rescan" answers once the full scan is done.
    const started = performance.now();
    await askDaemon(`${socket}.ctl`, "rescan", 10_000);
    assert.ok(performance.now() - started < 5000, "the full scan finished without waiting on the mount");
    for (let i = 0; i < 10; i++) {
      const started = performance.now();
      const listed = await sshAdd(socket, ["-l"], 5000);
      const ms = performance.now() - started;
      assert.ok(listed.stdout.includes("first-login"), `#${i + 1}: ${listed.stdout}${listed.stderr}\n${dumps.join("")}`);
      assert.ok(ms < 1000, `#${i + 1}: ssh-add -l took ${ms.toFixed(0)} ms while the mount hangs`);
    }
  });

  it("a fresh login's own first command finds its agent while the mount hangs", async () => {
    for (let i = 2; i <= 4; i++) {
      const login = await startAgent(cleanup, join(tmpRoot, `ssh-login${i}`, `agent.${9_000_000 + i}`));
      await addKey(login.path, await makeKey(keys, `login-${i}`));
      const started = performance.now();
      const listed = await sshAdd(socket, ["-l"], 5000);
      const ms = performance.now() - started;
      assert.ok(listed.stdout.includes(`login-${i}`), `login ${i}: ${listed.stdout}${listed.stderr}\n${dumps.join("")}`);
      assert.ok(ms < 1000, `login ${i}: its first command took ${ms.toFixed(0)} ms`);
    }
  });

  it("a daemon told to look in the mount (--agent-dir, directly and through a link of the user's) starts and answers within 1 s", async () => {
    // The user's mistake (a name another user made), but never a frozen daemon: its roots are
    // judged and asked through the bounded gate, never by a synchronous call (red team).
    const link = join(home, "agents-link");
    await run("ln", ["-s", mount, link]);
    const second = join(base, "anchor2", "agent.sock");
    const daemon = spawnTracked(cleanup, BIN, ["run", "--socket", second, "--tmp-dir", tmpRoot, "--agent-dir", mount, "--agent-dir", link, "--verbose"], env);
    daemon.stderr?.on("data", (chunk: Buffer) => dumps.push(chunk.toString()));
    await waitFor("the second daemon's socket", () => socketAcceptsConnections(second, 500), 10_000);
    for (let i = 0; i < 3; i++) {
      const started = performance.now();
      const listed = await sshAdd(second, ["-l"], 5000);
      const ms = performance.now() - started;
      // The user's newest login (the tests before this one may have made more).
      assert.match(listed.stdout, /first-login|login-\d/, `#${i + 1}: ${listed.stdout}${listed.stderr}\n${dumps.join("")}`);
      assert.ok(ms < 1000, `#${i + 1}: ssh-add -l took ${ms.toFixed(0)} ms with the mount as an --agent-dir`);
    }
    const log = dumps.join("");
    assert.ok(log.includes(`not looking in ${mount}: ${mount} is another user's mounted file system`), log);
    assert.ok(log.includes(`not looking in ${link}: ${mount} is another user's mounted file system`), log);
  });

  it("doctor finishes within its bound and names the agents, the mount left alone", async () => {
    const started = performance.now();
    const doctor = await run(BIN, ["doctor", "--socket", socket, "--tmp-dir", tmpRoot], { env, timeoutMs: 30_000 });
    const ms = performance.now() - started;
    assert.equal(doctor.signal ?? null, null, `doctor was killed after ${ms.toFixed(0)} ms:\n${doctor.stdout}${doctor.stderr}`);
    assert.ok(ms < 20_000, `doctor took ${ms.toFixed(0)} ms`);
    assert.match(doctor.stdout, /login-4/, doctor.stdout);
  });

  it("the bounded gate itself, pointed at the mount: gives up within its time, does not ask again, leaves the pool serving", async () => {
    const probe = join(base, "gate-probe.mts");
    await writeFile(probe, GATE_PROBE);
    // This process's lstat stays stuck in the kernel until the mount is aborted (cleanup).
    const child = spawnTracked(cleanup, process.execPath, ["--import", "tsx", probe, mount]);
    let output = "";
    child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
    await waitFor("the probe's answer", () => output.includes("\n"), 20_000);
    const result = JSON.parse(output) as { first: boolean; firstMs: number; second: boolean; secondMs: number; otherMs: number; hanging: string[] };
    assert.ok(result.first, `the hanging path is reported unanswered: ${output}`);
    assert.ok(result.firstMs >= 900 && result.firstMs < 3000, `given up after its time: ${output}`);
    assert.ok(result.second && result.secondMs < 100, `not asked again while hanging: ${output}`);
    assert.ok(result.otherMs < 1000, `other file-system calls still served: ${output}`);
    assert.deepEqual(result.hanging, [mount]);
  });
});
