import assert from "node:assert/strict";
import { readdir, readFile, readlink, rename, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { socketAcceptsConnections } from "../../src/shared/core/dial.js";
import { DirectoryGuard } from "../../src/features/daemon/directory-guard.js";
import { BIN, Cleanup, run, tempDir, waitFor } from "../helpers/process.js";

/** The inodes a process's inotify descriptors watch (from /proc/PID/fdinfo). */
async function watchedInodes(pid: number | "self"): Promise<number[]> {
  const inodes: number[] = [];
  for (const fd of await readdir(`/proc/${pid}/fd`)) {
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => "");
    if (target !== "anon_inode:inotify") continue;
    const info = await readFile(`/proc/${pid}/fdinfo/${fd}`, "utf8").catch(() => "");
    for (const match of info.matchAll(/^inotify wd:\d+ ino:([0-9a-f]+) /gm)) inodes.push(Number.parseInt(match[1] as string, 16));
  }
  return inodes;
}

describe("the daemon's directory guard", () => {
  const cleanup = new Cleanup();
  after(() => cleanup.run());

  it("takes the directory's name back at once when the directory is renamed away, watching nothing above it", async () => {
    // Directly in /tmp, as /tmp/ssh-anchor-$UID is.
    const directory = await tempDir("anchor-guard-");
    cleanup.add(() => run("rm", ["-rf", directory, `${directory}.away`]));
    const before = new Set(await watchedInodes("self"));
    let lost = 0;
    const guard = new DirectoryGuard({ directory, uid: process.getuid?.() ?? 0, files: [join(directory, "agent.sock")], onLoss: () => (lost += 1) });
    guard.start();
    cleanup.add(() => guard.stop());
    const added = (await watchedInodes("self")).filter((inode) => !before.has(inode));
    assert.deepEqual(added, [(await stat(directory)).ino], "one watch, on the directory itself (never /tmp: every user's writes there would wake the daemon)");
    // Files of other names come and go: nothing to take back.
    await writeFile(join(directory, "other"), "x");
    await rename(join(directory, "other"), join(directory, "other2"));
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(lost, 0, "no loss for files the guard does not keep");
    await rename(directory, `${directory}.away`);
    // No periodic check here: only the watch's word on the directory itself can tell.
    await waitFor("the guard to re-create the directory", async () => lost > 0, 5000, 20);
    const remade = await stat(directory);
    assert.ok(remade.isDirectory());
    assert.equal(remade.mode & 0o777, 0o700);
  });

  it("a daemon whose directory is in /tmp does not watch /tmp, and still takes its socket back when the directory is renamed away", async () => {
    const base = await tempDir();
    const directory = await tempDir("anchor-guard-");
    cleanup.add(() => run("rm", ["-rf", base, directory, `${directory}.away`]));
    await run("mkdir", ["-m", "700", join(base, "home"), join(base, "tmp")]);
    const env = { ...process.env, HOME: join(base, "home"), SSH_ANCHOR_SOCKET: "" };
    const socket = join(directory, "agent.sock");
    cleanup.add(() => run(BIN, ["stop", "--socket", socket], { env }));
    const started = await run(BIN, ["start", "--socket", socket, "--tmp-dir", join(base, "tmp")], { env });
    assert.equal(started.code, 0, started.stderr);
    const pid = Number((await readFile(`${socket}.pid`, "utf8")).trim());
    const watched = await watchedInodes(pid);
    assert.ok(watched.includes((await stat(directory)).ino), `the daemon watches its directory: ${watched.join(" ")}`);
    assert.ok(!watched.includes((await stat("/tmp")).ino), `the daemon watches /tmp: ${watched.join(" ")}`);
    await rename(directory, `${directory}.away`);
    await waitFor("the socket to be back at its path", () => socketAcceptsConnections(socket, 500), 10_000, 50);
    assert.equal(Number((await readFile(`${socket}.pid`, "utf8")).trim()), pid, "the same daemon");
    assert.equal((await stat(directory)).mode & 0o777, 0o700);
  });
});
