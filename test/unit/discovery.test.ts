import assert from "node:assert/strict";
import { chmod, chown, mkdir, symlink, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { AgentDiscovery } from "../../src/shared/discovery/discovery.js";
import { hostHash } from "../../src/shared/discovery/host-hash.js";
import { scanDirectory } from "../../src/shared/discovery/scan.js";
import { foreignFs, UNANSWERED } from "../../src/shared/core/foreign-fs.js";
import { TIMING } from "../../src/shared/core/timing.js";
import { fakeSshdPid } from "../helpers/daemon.js";
import { Cleanup, run, tempDir, waitFor } from "../helpers/process.js";

const uid = process.getuid?.() ?? 0;
const NOBODY = 65534;
const isRoot = uid === 0;

/** A real listening Unix socket (discovery checks file types, so no stand-in will do). */
async function socketAt(cleanup: Cleanup, path: string): Promise<Server> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(path, resolve));
  cleanup.add(() => server.close());
  return server;
}

/** The bounded gate, or one that answers nothing (another user's file system holding its calls). */
function switchableGate(): { answering: boolean; lstat: typeof foreignFs.lstat; readdir: typeof foreignFs.readdir } {
  const gate = {
    answering: true,
    lstat: (path: string) => (gate.answering ? foreignFs.lstat(path) : Promise.resolve(UNANSWERED)),
    readdir: (path: string) => (gate.answering ? foreignFs.readdir(path) : Promise.resolve(UNANSWERED)),
  };
  return gate;
}

describe("discovery", () => {
  const cleanup = new Cleanup();
  let base: string;
  let tmpRoot: string;
  let home: string;
  before(async () => {
    base = await tempDir();
    cleanup.add(() => run("rm", ["-rf", base]));
    tmpRoot = join(base, "tmp");
    home = join(base, "home");
    await mkdir(join(home, ".ssh", "agent"), { recursive: true, mode: 0o700 });
    await mkdir(tmpRoot, { mode: 0o700 });
  });
  after(() => cleanup.run());

  const context = () => ({ uid, hostHash });

  it("takes agent.<pid> sockets in a private ssh-* directory and refuses look-alikes with reasons", async () => {
    const dir = join(tmpRoot, "ssh-Good1");
    await mkdir(dir, { mode: 0o700 });
    await socketAt(cleanup, join(dir, "agent.9000001"));
    await socketAt(cleanup, join(dir, "agent.9000002"));
    await symlink(join(dir, "agent.9000001"), join(dir, "agent.9000003"));
    await writeFile(join(dir, "agent.9000004"), "not a socket");
    await run("mkfifo", [join(dir, "agent.9000005")]);
    await socketAt(cleanup, join(dir, "unrelated.sock"));
    const scan = await scanDirectory(dir, "tmp-session", context());
    assert.deepEqual(scan.candidates.map((c) => c.path).sort(), [join(dir, "agent.9000001"), join(dir, "agent.9000002")]);
    const reasons = Object.fromEntries(scan.ignored.map((entry) => [entry.path.slice(dir.length + 1), entry.reason]));
    assert.deepEqual(reasons, {
      "agent.9000003": "is a symlink (never followed)",
      "agent.9000004": "is not a socket",
      "agent.9000005": "is a FIFO, not a socket",
    });
    assert.equal(scan.candidates[0]?.kind, "local", "named after no process: a dead login's or an ssh-agent started with eval");
  });

  it("tells a login's socket from a local agent's in the /tmp layout: by the directory's name, else by the pid in the socket's", async () => {
    const sockets: Record<string, string> = {};
    const at = async (directory: string, name: string, kind: string) => {
      await mkdir(join(tmpRoot, directory), { mode: 0o700 }).catch(() => undefined);
      const path = join(tmpRoot, directory, name);
      await socketAt(cleanup, path);
      sockets[path] = kind;
    };
    // sshd's mkdtemp("/tmp/ssh-XXXXXXXXXX"): a login's, whatever the pid (another pid
    // namespace, hidepid, a daemon run as root, sshd without privilege separation).
    await at("ssh-AbCdEfGh12", "agent.9000010", "forwarded");
    // ssh-agent's ssh-XXXXXXXXXXXX (eval $(ssh-agent), ssh-agent -D): local, whatever the pid.
    await at("ssh-AbCdEfGh1234", `agent.${fakeSshdPid()}`, "local");
    // Any other name goes by the pid: a login's only while it is the user's own sshd.
    await at("ssh-Kinds1", `agent.${fakeSshdPid()}`, "forwarded");
    await at("ssh-Kinds1", `agent.${process.pid}`, "local");
    // eval $(ssh-agent) names its socket after the pid it had before it forked, gone at once.
    await at("ssh-Kinds1", "agent.9000009", "local");
    const kinds: Record<string, string> = {};
    for (const directory of ["ssh-AbCdEfGh12", "ssh-AbCdEfGh1234", "ssh-Kinds1"]) {
      for (const candidate of (await scanDirectory(join(tmpRoot, directory), "tmp-session", context())).candidates) kinds[candidate.path] = candidate.kind;
    }
    assert.deepEqual(kinds, sockets);
  });

  it("takes a socket named after another user's process called sshd for a local agent's, even as root", { skip: isRoot ? false : "needs root to run a process as another user" }, async () => {
    // A link named sshd to sleep, in a directory nobody else may write to but anyone may enter.
    const shared = join(base, "others-sshd");
    await mkdir(shared, { mode: 0o755 });
    await chmod(base, 0o755);
    await symlink((await run("sh", ["-c", "command -v sleep"])).stdout.trim(), join(shared, "sshd"));
    const { spawn } = await import("node:child_process");
    const theirs = spawn(join(shared, "sshd"), ["600"], { uid: NOBODY, gid: NOBODY, stdio: "ignore" });
    cleanup.add(() => theirs.kill("SIGKILL"));
    await waitFor("the other user's sshd", async () => (await run("cat", [`/proc/${theirs.pid}/comm`])).stdout.trim() === "sshd", 5000);
    const directory = join(tmpRoot, "ssh-Theirs2");
    await mkdir(directory, { mode: 0o700 });
    await socketAt(cleanup, join(directory, `agent.${theirs.pid}`));
    const scan = await scanDirectory(directory, "tmp-session", context());
    assert.equal(scan.candidates[0]?.kind, "local", "root may signal it, but /proc says it is not the user's");
  });

  it("refuses a session directory that others can write to", async () => {
    const dir = join(tmpRoot, "ssh-Open1");
    await mkdir(dir);
    await chmod(dir, 0o777);
    await socketAt(cleanup, join(dir, "agent.9000010"));
    const scan = await scanDirectory(dir, "tmp-session", context());
    assert.equal(scan.candidates.length, 0);
    assert.match(scan.ignored[0]?.reason ?? "", /writable by group or others/);
  });

  it("refuses a directory another user could swap: in a root writable by others without the sticky bit, until it is made sticky", async () => {
    // Another user could rename the login's directory away, put one of theirs in its place for
    // the daemon's connect, and rename it back before the re-check after the connect.
    const openRoot = join(base, "open-root");
    await mkdir(openRoot);
    await chmod(openRoot, 0o777);
    const dir = join(openRoot, "ssh-Swap1");
    await mkdir(dir, { mode: 0o700 });
    await socketAt(cleanup, join(dir, "agent.9000011"));
    const named = join(openRoot, "named");
    await mkdir(named, { mode: 0o700 });
    await socketAt(cleanup, join(named, "agent.sock"));
    for (const [directory, layout] of [[dir, "tmp-session"], [named, "extra"]] as const) {
      const scan = await scanDirectory(directory, layout, context());
      assert.deepEqual(scan.candidates, [], layout);
      assert.match(scan.ignored[0]?.reason ?? "", /could be swapped by another user: .*open-root is writable by group or others \(mode 0777\)/, layout);
    }
    await chmod(openRoot, 0o1777);
    assert.equal((await scanDirectory(dir, "tmp-session", context())).candidates.length, 1, "a sticky root, as /tmp is");
    assert.equal((await scanDirectory(named, "extra", context())).candidates.length, 1);
    // Asked again at every scan, never remembered: a directory of the user's in /tmp, once
    // removed, is anyone's to make again (red team), and its mode can change.
    await chmod(openRoot, 0o777);
    assert.equal((await scanDirectory(dir, "tmp-session", context())).candidates.length, 0, "open again: refused again");
  });

  it("gives a candidate the user's own directories above it, for the re-check after each connect (none under a root's directory)", async () => {
    // As root, another uid's directories (root's own are never collected: only root could change them).
    const owner = isRoot ? NOBODY : uid;
    const above = join(base, "own-above");
    const dir = join(above, "ssh-Anc1");
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await chmod(above, 0o755);
    const socket = join(dir, "agent.9000012");
    await socketAt(cleanup, socket);
    if (isRoot) for (const path of [above, dir, socket]) await chown(path, NOBODY, NOBODY);
    const scan = await scanDirectory(dir, "tmp-session", { ...context(), uid: owner });
    assert.equal(scan.candidates.length, 1, JSON.stringify(scan.ignored));
    assert.deepEqual(scan.candidates[0]?.ownAncestors?.slice(-1), [above]);
  });

  it("refuses the daemon's own socket, by path and through a hard link", async () => {
    const dir = join(tmpRoot, "ssh-Own1");
    await mkdir(dir, { mode: 0o700 });
    await socketAt(cleanup, join(dir, "agent.9000020"));
    const { lstat, link } = await import("node:fs/promises");
    const own = await lstat(join(dir, "agent.9000020"));
    await link(join(dir, "agent.9000020"), join(dir, "agent.9000021"));
    const scan = await scanDirectory(dir, "tmp-session", { ...context(), ownSocket: { path: join(dir, "agent.9000020"), dev: own.dev, ino: own.ino } });
    assert.equal(scan.candidates.length, 0);
    assert.deepEqual(scan.ignored.map((e) => e.reason), ["is ssh-anchor's own socket", "is ssh-anchor's own socket"]);
  });

  it("reads ~/.ssh/agent: this host's sshd and agent sockets, never another host's", async () => {
    const dir = join(home, ".ssh", "agent");
    const tag = hostHash();
    const otherTag = tag === "aaaaaaaaaa" ? "bbbbbbbbbb" : "aaaaaaaaaa";
    await socketAt(cleanup, join(dir, `s.${tag}.sshd.AbCdEfGhIj`));
    await socketAt(cleanup, join(dir, `s.${tag}.agent.KlMnOpQrSt`));
    await socketAt(cleanup, join(dir, `s.${otherTag}.sshd.UvWxYzAbCd`));
    const scan = await scanDirectory(dir, "home-agent", context());
    assert.deepEqual(
      scan.candidates.map((c) => [c.path.slice(dir.length + 1), c.kind]).sort(),
      [
        [`s.${tag}.agent.KlMnOpQrSt`, "local"],
        [`s.${tag}.sshd.AbCdEfGhIj`, "forwarded"],
      ],
    );
    assert.deepEqual(scan.ignored.map((e) => e.reason), ["belongs to another host (shared home directory)"]);
  });

  it("ignores other users' sockets and other users' session directories", { skip: isRoot ? false : "needs root to chown" }, async () => {
    const theirs = join(tmpRoot, "ssh-Theirs1");
    await mkdir(theirs, { mode: 0o700 });
    await socketAt(cleanup, join(theirs, "agent.9000030"));
    await chown(theirs, NOBODY, NOBODY);
    const mine = join(tmpRoot, "ssh-Mine2");
    await mkdir(mine, { mode: 0o700 });
    await socketAt(cleanup, join(mine, "agent.9000031"));
    await chown(join(mine, "agent.9000031"), NOBODY, NOBODY);
    assert.deepEqual(await scanDirectory(theirs, "tmp-session", context()), { candidates: [], ignored: [], trusted: false });
    const scan = await scanDirectory(mine, "tmp-session", context());
    assert.equal(scan.candidates.length, 0);
    assert.match(scan.ignored[0]?.reason ?? "", new RegExp(`owned by uid ${NOBODY}`));
  });

  // Issue 18: the root is no longer watched (another user's churn there woke every daemon at
  // each change); a connection asks mayHaveUnseenLogin() and looks again. A login ending is still
  // noticed without a look: the session directory of ours is watched.
  it("tells a new session directory by the root's mtime, finds it with one look, and notices its removal without one", async () => {
    const root = join(base, "watched");
    const emptyHome = join(base, "empty-home");
    await mkdir(root, { mode: 0o700 });
    await mkdir(emptyHome, { mode: 0o700 });
    let changes = 0;
    const discovery = new AgentDiscovery({ ...context(), home: emptyHome, tmpRoot: root, extraDirs: [], onChange: () => changes++ });
    await discovery.start();
    cleanup.add(() => discovery.stop());
    assert.equal(discovery.candidates().length, 0);
    // Just made and listed: a change in the same clock tick could hide, so a listing is trusted
    // only once it began a moment after the root's last change (each look lists again till then).
    await waitFor("the root's listing to settle", async () => {
      await discovery.lookAgain(1000);
      return !discovery.mayHaveUnseenLogin();
    }, 3000);
    const dir = join(root, "ssh-New1");
    await mkdir(dir, { mode: 0o700 });
    await socketAt(cleanup, join(dir, "agent.9000040"));
    assert.ok(discovery.mayHaveUnseenLogin(), "a new entry in the root must count as a change");
    await discovery.lookAgain(3000);
    assert.ok(discovery.candidates().some((c) => c.path === join(dir, "agent.9000040")), "one look finds the new login");
    await run("rm", ["-rf", dir]);
    await waitFor("the removed socket to be forgotten", () => discovery.candidates().length === 0, 3000);
    assert.ok(changes >= 2);
  });

  it("watches a named directory that is the user's alone, and looks at one others can write to only when asked, as at the tmp root", async () => {
    const root = join(base, "named-root");
    const emptyHome = join(base, "named-home");
    const own = join(base, "named-own");
    const shared = join(base, "named-shared");
    for (const directory of [root, emptyHome, own, shared]) await mkdir(directory, { mode: 0o700 });
    await chmod(shared, 0o1777);
    // Named through a symlink of the user's: its own mtime never moves, the directory's does.
    const sharedLink = join(base, "named-shared-link");
    await symlink(shared, sharedLink);
    const discovery = new AgentDiscovery({ ...context(), home: emptyHome, tmpRoot: root, extraDirs: [own, sharedLink] });
    await discovery.start();
    cleanup.add(() => discovery.stop());
    await waitFor("the roots' listings to settle", async () => {
      await discovery.lookAgain(1000);
      return !discovery.mayHaveUnseenLogin();
    }, 3000);
    const inOwn = join(own, "ssh-Named1");
    await mkdir(inOwn, { mode: 0o700 });
    await socketAt(cleanup, join(inOwn, "agent.9000050"));
    await waitFor("the login in the watched directory to be found with no look", () => discovery.candidates().some((c) => c.path.startsWith(inOwn)), 3000);
    const inShared = join(sharedLink, "ssh-Named2");
    await mkdir(inShared, { mode: 0o700 });
    await socketAt(cleanup, join(inShared, "agent.9000051"));
    // Anyone can churn names there: nothing may wake the daemon but a connection's own question.
    await new Promise((resolve) => setTimeout(resolve, 20 * TIMING.settleMs));
    assert.ok(!discovery.candidates().some((c) => c.path.startsWith(inShared)), "a directory others can write to must not be watched");
    assert.ok(discovery.mayHaveUnseenLogin(), "its mtime tells a connection to look");
    await discovery.lookAgain(3000);
    assert.ok(discovery.candidates().some((c) => c.path === join(inShared, "agent.9000051")), "one look finds the new login");
  });

  it("never reads a named directory anyone could replace or mount over (writable by others, not sticky), and says why", async () => {
    const root = join(base, "ignoring-root");
    const emptyHome = join(base, "ignoring-home");
    const open = join(base, "named-open");
    for (const directory of [root, emptyHome, open]) await mkdir(directory, { mode: 0o700 });
    await chmod(open, 0o777);
    const inOpen = join(open, "ssh-Open1");
    await mkdir(inOpen, { mode: 0o700 });
    await socketAt(cleanup, join(inOpen, "agent.9000052"));
    const said: string[] = [];
    const discovery = new AgentDiscovery({ ...context(), home: emptyHome, tmpRoot: root, extraDirs: [open], log: (line) => said.push(line) });
    await discovery.start();
    cleanup.add(() => discovery.stop());
    await discovery.lookAgain(3000);
    assert.deepEqual(discovery.candidates(), []);
    assert.deepEqual(said, [`not looking in ${open}: ${open} is writable by group or others (mode 0777)`]);
  });

  it("keeps a known login when the gate cannot answer about its directory (another user's file system holds it), and asks again later", async () => {
    const root = join(base, "gated");
    const emptyHome = join(base, "gated-home");
    await mkdir(root, { mode: 0o700 });
    await mkdir(emptyHome, { mode: 0o700 });
    const dir = join(root, "ssh-Known1");
    await mkdir(dir, { mode: 0o700 });
    const socket = join(dir, "agent.9000041");
    await socketAt(cleanup, socket);
    const gate = switchableGate();
    const discovery = new AgentDiscovery({ ...context(), home: emptyHome, tmpRoot: root, extraDirs: [], gate });
    await discovery.start();
    cleanup.add(() => discovery.stop());
    assert.deepEqual(discovery.candidates().map((c) => c.path), [socket]);
    gate.answering = false;
    // Its directory changes (read again after the settle delay), and a full scan: no answer
    // from the gate either time, which is not "empty".
    await writeFile(join(dir, "junk"), "");
    await discovery.rescan();
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.deepEqual(discovery.candidates().map((c) => c.path), [socket], "a login the gate cannot answer about is kept");
    gate.answering = true;
    await run("rm", ["-rf", dir]);
    await waitFor("the removed login to be forgotten once the gate answers", () => discovery.candidates().length === 0, 3000);
  });

  it("lists the root again when a name could not be asked: a login made while the gate was held is found once it answers, the root unchanged", async () => {
    const root = join(base, "held");
    const emptyHome = join(base, "held-home");
    await mkdir(root, { mode: 0o700 });
    await mkdir(emptyHome, { mode: 0o700 });
    const gate = switchableGate();
    const discovery = new AgentDiscovery({ ...context(), home: emptyHome, tmpRoot: root, extraDirs: [], gate });
    await discovery.start();
    cleanup.add(() => discovery.stop());
    gate.answering = false;
    const dir = join(root, "ssh-Held1");
    await mkdir(dir, { mode: 0o700 });
    await socketAt(cleanup, join(dir, "agent.9000042"));
    // Past the racy window, so that an unchanged mtime would let a kept listing stand.
    await new Promise((resolve) => setTimeout(resolve, 2 * TIMING.racyListingMs));
    await discovery.lookAgain(1000, true);
    assert.equal(discovery.candidates().length, 0, "the gate held: nothing could be asked");
    gate.answering = true;
    await discovery.lookAgain(1000, true);
    assert.deepEqual(discovery.candidates().map((c) => c.path), [join(dir, "agent.9000042")], "found with the root unchanged");
  });
});

