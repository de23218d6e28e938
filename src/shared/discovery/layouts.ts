import { join } from "node:path";
import { processName, processPresence } from "../core/trust.js";
import type { AgentKind } from "./candidate.js";

/** Where OpenSSH <= 10.0's sshd makes each login's session directory (written into sshd, not
 * taken from TMPDIR); `--tmp-dir` changes it only for tests and unusual builds. */
export const SSHD_TMP_ROOT = "/tmp";
/** OpenSSH <= 10.0: sshd's `mkdtemp("/tmp/ssh-XXXXXXXXXX")`, and ssh-agent uses the same form. */
export const TMP_SESSION_DIR = /^ssh-[A-Za-z0-9]+$/;
/** ...holding `agent.<pid>`: the per-login sshd process's pid, or ssh-agent's own pid before it
 * forked (the process that runs `ssh-agent bash`'s command, or that exits at once under
 * `eval $(ssh-agent)`). */
export const TMP_AGENT_SOCKET = /^agent\.(\d+)$/;
/** OpenSSH >= 10.1: `~/.ssh/agent/s.<hosthash>.<sshd|agent>.<random>`. */
export const HOME_AGENT_SOCKET = /^s\.([A-Za-z0-9]{10})\.(sshd|agent)\.[A-Za-z0-9]+$/;

/**
 * Whether a process name (its comm) is sshd's per-login process, the one that makes a login's
 * agent socket: `sshd`, or `sshd-session` since OpenSSH 9.8. The one rule for "is this sshd",
 * for telling forwarded sockets from local agents and for finding which login made a socket.
 */
export function isSshdName(comm: string): boolean {
  return comm === "sshd" || comm.startsWith("sshd-");
}

/** Where OpenSSH >= 10.1 puts agent sockets for `home`. */
export function homeAgentDirectory(home: string): string {
  return join(home, ".ssh", "agent");
}

/**
 * Tells a login's forwarded socket from a local ssh-agent's in the /tmp layout, where both are
 * named `agent.<pid>`. sshd names it after its per-login process, which holds the socket for as
 * long as the login lasts. ssh-agent names it after its own pid before it forks: under
 * `eval $(ssh-agent)` that process exits at once, and the agent serves on under another pid.
 * So a socket whose pid is gone is a local agent's (started with eval) or a dead login's, which
 * refuses connections and is never used: local either way for routing, never ahead of a live
 * login's agent. So is a socket named after another user's process, whatever its name. Without /proc to read the name by (not Linux, hidepid) a living pid counts as
 * sshd's.
 */
export async function kindOfTmpSocket(pid: string): Promise<AgentKind> {
  // No such process (a dead login's socket, by far the most common case among many), or one
  // that is not the user's (sshd's per-login process runs as the user; another user's at that
  // pid, reused or planted, makes no login): no read of /proc for its name.
  if (processPresence(Number(pid)) !== "signalable") return "local";
  const name = await processName(Number(pid));
  if (name === undefined) return processPresence(Number(pid)) === undefined ? "local" : "forwarded";
  return isSshdName(name) ? "forwarded" : "local";
}
