import type { Server } from "node:net";
import { lstatOrUndefined } from "../../shared/core/trust.js";

/** Which file a socket path held when the daemon bound it: a file put at the path since differs. */
export interface BoundFile {
  readonly dev: number;
  readonly ino: number;
}

/**
 * Which file is at `path` now (device and inode), or undefined when there is none.
 *
 * @example
 * const bound = await boundFileAt("/tmp/ssh-anchor-1000/agent.sock"); // right after listen()
 * sameFile(await boundFileAt("/tmp/ssh-anchor-1000/agent.sock"), bound) // -> false once replaced
 */
export async function boundFileAt(path: string): Promise<BoundFile | undefined> {
  const stats = await lstatOrUndefined(path);
  return stats && { dev: stats.dev, ino: stats.ino };
}

/** Whether both are known and the same file. */
export function sameFile(a: BoundFile | undefined, b: BoundFile | undefined): boolean {
  return a !== undefined && b !== undefined && a.dev === b.dev && a.ino === b.ino;
}

/**
 * Stops listening on the servers bound at `path`. Closing a listening Unix socket unlinks its
 * path, so when the path now holds someone else's file the servers are abandoned instead (they
 * no longer keep the process alive): closing them would remove that file.
 *
 * @example
 * await letGo([agentServer, controlServer], paths.socket, bound);
 */
export async function letGo(servers: readonly Server[], path: string, bound: BoundFile | undefined): Promise<void> {
  const now = await boundFileAt(path);
  const ours = now === undefined || sameFile(now, bound);
  for (const server of servers) {
    if (ours) server.close();
    else server.unref();
  }
}

/**
 * After a server was bound at `path`: the file it made (boundFileAt), or "stopped" when the
 * daemon stopped during the bind. stop() did not know this server then, so it is let go here.
 *
 * @example
 * const bound = await keptUnlessStopped(server, path, () => this.#stopped);
 * if (bound === "stopped") return undefined;
 */
export async function keptUnlessStopped(server: Server, path: string, stopped: () => boolean): Promise<BoundFile | undefined | "stopped"> {
  const bound = await boundFileAt(path);
  if (!stopped()) return bound;
  await letGo([server], path, bound);
  return "stopped";
}
