import assert from "node:assert/strict";
import type { Stats } from "node:fs";
import { chmod, chown, lchown, lstat, mkdir, readdir, readFile, readlink, symlink, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { hostname } from "node:os";
import { join } from "node:path";
import { after, before, describe, it, type TestContext } from "node:test";
import { daemonPaths, MAX_SOCKET_PATH_BYTES, squatOf, tmpDirectory } from "../../src/shared/core/location.js";
import {
  directoryRefusal,
  endpointState,
  ownProcessFromPidFile,
  processPresence,
  parentsRefusal,
  pathRefusal,
  readOwnFile,
  replaceEntry,
  replaceOwnFile,
  createdMsOf,
  socketRefusal,
  stillTheSocket,
  stillTheSocketNow,
} from "../../src/shared/core/trust.js";
import { UserError } from "../../src/shared/core/errors.js";
import { Cleanup, requireRoot, run, sleep, spawnTracked, tempDir } from "../helpers/process.js";

/** A uid nobody on this machine has: files chowned to it are "someone else's". */
const STRANGER = 4_000_123;
const ME = process.getuid?.() ?? 0;

/** The rest of a test needs root (files of another uid): in CI it must run. */
function rootOrSkip(t: TestContext, what: string): boolean {
  const reason = requireRoot();
  if (reason) t.skip(`${reason} (${what})`);
  return !reason;
}

async function bindSocket(cleanup: Cleanup, path: string): Promise<void> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(path, resolve));
  cleanup.add(() => new Promise((resolve) => server.close(resolve)));
}

describe("the trust module, against real files", () => {
  const cleanup = new Cleanup();
  let base: string;
  before(async () => {
    base = await tempDir("anchor-trust-");
    cleanup.add(() => run("rm", ["-rf", base]));
  });
  after(() => cleanup.run());

  it("takes a real 0700 directory of the user's own, and nothing else", async (t) => {
    const own = join(base, "own");
    await mkdir(own, { mode: 0o700 });
    assert.equal(directoryRefusal(await lstat(own), ME), undefined);

    const link = join(base, "link-to-own");
    await symlink(own, link);
    assert.equal(directoryRefusal(await lstat(link), ME), "is a symlink");

    const open = join(base, "group-writable");
    await mkdir(open);
    await chmod(open, 0o770);
    assert.match(directoryRefusal(await lstat(open), ME) ?? "", /writable by group or others \(mode 0770\)/);

    const file = join(base, "a-file");
    await writeFile(file, "");
    assert.equal(directoryRefusal(await lstat(file), ME), "is not a directory");
    assert.equal(directoryRefusal(undefined, ME), "cannot be read");

    if (!rootOrSkip(t, "chown to another uid")) return;
    const theirs = join(base, "theirs");
    await mkdir(theirs, { mode: 0o700 });
    await chown(theirs, STRANGER, STRANGER);
    assert.equal(directoryRefusal(await lstat(theirs), ME), `is owned by uid ${STRANGER}, not you`);
  });

  it("takes a socket of the user's own, never a symlink, a FIFO, another owner's socket or its own", async (t) => {
    const directory = join(base, "sockets");
    await mkdir(directory, { mode: 0o700 });
    const socket = join(directory, "agent.1");
    await bindSocket(cleanup, socket);
    const stats = await lstat(socket);
    assert.equal(socketRefusal(stats, { uid: ME }, socket), undefined);
    assert.equal(socketRefusal(stats, { uid: ME, ownSocket: { path: "/elsewhere", dev: stats.dev, ino: stats.ino } }, socket), "is ssh-anchor's own socket");
    assert.equal(await endpointState(socket, ME), "ours");
    assert.equal(await endpointState(join(directory, "absent"), ME), "missing");

    const link = join(directory, "agent.2");
    await symlink(socket, link);
    assert.equal(socketRefusal(await lstat(link), { uid: ME }, link), "is a symlink (never followed)");
    assert.match(await endpointState(link, ME), /is a symlink/);

    const fifo = join(directory, "agent.3");
    assert.equal((await run("mkfifo", [fifo])).code, 0);
    assert.equal(socketRefusal(await lstat(fifo), { uid: ME }, fifo), "is a FIFO, not a socket");

    if (!rootOrSkip(t, "chown to another uid")) return;
    const foreign = join(directory, "agent.4");
    await bindSocket(cleanup, foreign);
    await chown(foreign, STRANGER, STRANGER);
    assert.equal(socketRefusal(await lstat(foreign), { uid: ME }, foreign), `is owned by uid ${STRANGER}, not you`);
    // The socket is ours, but its directory is someone else's: they could swap it at any time.
    const planted = join(base, "planted");
    await mkdir(planted, { mode: 0o755 });
    await bindSocket(cleanup, join(planted, "agent.sock"));
    await chown(planted, STRANGER, STRANGER);
    assert.match(await endpointState(join(planted, "agent.sock"), ME), new RegExp(`planted is owned by uid ${STRANGER}, not you$`));
  });

  it("walks the parents: sticky directories such as /tmp pass, others' or open ones do not", async (t) => {
    assert.equal(await parentsRefusal("/tmp/ssh-anchor-x", ME), undefined);
    assert.equal(await parentsRefusal("relative/dir", ME), "relative/dir is not an absolute path");
    const missing = join(base, "not-made-yet", "anchor");
    assert.equal(await parentsRefusal(missing, ME), `${join(base, "not-made-yet")} does not exist`);
    assert.equal(await parentsRefusal(missing, ME, { missingPasses: true }), undefined, "start would make it, as the user's own");
    // A root the user named is judged itself too, and a path to avoid is never asked.
    assert.equal(await pathRefusal("/tmp", ME), undefined);
    assert.equal(await pathRefusal("/tmp", ME, { avoid: new Set(["/tmp"]) }), "/tmp is another user's mounted file system");

    const open = join(base, "open-parent");
    await mkdir(open);
    await chmod(open, 0o777);
    assert.match((await parentsRefusal(join(open, "anchor"), ME)) ?? "", /open-parent is writable by group or others \(mode 0777\)/);

    const sticky = join(base, "sticky-parent");
    await mkdir(sticky);
    await chmod(sticky, 0o1777);
    assert.equal(await parentsRefusal(join(sticky, "anchor"), ME), undefined);

    // A symlinked parent is judged where it leads.
    const viaLink = join(base, "via-link");
    await symlink(open, viaLink);
    assert.match((await parentsRefusal(join(viaLink, "anchor"), ME)) ?? "", /open-parent is writable/);

    if (!rootOrSkip(t, "chown to another uid")) return;
    const theirs = join(base, "their-parent");
    await mkdir(theirs, { mode: 0o755 });
    await chown(theirs, STRANGER, STRANGER);
    assert.match((await parentsRefusal(join(theirs, "anchor"), ME)) ?? "", new RegExp(`their-parent is owned by uid ${STRANGER}`));
    // A symlink of someone else's on the way, even to a directory of ours: they can re-point it.
    const mine = join(base, "mine-behind-their-link");
    await mkdir(mine, { mode: 0o700 });
    const theirLink = join(base, "their-link");
    await symlink(mine, theirLink);
    await lchown(theirLink, STRANGER, STRANGER);
    assert.match((await parentsRefusal(join(theirLink, "anchor", "x"), ME)) ?? "", new RegExp(`their-link is a symlink owned by uid ${STRANGER}`));
    // ... also behind a link of ours that leads through theirs (red team: realpath hid it).
    const ourLink = join(base, "our-link-to-theirs");
    await symlink(theirLink, ourLink);
    assert.match((await parentsRefusal(join(ourLink, "anchor", "x"), ME)) ?? "", new RegExp(`their-link is a symlink owned by uid ${STRANGER}`));
    // A relative link with "..", resolved from where the link is, as the kernel does.
    const relative = join(base, "relative-link");
    await symlink("./nested/../their-parent", relative);
    await mkdir(join(base, "nested"), { mode: 0o700 });
    assert.match((await parentsRefusal(join(relative, "anchor"), ME)) ?? "", new RegExp(`their-parent is owned by uid ${STRANGER}`));
    const relativeOk = join(base, "relative-ok");
    await symlink("nested/../sticky-parent", relativeOk);
    assert.equal(await parentsRefusal(join(relativeOk, "anchor"), ME), undefined);
  });

  it("asks again, after each connect, the user's own directories above a socket: opened to others, the socket is no longer trusted", async () => {
    // As root, the socket and its directories are another uid's (the one asking): root's own are
    // never collected (only root could change them).
    const owner = ME === 0 ? STRANGER : ME;
    const own = (path: string) => (ME === 0 ? lchown(path, STRANGER, STRANGER) : Promise.resolve());
    const above = join(base, "n1-above");
    const session = join(above, "agents", "ssh-N1");
    await mkdir(session, { recursive: true, mode: 0o700 });
    await chmod(above, 0o755);
    for (const path of [above, join(above, "agents"), session]) await own(path);
    const socket = join(session, "agent.1");
    await bindSocket(cleanup, socket);
    await own(socket);
    const ownAncestors: string[] = [];
    assert.equal(await parentsRefusal(session, owner, { ownDirectories: ownAncestors }), undefined);
    assert.deepEqual(ownAncestors.slice(-2), [above, join(above, "agents")]);
    const stats = await lstat(socket);
    const identity = { dev: stats.dev, ino: stats.ino, createdMs: createdMsOf(stats), ownAncestors };
    assert.equal(stillTheSocketNow(socket, identity, owner), true);
    assert.equal(await stillTheSocket(socket, identity, owner), true);
    await chmod(above, 0o777);
    assert.equal(stillTheSocketNow(socket, identity, owner), false, "someone else could now rename agents/ away and back");
    assert.equal(await stillTheSocket(socket, identity, owner), false);
    await chmod(above, 0o755);
    assert.equal(stillTheSocketNow(socket, identity, owner), true);
    // Under /tmp none are the user's: nothing more to ask on the common path.
    const none: string[] = [];
    assert.equal(await parentsRefusal("/tmp/ssh-XXXXXXXXXX", owner, { ownDirectories: none }), undefined);
    assert.deepEqual(none, []);
  });

  it("reads a file of the user's own without following a symlink or blocking on a FIFO", async (t) => {
    const directory = join(base, "files");
    await mkdir(directory, { mode: 0o700 });
    const own = join(directory, "agent.sock.pid");
    await writeFile(own, "1234\n");
    assert.equal(await readOwnFile(own, ME), "1234\n");
    const link = join(directory, "link.pid");
    await symlink(own, link);
    assert.equal(await readOwnFile(link, ME), undefined);
    const fifo = join(directory, "fifo.pid");
    assert.equal((await run("mkfifo", [fifo])).code, 0);
    assert.equal(await readOwnFile(fifo, ME), undefined, "a FIFO is not read (and does not hang)");
    if (!rootOrSkip(t, "chown to another uid")) return;
    const theirs = join(directory, "theirs.pid");
    await writeFile(theirs, "1\n");
    await chown(theirs, STRANGER, STRANGER);
    assert.equal(await readOwnFile(theirs, ME), undefined);
  });

  it("replaces a file or a link in one step, with the mode asked, never writing through a symlink", async () => {
    const directory = join(base, "replace");
    await mkdir(directory, { mode: 0o700 });
    const target = join(directory, "elsewhere");
    await writeFile(target, "untouched\n");
    const file = join(directory, "agent.sock.pid");
    await symlink(target, file);
    await replaceOwnFile(file, "42\n");
    assert.equal(await readFile(target, "utf8"), "untouched\n", "the planted symlink is replaced, not written through");
    assert.equal(await readFile(file, "utf8"), "42\n");
    assert.equal((await lstat(file)).mode & 0o777, 0o600);
    await replaceOwnFile(file, "43\n", 0o644);
    assert.equal((await lstat(file)).mode & 0o777, 0o644 & ~process.umask());
    const link = join(directory, "link.sock");
    await replaceEntry(link, (temporary) => symlink(target, temporary));
    assert.equal(await readlink(link), target);
    await assert.rejects(replaceEntry(link, async () => Promise.reject(new Error("make failed"))), /make failed/);
    await assert.rejects(replaceEntry(link, (temporary) => writeFile(temporary, "half").then(() => Promise.reject(new Error("later")))), /later/);
    assert.equal(await readlink(link), target, "a failed replacement leaves the old entry");
    assert.deepEqual((await readdir(directory)).sort(), ["agent.sock.pid", "elsewhere", "link.sock"], "and nothing beside it");
  });

  it("believes a pid file only for a process of the user's own", async (t) => {
    const directory = join(base, "pids");
    await mkdir(directory, { mode: 0o700 });
    const pidFile = join(directory, "agent.sock.pid");
    const mine = spawnTracked(cleanup, "sleep", ["30"]);
    await writeFile(pidFile, `${mine.pid}\n`);
    assert.equal(await ownProcessFromPidFile(pidFile, ME), mine.pid);
    await writeFile(pidFile, "12x\n");
    assert.equal(await ownProcessFromPidFile(pidFile, ME), undefined);
    await writeFile(pidFile, "1\n");
    assert.equal(await ownProcessFromPidFile(pidFile, ME), undefined, "pid 1 is never the daemon");
    if (!rootOrSkip(t, "a process of another user")) return;
    const theirs = spawnTracked(cleanup, "setpriv", ["--reuid=nobody", "--regid=nogroup", "--clear-groups", "sleep", "30"]);
    await new Promise((resolve) => setTimeout(resolve, 200));
    await writeFile(pidFile, `${theirs.pid}\n`);
    assert.equal(await ownProcessFromPidFile(pidFile, ME), undefined, "another user's process is never signalled");
  });

  it("tells a process of the user's own from another's and from none with signal 0", () => {
    assert.equal(processPresence(process.pid), "signalable");
    assert.equal(processPresence(0), undefined, "0 names a process group, not a process");
    assert.equal(processPresence(Number.NaN), undefined);
    assert.equal(processPresence(2 ** 22 + 1), undefined, "above pid_max");
    // init is root's, and root may signal every process.
    assert.equal(processPresence(1), ME === 0 ? "signalable" : "not-signalable");
  });

  it("knows a socket from its replacement at the same path (a login ended, someone re-created it)", async (t) => {
    const directory = join(base, "ssh-Reused");
    await mkdir(directory, { mode: 0o700 });
    const path = join(directory, "agent.9");
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(path, resolve));
    const identity = (stats: Stats) => ({ dev: stats.dev, ino: stats.ino, createdMs: createdMsOf(stats) });
    const first = identity(await lstat(path));
    assert.equal(await stillTheSocket(path, first, ME), true);
    await sleep(5);
    await new Promise((resolve) => server.close(resolve));
    await bindSocket(cleanup, path);
    assert.equal(await stillTheSocket(path, first, ME), false, "a new socket at the old path is not the one checked");
    assert.equal(await stillTheSocket(path, identity(await lstat(path)), ME), true);
    if (!rootOrSkip(t, "chown to another uid")) return;
    await chown(directory, STRANGER, STRANGER);
    assert.equal(await stillTheSocket(path, identity(await lstat(path)), ME), false, "a directory that is someone else's now");
  });
});

describe("where the stable socket lives", () => {
  it("is in ~/.ssh, named after this host, unless the flag or the environment says otherwise", async () => {
    const home = await tempDir("anchor-home-");
    try {
      const paths = daemonPaths(undefined, { uid: ME, env: {}, home, host: "devbox" });
      assert.equal(paths.socket, `${home}/.ssh/anchor-devbox/agent.sock`);
      assert.equal(paths.link, `${home}/.ssh/anchor-devbox/link.sock`);
      assert.equal(paths.inHome, true);
      // A home that is not the user's own (a system user's "/") cannot hold it: /tmp instead.
      assert.equal(daemonPaths(undefined, { uid: ME + 1, env: {}, home, host: "devbox" }).inHome, false);
    } finally {
      await run("rm", ["-rf", home]);
    }
    assert.equal(daemonPaths(undefined, { uid: 1, env: { SSH_ANCHOR_SOCKET: "/run/x/env.sock" } }).socket, "/run/x/env.sock");
    assert.equal(daemonPaths("/run/x/flag.sock", { uid: 1, env: { SSH_ANCHOR_SOCKET: "/run/x/env.sock" } }).socket, "/run/x/flag.sock");
    assert.equal(daemonPaths(undefined, { uid: 1, env: {} }).socket, daemonPaths(undefined, { uid: 1, env: {}, host: hostname() }).socket);
  });

  it("refuses a relative path: it would change with every cd", () => {
    assert.throws(
      () => daemonPaths(undefined, { uid: 1, env: { SSH_ANCHOR_SOCKET: "agent.sock" } }),
      (error: unknown) => error instanceof UserError && error.exitCode === 2 && /must be absolute, not "agent.sock"/.test(error.message),
    );
  });

  it("uses /tmp/ssh-anchor-$UID when the home cannot hold a socket address, unless someone else made it", async (t) => {
    const longHome = `/home/${"h".repeat(MAX_SOCKET_PATH_BYTES)}`;
    const uid = 4_000_000 + (process.pid % 100_000);
    const directory = tmpDirectory(uid);
    assert.equal(daemonPaths(undefined, { uid, env: {}, home: longHome, host: "devbox" }).socket, `${directory}/agent.sock`);
    // XDG_RUNTIME_DIR comes first, when it is a private directory of the user's own.
    const runtime = await tempDir("anchor-runtime-");
    try {
      assert.equal(daemonPaths(undefined, { uid: ME, env: { XDG_RUNTIME_DIR: runtime }, home: longHome, host: "devbox" }).socket, `${runtime}/ssh-anchor/agent.sock`);
      await chmod(runtime, 0o777);
      assert.equal(daemonPaths(undefined, { uid: ME, env: { XDG_RUNTIME_DIR: runtime }, home: longHome, host: "devbox" }).socket, `${tmpDirectory(ME)}/agent.sock`);
    } finally {
      await run("rm", ["-rf", runtime]);
    }
    if (!rootOrSkip(t, "a directory of another uid in /tmp")) return;
    await mkdir(directory, { mode: 0o755 });
    try {
      assert.match(squatOf(directory, uid) ?? "", /is owned by uid 0 \(root\), not you$/);
      assert.throws(
        () => daemonPaths(undefined, { uid, env: {}, home: longHome, host: "devbox" }),
        (error: unknown) => error instanceof UserError && /someone may be trying to intercept your agent.*SSH_ANCHOR_SOCKET/.test(error.message),
      );
    } finally {
      await run("rmdir", [directory]);
    }
  });

  it("refuses a given path Node would silently truncate, saying how to fix it", () => {
    const long = `/tmp/${"d".repeat(MAX_SOCKET_PATH_BYTES)}/agent.sock`;
    assert.throws(() => daemonPaths(long, { uid: 1, env: {} }), (error: unknown) => error instanceof UserError && /too long.*--socket/.test(error.message));
  });
});
