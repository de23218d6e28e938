import { basename, join } from "node:path";
import { lstatOrUndefined, processName, processPresence } from "../core/trust.js";
import type { AgentKind } from "./candidate.js";

/** Where OpenSSH <= 10.0's sshd makes each login's session directory (written into sshd, not
 * taken from TMPDIR); `--tmp-dir` changes it only for tests and unusual builds. */
export const SSHD_TMP_ROOT = "/tmp";
/** OpenSSH <= 10.0: sshd's `mkdtemp("/tmp/ssh-XXXXXXXXXX")`, and ssh-agent's like it (with twelve
 * characters: see kindOfTmpSocket). */
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

/** sshd's session directory (OpenSSH <= 10.0's session.c): `mkdtemp("/tmp/ssh-XXXXXXXXXX")`, ten. */
const SSHD_SESSION_DIR = /^ssh-[A-Za-z0-9]{10}$/;
/** ssh-agent's (misc.c's mktemp_proto, `eval $(ssh-agent)`, `ssh-agent -D`): twelve. */
const AGENT_SESSION_DIR = /^ssh-[A-Za-z0-9]{12}$/;

/**
 * Tells a login's forwarded socket from a local ssh-agent's in the /tmp layout, where both are
 * named `<root>/ssh-<random>/agent.<pid>`. The directory's name tells them apart: sshd makes it
 * with ten random characters, ssh-agent with twelve. Nothing another user does changes that name
 * (the directory is the user's own, checked before this, in a sticky root such as /tmp), and it
 * holds where the pid cannot
 * tell: a daemon in another pid namespace than sshd, /proc mounted with hidepid, sshd without
 * privilege separation (its session process is root's), a daemon run as root (which may signal
 * anyone's process), a pid reused since. A directory of any other name (made by hand, or by a
 * tool that mimics the layout) goes by the pid in the socket's name: a login's only while it is
 * a process of the user's own named sshd. `eval $(ssh-agent)` names its socket after the pid
 * ssh-agent had before it forked, gone at once.
 */
export async function kindOfTmpSocket(directory: string, pid: string, uid: number): Promise<AgentKind> {
  const maker = sessionDirectoryMaker(directory);
  if (maker !== undefined) return maker === "sshd" ? "forwarded" : "local";
  return (await isOwnSshd(Number(pid), uid)) ? "forwarded" : "local";
}

/** Who made a /tmp session directory, by its name (see kindOfTmpSocket), or undefined for a name
 * neither makes. */
export function sessionDirectoryMaker(directory: string): "sshd" | "ssh-agent" | undefined {
  const name = basename(directory);
  return SSHD_SESSION_DIR.test(name) ? "sshd" : AGENT_SESSION_DIR.test(name) ? "ssh-agent" : undefined;
}

/** Whether `pid` is a living process of the user's own (the owner of /proc/PID: root may signal
 * anyone's) named sshd (its comm): a login's per-login process. False without /proc. */
export async function isOwnSshd(pid: number, uid: number): Promise<boolean> {
  // No such process (a dead login's socket, by far the most common case among many), or one this
  // process may not signal: no read of /proc.
  if (processPresence(pid) !== "signalable") return false;
  const [proc, name] = await Promise.all([lstatOrUndefined(`/proc/${pid}`), processName(pid)]);
  return proc?.uid === uid && name !== undefined && isSshdName(name);
}
