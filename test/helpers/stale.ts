import { spawn } from "node:child_process";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { type Cleanup, run, tempDir } from "./process.js";

/** A private base with a home whose `~/.ssh/agent` exists and a stand-in for /tmp, both 0700. */
export async function staleSandboxDirs(cleanup: Cleanup): Promise<{ base: string; home: string; tmpRoot: string; agentDir: string }> {
  const base = await tempDir("anchor-stale-");
  cleanup.add(() => run("rm", ["-rf", base]));
  const home = join(base, "home");
  const tmpRoot = join(base, "tmp");
  const agentDir = join(home, ".ssh", "agent");
  await mkdir(agentDir, { recursive: true, mode: 0o700 });
  await mkdir(tmpRoot, { mode: 0o700 });
  return { base, home, tmpRoot, agentDir };
}

/**
 * Makes a stale socket at each path: bound, then closed without ever listening, as a login's
 * socket is left behind when its sshd dies without cleaning up (kill -9, a crash, a reboot of a
 * home on NFS). The file stays a socket and every connect to it is refused (ECONNREFUSED).
 * Node unlinks a socket when its server closes, so a short Python program binds them.
 * `mtimes` (seconds since the epoch), when given, is set on each path in turn.
 */
export async function makeStaleSockets(paths: readonly string[], mtimes?: readonly number[]): Promise<void> {
  const program = [
    "import os, socket, sys",
    "for line in sys.stdin:",
    "    path, _, mtime = line.rstrip('\\n').partition('\\t')",
    "    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)",
    "    s.bind(path)",
    "    s.close()",
    "    if mtime: os.utime(path, (float(mtime), float(mtime)), follow_symlinks=False)",
  ].join("\n");
  const child = spawn("python3", ["-c", program], { stdio: ["pipe", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin.end(paths.map((path, i) => `${path}\t${mtimes?.[i] ?? ""}\n`).join(""));
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  if (code !== 0) throw new Error(`making stale sockets failed (${code}): ${stderr}`);
}
