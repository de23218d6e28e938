import { chmod, chown, lstat, mkdir, readFile, rm, rmdir, writeFile } from "node:fs/promises";
import { Cleanup, run, waitFor } from "./process.js";

/**
 * The accounts the suite makes for itself. By default their names are the suite's own and
 * unique to the test process (`anchor-t-<pid>` the host's user, `anchor-a-<pid>` the attacker;
 * a test may add a suffix: `anchor-t-<pid>-node`), made when a test starts and removed when it
 * ends (processes killed, `userdel -r`). SSH_ANCHOR_TEST_USER / SSH_ANCHOR_TEST_ATTACKER name
 * others (two checkouts side by side); an account that already existed is never removed, only
 * the files the helpers changed in it are put back.
 */
export const SUITE_ACCOUNT = /^anchor-[ta]-(\d+)(?:-[a-z0-9]+)?$/;

/** The default name of the suite's account of `kind` ("t": the host's user, "a": the attacker). */
export function suiteAccountName(kind: "t" | "a"): string {
  return `anchor-${kind}-${process.pid}`;
}

const exists = async (user: string): Promise<boolean> => (await run("id", [user])).code === 0;

/** The user's living processes (zombies are their parents' to reap: they hold nothing). */
async function living(user: string): Promise<string[]> {
  const listed = await run("ps", ["-u", user, "-o", "stat=,pid=,args="]);
  return listed.stdout.split("\n").filter((line) => line.trim() && !line.trim().startsWith("Z"));
}

/** Kills every process of `user` and waits until none is left alive (bounded, explained). */
export async function killProcessesOf(user: string): Promise<void> {
  await run("pkill", ["-KILL", "-u", user]);
  await waitFor(`${user}'s processes to end`, async () => (await living(user)).length === 0, {
    timeoutMs: 5000,
    explain: async () => `--- still alive:\n${(await living(user)).join("\n")}\n`,
  });
}

/**
 * Removes a suite account: its processes, what it left in /tmp, and the account with its home
 * (`userdel -r`). Nothing when there is no such account.
 */
export async function removeAccount(user: string): Promise<void> {
  if (!(await exists(user))) return;
  await killProcessesOf(user).catch(() => run("pkill", ["-KILL", "-u", user]));
  await run("find", ["/tmp", "-maxdepth", "1", "-user", user, "-exec", "rm", "-rf", "{}", "+"]);
  const removed = await run("userdel", ["-r", user]);
  // 12: the home or mail spool was not there to remove (an account made without a home).
  if (removed.code !== 0 && removed.code !== 12 && (await exists(user))) throw new Error(`userdel -r ${user}: ${removed.stderr}`);
}

/** Accounts of the suite left by a test process that no longer runs (killed mid-run): removed. */
export async function sweepStaleAccounts(): Promise<void> {
  const passwd = await readFile("/etc/passwd", "utf8").catch(() => "");
  for (const user of passwd.split("\n").map((line) => line.split(":")[0] ?? "")) {
    const pid = SUITE_ACCOUNT.exec(user)?.[1];
    if (pid === undefined || Number(pid) === process.pid) continue;
    if ((await run("kill", ["-0", pid])).code === 0) continue; // its test still runs
    await removeAccount(user).catch(() => undefined);
  }
}

/**
 * Makes sure `user` exists (with a home when `home`) and arranges its removal on cleanup when
 * this call made it. Returns whether it did.
 */
export async function ensureAccount(cleanup: Cleanup, user: string, options: { home: boolean; shell: string }): Promise<boolean> {
  await sweepStaleAccounts();
  if (await exists(user)) return false;
  const made = await run("useradd", [options.home ? "-m" : "-M", "-s", options.shell, user]);
  if (made.code !== 0) throw new Error(`useradd ${user}: ${made.stderr}`);
  cleanup.add(() => removeAccount(user));
  return true;
}

/**
 * Puts back, on cleanup, each path as it is now: a file's bytes, mode and owner, or its
 * absence (a directory that was not there is removed; one that was is left as it is).
 */
export async function restoreOnCleanup(cleanup: Cleanup, paths: readonly string[]): Promise<void> {
  for (const path of paths) {
    const info = await lstat(path).catch(() => undefined);
    if (info === undefined) {
      cleanup.add(() => rm(path, { recursive: true, force: true }));
    } else if (info.isFile()) {
      const bytes = await readFile(path);
      cleanup.add(async () => {
        await rm(path, { recursive: true, force: true });
        await writeFile(path, bytes, { mode: info.mode & 0o7777 });
        await chmod(path, info.mode & 0o7777);
        await chown(path, info.uid, info.gid);
      });
    }
  }
}

/**
 * Makes a system directory the tests need (sshd's /run/sshd) and, when it was not there,
 * removes it on cleanup if it is empty and no sshd is left that could need it.
 */
export async function systemDirectory(cleanup: Cleanup, path: string): Promise<void> {
  if (await lstat(path).catch(() => undefined)) return;
  await mkdir(path, { recursive: true, mode: 0o755 });
  cleanup.add(async () => {
    if ((await run("pgrep", ["-x", "sshd"])).code === 0) return;
    await rmdir(path).catch(() => undefined);
  });
}
