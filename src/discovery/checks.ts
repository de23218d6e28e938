import type { Stats } from "node:fs";
import { lstat } from "node:fs/promises";

/** Who is asking, and what must never be taken for an agent. */
export interface TrustContext {
  readonly uid: number;
  /** The daemon's own socket, by path and by inode (a hard link has another path): using it as
   * an upstream would loop. */
  readonly ownSocket?: { readonly path: string; readonly dev: number; readonly ino: number };
}

/** lstat that reports a missing or unreadable entry as undefined instead of throwing. */
export async function lstatOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    return await lstat(path);
  } catch {
    return undefined;
  }
}

/**
 * Why a directory may not hold agents of `uid`, or undefined if it may: it must be a real
 * directory (not a symlink), owned by the user, and writable by nobody else. Otherwise someone
 * else could plant or swap a socket in it.
 */
export function directoryRefusal(stats: Stats | undefined, uid: number): string | undefined {
  if (!stats) return "cannot be read";
  if (stats.isSymbolicLink()) return "is a symlink";
  if (!stats.isDirectory()) return "is not a directory";
  if (stats.uid !== uid) return `is owned by uid ${stats.uid}, not ${uid}`;
  if ((stats.mode & 0o022) !== 0) return `is writable by group or others (mode ${octal(stats.mode)})`;
  return undefined;
}

/** Why an entry is not an agent socket of `uid`, or undefined if it may be one. */
export function socketRefusal(stats: Stats | undefined, context: TrustContext, path: string): string | undefined {
  if (!stats) return "cannot be read";
  if (stats.isSymbolicLink()) return "is a symlink (never followed)";
  if (!stats.isSocket()) return stats.isFIFO() ? "is a FIFO, not a socket" : "is not a socket";
  if (stats.uid !== context.uid) return `is owned by uid ${stats.uid}, not ${context.uid}`;
  const own = context.ownSocket;
  if (own && (path === own.path || (stats.dev === own.dev && stats.ino === own.ino))) {
    return "is ssh-anchor's own socket";
  }
  return undefined;
}

export function octal(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, "0");
}
