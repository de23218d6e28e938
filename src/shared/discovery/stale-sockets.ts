import { readdir, unlink } from "node:fs/promises";
import { dirname, join } from "node:path";
import { mapBounded } from "../core/bounded.js";
import { socketAcceptsConnections } from "../core/dial.js";
import { directoryRefusal, lstatOrUndefined, processPresence, socketRefusal } from "../core/trust.js";
import { TIMING } from "../core/timing.js";
import { homeAgentDirectory, HOME_AGENT_SOCKET, sessionDirectoryMaker, TMP_AGENT_SOCKET } from "./layouts.js";

/**
 * Dead logins' sockets: when sshd dies without cleaning up (killed, a crash, a home on NFS that
 * outlives a machine's reboot) its agent socket stays, and every connect to it is refused. In
 * /tmp a reboot clears them; in `~/.ssh/agent` (OpenSSH >= 10.1) nothing does, so they pile up.
 */

/**
 * Whether a candidate socket is likely a dead login's, without connecting to it: not in the
 * listening set when there is one; otherwise, in the /tmp layout (OpenSSH <= 10.0 names the
 * socket after its sshd), when no process has that pid (not in ssh-agent's directories). Only a
 * hint (see unix-listeners.ts): a suspect is tried last and a connect still decides.
 */
export function likelyStale(path: string, listening: ReadonlySet<string> | undefined): boolean {
  if (listening !== undefined) return !listening.has(path);
  // ssh-agent names its socket after the pid it had before it forked, gone at once: no hint there.
  if (sessionDirectoryMaker(dirname(path)) === "ssh-agent") return false;
  const pid = TMP_AGENT_SOCKET.exec(path.slice(path.lastIndexOf("/") + 1))?.[1];
  return pid !== undefined && processPresence(Number(pid)) === undefined;
}

/** A socket of the user's own in ~/.ssh/agent, of this host, that refused a connection. */
export interface StaleSocket {
  readonly path: string;
  readonly dev: number;
  readonly ino: number;
}

/** How many of ~/.ssh/agent's sockets are connected to at once when looking for stale ones. */
const CHECKS_IN_FLIGHT = 16;

/**
 * The stale sockets in `~/.ssh/agent`: this host's (the host hash in the name: a home shared
 * over NFS holds other machines' sockets, which may well be alive there) and the user's own
 * (trust.ts's socket and directory rules), that refuse a connection now. A socket that accepts
 * one, or whose connect does not say (a timeout, a shortage of ours), is not stale.
 */
export async function staleHomeSockets(home: string, uid: number, hostHash: string): Promise<StaleSocket[]> {
  const directory = homeAgentDirectory(home);
  // The daemon's own rule for the directory (yours, nobody else can write in it, not a link):
  // in one that fails it, what a socket's name or refusal says is not to be acted on.
  if (directoryRefusal(await lstatOrUndefined(directory), uid)) return [];
  let names: string[];
  try {
    names = await readdir(directory);
  } catch {
    return [];
  }
  const queue = names.filter((name) => HOME_AGENT_SOCKET.exec(name)?.[1] === hostHash);
  const stale: StaleSocket[] = [];
  await mapBounded(queue, CHECKS_IN_FLIGHT, async (name) => {
    const path = join(directory, name);
    const stats = await lstatOrUndefined(path);
    if (!stats || socketRefusal(stats, { uid }, path)) return;
    if (await socketAcceptsConnections(path, TIMING.aliveCheckMs)) return;
    stale.push({ path, dev: stats.dev, ino: stats.ino });
  });
  return stale.sort((a, b) => (a.path < b.path ? -1 : 1));
}

/**
 * Removes one stale socket found by staleHomeSockets, if it is still that socket (same inode)
 * and still refuses connections: a login that bound a new socket meanwhile keeps it. Returns
 * whether it was removed.
 */
export async function removeStaleSocket(socket: StaleSocket, uid: number): Promise<boolean> {
  if (directoryRefusal(await lstatOrUndefined(dirname(socket.path)), uid)) return false;
  const stats = await lstatOrUndefined(socket.path);
  if (!stats || socketRefusal(stats, { uid }, socket.path) || stats.dev !== socket.dev || stats.ino !== socket.ino) return false;
  if (await socketAcceptsConnections(socket.path, TIMING.aliveCheckMs)) return false;
  try {
    await unlink(socket.path);
    return true;
  } catch {
    return false;
  }
}
