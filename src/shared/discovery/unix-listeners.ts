import { closeSync, openSync, readSync } from "node:fs";
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
 * (an abstract name may hold a newline), so what it says is a hint that orders or skips work,
 * never a verdict: a connect still decides whether a socket is alive.
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

/** The listening path-bound sockets of a listing (`Num RefCount Protocol Flags Type St Inode Path`). */
export function parseListeners(text: string): Map<number, string> {
  const found = new Map<number, string>();
  for (const line of text.split("\n").slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 8) continue;
    if ((Number.parseInt(fields[3] as string, 16) & ACCEPTS_CONNECTIONS) === 0) continue;
    // The path is the rest of the line (a path may hold spaces); abstract names start with @.
    const path = fields.slice(7).join(" ");
    if (path.startsWith("/")) found.set(Number(fields[6]), path);
  }
  return found;
}

/**
 * The listing while it is read, in the same steps by both readers: each read goes into
 * `buffer` at `length`; a full buffer is replaced by one twice its size (the bytes kept) up to
 * PROC_NET_UNIX_MAX_BYTES, past which there is no listing at all.
 */
class Listing {
  buffer: Buffer = Buffer.allocUnsafe(FIRST_READ_BYTES);
  length = 0;
  /** The listing reached the bound: there is none. */
  tooLarge = false;

  get room(): number {
    return this.buffer.length - this.length;
  }

  /** Takes one read's count; true while more is to be read. */
  took(bytesRead: number): boolean {
    if (bytesRead === 0) return false;
    this.length += bytesRead;
    if (this.length < this.buffer.length) return true;
    if (this.buffer.length >= PROC_NET_UNIX_MAX_BYTES) {
      this.tooLarge = true;
      return false;
    }
    const bigger = Buffer.allocUnsafe(Math.min(this.buffer.length * 2, PROC_NET_UNIX_MAX_BYTES));
    this.buffer.copy(bigger, 0, 0, this.length);
    this.buffer = bigger;
    return true;
  }

  listeners(): Map<number, string> | undefined {
    return this.tooLarge ? undefined : parseListeners(this.buffer.toString("utf8", 0, this.length));
  }
}

/**
 * Read at once, for a decision due before the current turn ends (a new candidate's order before
 * its request is routed): procfs cannot hang on anyone's file system, and the bound keeps the
 * read short. Undefined: no /proc, or a listing past the bound.
 */
export function readListenersNow(): Map<number, string> | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(PROC_NET_UNIX, "r");
    const listing = new Listing();
    while (listing.took(readSync(fd, listing.buffer, listing.length, listing.room, null)));
    return listing.listeners();
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** The same, read off the event loop's thread (periodic work). */
export async function readListeners(): Promise<Map<number, string> | undefined> {
  let file;
  try {
    file = await open(PROC_NET_UNIX, "r");
    const listing = new Listing();
    while (listing.took((await file.read(listing.buffer, listing.length, listing.room, null)).bytesRead));
    return listing.listeners();
  } catch {
    return undefined;
  } finally {
    await file?.close();
  }
}
