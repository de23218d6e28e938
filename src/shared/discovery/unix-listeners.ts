import { open } from "node:fs/promises";

/**
 * The Unix sockets that listen right now at a path, from Linux's /proc/net/unix (this network
 * namespace): inode -> path. The one reader of that file, for the stale-socket hint, the
 * forwards' sweep and which login holds a socket.
 *
 * Every user's sockets are in it, so another user decides its size: 20,000 sockets with long
 * abstract names in each of a few processes make it megabytes, and the kernel writes it out
 * afresh at every read. So it is read up to a bound, and a listing past the bound is no listing
 * at all (undefined): callers then do without the hint. Another user can also forge lines in it
 * (an abstract name may hold a newline): a forged copy of a real socket's line is told by its
 * inode (see parseListeners); a line for a path nobody listens on is not, so what it says of a
 * path is a hint that orders or skips work, never a verdict: a connect still decides whether a
 * socket is alive. Another user can also make it slow to read (thousands of sockets whose names
 * the kernel files in one hash bucket: each 4 KiB read walks the bucket again), so the daemon
 * reads it only off the event loop (readListeners).
 */

/** /proc/net/unix is read up to this many bytes (about 20,000 sockets; a host has hundreds to
 * a few thousand). */
export const PROC_NET_UNIX_MAX_BYTES = 2 * 1024 * 1024;
/** The first read's buffer (about 600 sockets), doubled while the listing fills it: the bound
 * set aside at every read, a few times a second, was measured at 1.4 MB of an idle daemon's
 * resident memory. */
const FIRST_READ_BYTES = 64 * 1024;
const PROC_NET_UNIX = "/proc/net/unix";
/** __SO_ACCEPTCON in the Flags column: the socket listens. */
const ACCEPTS_CONNECTIONS = 0x10000;

/**
 * The listening path-bound sockets of a listing (`Num RefCount Protocol Flags Type St Inode Path`).
 * Each socket has one line and one inode, so an inode on two lines is a forgery (an abstract
 * name holding a newline and a copy of a real socket's line with another path): such an inode
 * is believed for no inode. The paths on such lines stay, each under a key no socket has (a
 * negative number): asked whether anything listens at a path, a forgery must not answer "no"
 * (red team: a forward read as gone was dialled every 250 ms, a channel to the laptop each
 * time); asked which path an inode is bound to, it answers nothing. A forged line can cost a
 * hint (a dead socket read as maybe listening: a connect decides), never tie a socket to a path.
 */
export function parseListeners(text: string): Map<number, string> {
  const found = new Map<number, string>();
  const seen = new Set<number>();
  const forged = new Set<number>();
  const lines: Array<[number, string]> = [];
  for (const line of text.split("\n").slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 7) continue;
    const inode = Number(fields[6]);
    if (seen.has(inode)) forged.add(inode);
    seen.add(inode);
    if (fields.length < 8 || (Number.parseInt(fields[3] as string, 16) & ACCEPTS_CONNECTIONS) === 0) continue;
    // The path is the rest of the line (a path may hold spaces); abstract names start with @.
    const path = fields.slice(7).join(" ");
    if (path.startsWith("/")) lines.push([inode, path]);
  }
  let doubtful = 0;
  for (const [inode, path] of lines) found.set(forged.has(inode) ? -++doubtful : inode, path);
  return found;
}

/**
 * The buffer to read on into once `length` bytes of the listing are in `buffer`: the same while
 * it has room, twice the size (the bytes kept) when it is full, undefined once the listing has
 * reached PROC_NET_UNIX_MAX_BYTES (no listing at all).
 */
function roomToRead(buffer: Buffer, length: number): Buffer | undefined {
  if (length < buffer.length) return buffer;
  if (buffer.length >= PROC_NET_UNIX_MAX_BYTES) return undefined;
  const bigger = Buffer.allocUnsafe(Math.min(buffer.length * 2, PROC_NET_UNIX_MAX_BYTES));
  buffer.copy(bigger, 0, 0, length);
  return bigger;
}

/** The listening sockets by inode, read off the event loop's thread (a read another user can
 * make slow must not hold up connections). Undefined: no /proc, or a listing past the bound. */
export async function readListeners(): Promise<Map<number, string> | undefined> {
  let file;
  try {
    file = await open(PROC_NET_UNIX, "r");
    let buffer: Buffer | undefined = Buffer.allocUnsafe(FIRST_READ_BYTES);
    let length = 0;
    for (;;) {
      const { bytesRead } = await file.read(buffer, length, buffer.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
      buffer = roomToRead(buffer, length);
      if (!buffer) return undefined;
    }
    return parseListeners(buffer.toString("utf8", 0, length));
  } catch {
    return undefined;
  } finally {
    await file?.close();
  }
}
