import { basename, dirname } from "node:path";
import { HOME_AGENT_SOCKET, kindOfTmpSocket, TMP_AGENT_SOCKET, TMP_SESSION_DIR } from "../../shared/discovery/layouts.js";

/** What an SSH_AUTH_SOCK value points at. */
export type SocketKind =
  | "unset"
  /** ssh-anchor's stable socket (or the link of link mode). */
  | "stable"
  /** A login's own forwarded socket: it dies with that login. */
  | "forwarded"
  /** Something else (a local ssh-agent, gpg-agent, a desktop keyring). */
  | "other";

/** Names a socket the way a person would think of it, by its path alone (see isLoginSocket). */
export function socketKind(path: string | undefined, stablePaths: readonly string[]): SocketKind {
  if (!path) return "unset";
  if (stablePaths.includes(path)) return "stable";
  const name = basename(path);
  if (TMP_AGENT_SOCKET.test(name) && TMP_SESSION_DIR.test(basename(dirname(path)))) return "forwarded";
  const home = HOME_AGENT_SOCKET.exec(name);
  if (home && home[2] === "sshd") return "forwarded";
  return "other";
}

/**
 * Whether a socket socketKind calls "forwarded", and that answers, is a login's. The name says
 * so in ~/.ssh/agent; in /tmp a local agent started with `eval $(ssh-agent)` has the same form
 * of name, and the daemon's rule tells them apart (kindOfTmpSocket).
 */
export async function isLoginSocket(path: string, uid: number): Promise<boolean> {
  const pid = TMP_AGENT_SOCKET.exec(basename(path))?.[1];
  return pid === undefined || (await kindOfTmpSocket(dirname(path), pid, uid)) === "forwarded";
}
