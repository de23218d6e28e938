import { localHostHash } from "../../shared/discovery/host-hash.js";
import { homeAgentDirectory } from "../../shared/discovery/layouts.js";
import { removeStaleSocket, staleHomeSockets } from "../../shared/discovery/stale-sockets.js";
import type { Finding } from "./doctor.js";

/** Paths named in a finding's details, at most: the count says the rest. */
const SHOWN = 5;

/**
 * Dead logins' sockets in ~/.ssh/agent (OpenSSH >= 10.1; nothing clears that directory, unlike
 * /tmp at a reboot): this host's own sockets that refuse connections. With `repairs` (--fix)
 * they are removed, each only if it is still the same socket and still refuses; a socket that
 * accepts a connection, and every other host's socket (a home shared over NFS), is left alone.
 * Nothing is said when there are none.
 */
export async function staleSocketFindings(home: string, uid: number, repairs: string[] | undefined): Promise<Finding[]> {
  const directory = homeAgentDirectory(home);
  const stale = await staleHomeSockets(home, uid, localHostHash());
  if (stale.length === 0) return [];
  const shown = stale.slice(0, SHOWN).map((socket) => socket.path);
  const more = stale.length > SHOWN ? [`... and ${stale.length - SHOWN} more`] : [];
  if (repairs) {
    let removed = 0;
    for (const socket of stale) if (await removeStaleSocket(socket, uid)) removed += 1;
    repairs.push(`removed ${removed} stale socket${removed === 1 ? "" : "s"} of this host from ${directory}`);
    if (removed === stale.length) return [];
  }
  return [
    {
      area: "agents",
      verdict: "warn",
      title: `${stale.length} socket${stale.length === 1 ? "" : "s"} of this host in ${directory} refuse${stale.length === 1 ? "s" : ""} connections: ended logins' (sshd did not remove them)`,
      details: [...shown, ...more, "the daemon skips them, but each new start has to find that out; other hosts' sockets there are left alone"],
      fix: "ssh-anchor doctor --fix   (removes only this host's sockets that refuse connections)",
    },
  ];
}
