import { join } from "node:path";
import type { StatusReport } from "../../src/shared/control/status.js";
import { socketAcceptsConnections } from "../../src/shared/core/dial.js";
import { BIN, Cleanup, run, spawnTracked, tempDir, waitFor } from "./process.js";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, realpathSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";

export interface TestDaemon {
  readonly socket: string;
  readonly home: string;
  readonly tmpRoot: string;
  readonly process: ChildProcess;
  /** Everything the daemon logged to stderr so far. */
  log(): string;
  status(): Promise<StatusReport>;
}

/**
 * The real daemon (`ssh-anchor run`) in a sandbox of its own: a private socket directory, a
 * fake $HOME and its own stand-in for /tmp, so that agents of other tests are never seen.
 */
export async function startDaemon(cleanup: Cleanup, extraArgs: readonly string[] = []): Promise<TestDaemon> {
  const base = await tempDir();
  cleanup.add(() => run("rm", ["-rf", base]));
  const home = join(base, "home");
  const tmpRoot = join(base, "tmp");
  await run("mkdir", ["-p", "-m", "700", home, tmpRoot]);
  const socket = join(base, "anchor", "agent.sock");
  const env = { ...process.env, HOME: home };
  const child = spawnTracked(cleanup, BIN, ["run", "--socket", socket, "--tmp-dir", tmpRoot, "--verbose", ...extraArgs], env);
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  await waitFor("the daemon's socket", () => socketAcceptsConnections(socket, 500), 10_000);
  return {
    socket,
    home,
    tmpRoot,
    process: child,
    log: () => stderr,
    status: async () => {
      const result = await run(BIN, ["status", "--json", "--socket", socket], { env });
      return JSON.parse(result.stdout) as StatusReport;
    },
  };
}

/**
 * A path where sshd (OpenSSH <= 10.0) would put a forwarded agent inside `tmpRoot`: named after a
 * living process named sshd, as a login's is (a socket named after no process is a local agent's
 * or a dead login's: src/shared/discovery/layouts.ts).
 */
export function forwardedSocketPath(tmpRoot: string, name: string): string {
  return join(tmpRoot, `ssh-${name}`, `agent.${fakeSshdPid()}`);
}

/**
 * A session directory in `root` named as sshd names a login's (`ssh-` and ten characters) or as
 * ssh-agent names its own (twelve), unique to this test process: the name is what tells a
 * login's socket from a local agent's (src/shared/discovery/layouts.ts). `tag`: at most three
 * characters, [A-Za-z0-9].
 */
export function sessionDirectory(root: string, made: "by sshd" | "by ssh-agent", tag: string): string {
  return join(root, `ssh-${tag}${String(process.pid).padStart((made === "by sshd" ? 10 : 12) - tag.length, "0")}`);
}

let fakeSshd: number | undefined;

/** The pid of a process named sshd (sleep, run through a link named so) that lives as long as
 * the test's own process. */
export function fakeSshdPid(): number {
  if (fakeSshd !== undefined) return fakeSshd;
  const directory = mkdtempSync(join(tmpdir(), "anchor-fake-sshd-"));
  symlinkSync(realpathSync(execFileSync("sh", ["-c", "command -v sleep"], { encoding: "utf8" }).trim()), join(directory, "sshd"));
  const child = spawn(join(directory, "sshd"), ["infinity"], { stdio: "ignore" });
  child.unref();
  process.on("exit", () => {
    child.kill("SIGKILL");
    rmSync(directory, { recursive: true, force: true });
  });
  if (child.pid === undefined) throw new Error("could not start the stand-in sshd process");
  fakeSshd = child.pid;
  return fakeSshd;
}
