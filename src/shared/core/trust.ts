import { constants, lstatSync, readFileSync, type Stats } from "node:fs";
import { lstat, open, readlink, realpath, rename, unlink } from "node:fs/promises";
import { dirname, isAbsolute, join } from "node:path";

/**
 * The one trust rule of ssh-anchor. Every path in a shared place (/tmp above all) belongs to
 * someone else until it is proven the user's own: a real directory (never a symlink) owned by
 * the user and writable by nobody else, and in it a socket or file owned by the user. Another
 * uid can create a file at a name, but never a file that the kernel says is owned by this uid;
 * ownership read with lstat (and fstat after an O_NOFOLLOW open) is the proof everything here
 * rests on. The shell code makes the same checks with `test -O`, `-L`, `-S` and `-d`.
 *
 * Every entry point asks this module: the daemon (its own directory, every candidate agent,
 * the upstream it reached), start/stop/status (whether a daemon is ours before talking to it or
 * signalling it), link mode, doctor and setup.
 */

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

export function octal(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, "0");
}

/**
 * Why a directory may not hold the user's sockets, or undefined if it may: a real directory
 * (not a symlink), owned by the user, writable by nobody else. Otherwise someone else could
 * plant or swap a socket in it.
 */
export function directoryRefusal(stats: Stats | undefined, uid: number): string | undefined {
  if (!stats) return "cannot be read";
  if (stats.isSymbolicLink()) return "is a symlink";
  if (!stats.isDirectory()) return "is not a directory";
  if (stats.uid !== uid) return `is owned by ${describeUid(stats.uid)}, not you`;
  if ((stats.mode & 0o022) !== 0) return `is writable by group or others (mode ${octal(stats.mode)})`;
  return undefined;
}

/** Why an entry is not a socket of the user that may be used, or undefined if it may. */
export function socketRefusal(stats: Stats | undefined, context: TrustContext, path: string): string | undefined {
  if (!stats) return "cannot be read";
  if (stats.isSymbolicLink()) return "is a symlink (never followed)";
  if (!stats.isSocket()) return stats.isFIFO() ? "is a FIFO, not a socket" : "is not a socket";
  if (stats.uid !== context.uid) return `is owned by ${describeUid(stats.uid)}, not you`;
  const own = context.ownSocket;
  if (own && (path === own.path || (stats.dev === own.dev && stats.ino === own.ino))) {
    return "is ssh-anchor's own socket";
  }
  return undefined;
}

/** The sticky bit (S_ISVTX), which node:fs does not export. */
const STICKY = 0o1000;

/** Symlinks followed on the way up before the walk gives up (the kernel's own limit is 40). */
const MAX_SYMLINKS = 8;

/**
 * Why the directories above `directory` could let someone else swap it, or undefined when they
 * cannot. The path is walked as written, from `/` down, as OpenSSH's safe_path() does: every
 * directory must be owned by root or the user and writable by nobody else, unless it is sticky
 * (as /tmp is: there nobody can rename or remove what another user owns). A symlink on the way
 * must be root's or the user's (its owner can point it elsewhere at any time), and what it holds
 * is walked the same way, one link at a time: a link of the user's leading through someone
 * else's is refused (red team).
 */
export async function parentsRefusal(directory: string, uid: number, options: WalkOptions = {}): Promise<string | undefined> {
  if (!isAbsolute(directory)) return `${directory} is not an absolute path`;
  return walkRefusal(dirname(directory), uid, options);
}

/** The same walk with `path` itself judged too, as a directory above what it holds: a root the
 * user named (an --agent-dir), whose entries only the user or root may be able to replace. */
export async function pathRefusal(path: string, uid: number, options: WalkOptions = {}): Promise<string | undefined> {
  if (!isAbsolute(path)) return `${path} is not an absolute path`;
  return walkRefusal(path, uid, options);
}

export interface WalkOptions {
  /** Filled with the directories walked that are the user's (not root's, and the user is not
   * root): the only ones whose modes can change after the walk by anyone but root (the user
   * opening one to others), so the only ones worth asking again. */
  readonly ownDirectories?: string[];
  /** A part of the path that does not exist yet passes (whoever makes it will be the user, as
   * `start` makes its directory): for a verdict on a directory before it is made. */
  readonly missingPasses?: boolean;
  /** Paths never asked (another user's mounted file system, which may never answer): reaching
   * one is a refusal. */
  readonly avoid?: ReadonlySet<string>;
}

async function walkRefusal(path: string, uid: number, { ownDirectories, missingPasses = false, avoid }: WalkOptions): Promise<string | undefined> {
  const root = await lstatOrUndefined("/");
  const rootRefusal = root && ancestorRefusal(root, "/", uid);
  if (rootRefusal) return rootRefusal;
  // `current` is always a real directory that passed; what is left of the path, in order.
  let current = "/";
  const pending = path.split("/").filter(Boolean);
  let symlinks = 0;
  for (let part = pending.shift(); part !== undefined; part = pending.shift()) {
    if (part === ".") continue;
    if (part === "..") {
      current = dirname(current);
      continue;
    }
    const next = join(current, part);
    if (avoid?.has(next)) return `${next} is another user's mounted file system`;
    const stats = await lstatOrUndefined(next);
    if (!stats) return missingPasses ? undefined : `${next} does not exist`;
    if (stats.isSymbolicLink()) {
      if (stats.uid !== 0 && stats.uid !== uid) return `${next} is a symlink owned by ${describeUid(stats.uid)}`;
      symlinks += 1;
      if (symlinks > MAX_SYMLINKS) return `${next}: too many symlinks`;
      const target = await readlink(next).catch(() => undefined);
      if (target === undefined) return `${next} leads nowhere`;
      if (isAbsolute(target)) current = "/";
      pending.unshift(...target.split("/").filter(Boolean));
      continue;
    }
    const refusal = ancestorRefusal(stats, next, uid);
    if (refusal) return refusal;
    if (ownDirectories && uid !== 0 && stats.uid === uid) ownDirectories.push(next);
    current = next;
  }
  return undefined;
}

/** Why one directory on the way could let someone else swap what is below it. */
function ancestorRefusal(stats: Stats, path: string, uid: number): string | undefined {
  if (!stats.isDirectory()) return `${path} is not a directory`;
  if (stats.uid !== 0 && stats.uid !== uid) return `${path} is owned by ${describeUid(stats.uid)}`;
  const sticky = (stats.mode & STICKY) !== 0;
  if ((stats.mode & 0o022) !== 0 && !sticky) return `${path} is writable by group or others (mode ${octal(stats.mode)})`;
  return undefined;
}

/**
 * The uid whose paths and processes count as the user's own: this process's. (0 only where Node
 * has no getuid, which is not a platform ssh-anchor serves.)
 */
export function currentUid(): number {
  return process.getuid?.() ?? 0;
}

/** Where an identity came from, for messages: "uid 1001 (mallory)". */
function describeUid(uid: number): string {
  const name = userName(uid);
  return name ? `uid ${uid} (${name})` : `uid ${uid}`;
}

let passwd: Map<number, string> | undefined;

/** The login name of `uid` from /etc/passwd (no fork, no NSS: a name is only for messages). */
function userName(uid: number): string | undefined {
  if (!passwd) {
    passwd = new Map();
    try {
      // Synchronous and small: read once per process, only when a message names someone.
      const text = readFileSync("/etc/passwd", "latin1");
      for (const line of text.split("\n")) {
        const [name, , id] = line.split(":");
        if (name && id && !passwd.has(Number(id))) passwd.set(Number(id), name);
      }
    } catch {
      // No /etc/passwd (or not readable): the uid alone has to do.
    }
  }
  return passwd.get(uid);
}

/** Files beside the socket stay small; anything larger is not ours (unless the caller gives its
 * own bound: the scope registry's, which its writer keeps to). */
const MAX_OWN_FILE_BYTES = 64 * 1024;

/**
 * Reads a file that must be the user's own (the pid file, a note beside the socket): opened
 * without following a symlink and without blocking on a FIFO, then checked with fstat, so what is
 * read is what was checked. Undefined when it is missing, larger than `maxBytes`, or not provably
 * the user's. A file exactly `maxBytes` long is read.
 */
export async function readOwnFile(path: string, uid: number, maxBytes: number = MAX_OWN_FILE_BYTES): Promise<string | undefined> {
  let handle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    const stats = await handle.stat();
    if (!stats.isFile() || stats.uid !== uid || stats.size > maxBytes) return undefined;
    const bytes = await handle.readFile();
    // It grew between the fstat and the read: not the file that was checked.
    return bytes.length > maxBytes ? undefined : bytes.toString("utf8");
  } catch {
    return undefined;
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/**
 * Where the content of a file of the user's lives, for reading it and for replacing it in
 * place: the path itself when it is a regular file of the user's own; when it is a symlink (a
 * dotfiles manager's ~/.bashrc), the regular file it leads to, if that is the user's own, in a
 * directory of the user's own that nobody else may write to, below directories nobody else can
 * swap (parentsRefusal). Writing there (replaceOwnFile: a new file beside it, renamed over it)
 * keeps the link. "missing" when nothing is at the path; "refused" with why otherwise.
 * @example await ownFileBehindLink(join(homedir(), ".bashrc"), currentUid()) // { kind: "file", path: "/home/me/dotfiles/bashrc", linked: true }
 */
export async function ownFileBehindLink(
  path: string,
  uid: number,
): Promise<{ kind: "missing" } | { kind: "file"; path: string; linked: boolean } | { kind: "refused"; reason: string }> {
  const stats = await lstatOrUndefined(path);
  if (!stats) return { kind: "missing" };
  if (!stats.isSymbolicLink()) {
    if (!stats.isFile()) return { kind: "refused", reason: `${path} is not a regular file` };
    if (stats.uid !== uid) return { kind: "refused", reason: `${path} is owned by ${describeUid(stats.uid)}, not you` };
    return { kind: "file", path, linked: false };
  }
  if (stats.uid !== uid && stats.uid !== 0) return { kind: "refused", reason: `${path} is a symlink owned by ${describeUid(stats.uid)}` };
  const target = await realpath(path).catch(() => undefined);
  if (!target) return { kind: "refused", reason: `${path} is a symlink that leads nowhere` };
  const targetStats = await lstatOrUndefined(target);
  if (!targetStats?.isFile()) return { kind: "refused", reason: `${path} leads to ${target}, which is not a regular file` };
  if (targetStats.uid !== uid) return { kind: "refused", reason: `${path} leads to ${target}, owned by ${describeUid(targetStats.uid)}, not you` };
  const directory = dirname(target);
  const badDirectory = directoryRefusal(await lstatOrUndefined(directory), uid);
  if (badDirectory) return { kind: "refused", reason: `${path} leads to ${target}, whose directory ${directory} ${badDirectory}` };
  const badParents = await parentsRefusal(directory, uid);
  if (badParents) return { kind: "refused", reason: `${path} leads to ${target}: ${badParents}` };
  return { kind: "file", path: target, linked: true };
}

/** Flags that create a new file and never follow a symlink or reuse an existing file. */
const CREATE_EXCLUSIVE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
/** Flags that append to a file of our own, never through a symlink, never blocking on a FIFO. */
export const APPEND_NO_FOLLOW = constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/**
 * The pid of a running process of `uid`, read from a pid file of the user's own, or undefined.
 * The process must exist and belong to the user (the owner of /proc/PID where there is /proc),
 * so a planted pid file can never make ssh-anchor signal someone else's process, and a reused
 * pid of another user's process is not taken for the daemon.
 */
export async function ownProcessFromPidFile(pidFile: string, uid: number): Promise<number | undefined> {
  const text = await readOwnFile(pidFile, uid);
  if (text === undefined || !/^\d{1,10}\n?$/.test(text)) return undefined;
  const pid = Number.parseInt(text, 10);
  if (pid <= 1) return undefined;
  const proc = await lstatOrUndefined(`/proc/${pid}`);
  if (proc) return proc.uid === uid ? pid : undefined;
  // No /proc (not Linux): a signal 0 that succeeds proves the process is ours, unless we are
  // root, who may signal anyone's: then nothing here can prove it.
  return uid !== 0 && processPresence(pid) === "signalable" ? pid : undefined;
}

/**
 * Whether a process with this pid exists, asked with signal 0 (which sends nothing):
 * "signalable" when this process may signal it (its own uid's, or anyone's for root),
 * "not-signalable" when it exists but may not be signalled (EPERM), undefined when there is
 * none (or the pid is not one: 0 and below name process groups).
 * @example processPresence(process.pid) // "signalable"
 */
export function processPresence(pid: number): "signalable" | "not-signalable" | undefined {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
    return "signalable";
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM" ? "not-signalable" : undefined;
  }
}

/** /proc/PID/comm holds at most 16 bytes (TASK_COMM_LEN) and a newline. */
const COMM_BYTES = 64;

/**
 * The name of a process (Linux /proc/PID/comm), or undefined where it cannot be read. One small
 * read: procfs files report no size, so readFile would set aside 64 KiB for each, and a look at
 * every process of a host (which of them are the user's sshd) holds many at once.
 */
export async function processName(pid: number): Promise<string | undefined> {
  let handle;
  try {
    handle = await open(`/proc/${pid}/comm`, "r");
    const buffer = Buffer.allocUnsafe(COMM_BYTES);
    const { bytesRead } = await handle.read(buffer, 0, COMM_BYTES, 0);
    return buffer.toString("utf8", 0, bytesRead).trimEnd();
  } catch {
    return undefined;
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

/**
 * Whether a socket path is one of the user's own endpoints: "ours" when its directory passes
 * directoryRefusal and the socket socketRefusal, "missing" when nothing is there, otherwise why
 * not. Only an endpoint that is "ours" may be connected to, exported or reported as running.
 */
export async function endpointState(socket: string, uid: number): Promise<"ours" | "missing" | string> {
  const directory = dirname(socket);
  const directoryStats = await lstatOrUndefined(directory);
  if (!directoryStats) return "missing";
  const badDirectory = directoryRefusal(directoryStats, uid);
  if (badDirectory) return `${directory} ${badDirectory}`;
  const socketStats = await lstatOrUndefined(socket);
  if (!socketStats) return "missing";
  const badSocket = socketRefusal(socketStats, { uid }, socket);
  return badSocket ? `${socket} ${badSocket}` : "ours";
}

/** When a file was made: its birth time where the file system keeps one, else its change time. */
export function createdMsOf(stats: Stats): number {
  return stats.birthtimeMs > 0 ? stats.birthtimeMs : stats.ctimeMs;
}

/** What tells one socket from a later one at the same path: inode numbers are reused at once. */
export interface SocketIdentity {
  readonly dev: number;
  readonly ino: number;
  readonly createdMs: number;
  /** Directories above the socket's that are the user's (see parentsRefusal): asked again with
   * it, since the user can open one to others after it was found. */
  readonly ownAncestors?: readonly string[];
}

/**
 * Whether `path` still holds the very socket that passed the checks (same device, inode and
 * creation time), owned by the user, in a directory that is still private. Asked after connecting
 * to an agent and before sending it anything: if the login ended and someone else re-created its
 * directory and socket in the meantime, the connection reached them, and this says so. The
 * owner checks are what cannot be forged: a directory or socket at that path that is not the
 * user's fails them; the identity only tells the user's own sockets apart.
 */
export async function stillTheSocket(path: string, identity: SocketIdentity, uid: number, options: { local?: boolean } = {}): Promise<boolean> {
  // On a local file system (the tmp root) the two lstats are made at once, without the thread
  // pool's round trip (measured: 150 to 200 µs per new connection on a loaded 2-core host, more
  // than the rest of its cost). Elsewhere (a home on NFS may block) they stay asynchronous.
  if (options.local) return stillTheSocketNow(path, identity, uid);
  const [directory, socket, ancestors] = await Promise.all([
    lstatOrUndefined(dirname(path)),
    lstatOrUndefined(path),
    Promise.all((identity.ownAncestors ?? []).map((ancestor) => lstatOrUndefined(ancestor))),
  ]);
  return isStillTheSocket(directory, socket, identity, uid, path) && ancestorsStillClosed(identity.ownAncestors ?? [], ancestors, uid);
}

/**
 * stillTheSocket, answered at once with two synchronous lstats: only for a path on a local
 * file system (the tmp root), where they cannot block. The daemon makes it right after the
 * connect system call, in the same turn of the event loop, so that the check is out of the
 * way before the connection completes. Another user cannot mount anything on a directory of
 * ours (0700, checked at the scan), and the connect(2) that just reached a listening socket at
 * this path walked it an instant ago; the daemon forgets a session directory's socket at the
 * first change notification of it (a login ending), before the name can be someone else's again
 * (src/shared/discovery/discovery.ts).
 */
export function stillTheSocketNow(path: string, identity: SocketIdentity, uid: number): boolean {
  const directory = lstatSync(dirname(path), { throwIfNoEntry: false });
  const socket = lstatSync(path, { throwIfNoEntry: false });
  if (!isStillTheSocket(directory, socket, identity, uid, path)) return false;
  // Under /tmp there are none (/ and /tmp are root's): nothing more on the common path.
  const paths = identity.ownAncestors;
  return paths === undefined || ancestorsStillClosed(paths, paths.map((ancestor) => lstatSync(ancestor, { throwIfNoEntry: false })), uid);
}

/** Whether the user's directories above the socket's are still the user's and closed to others
 * (red team: a login in use stayed trusted after the user opened a directory above it). */
function ancestorsStillClosed(paths: readonly string[], stats: ReadonlyArray<Stats | undefined>, uid: number): boolean {
  return paths.every((path, i) => {
    const now = stats[i];
    return now !== undefined && ancestorRefusal(now, path, uid) === undefined;
  });
}

function isStillTheSocket(directory: Stats | undefined, socket: Stats | undefined, identity: SocketIdentity, uid: number, path: string): boolean {
  if (directoryRefusal(directory, uid) || !socket || socketRefusal(socket, { uid }, path)) return false;
  return socket.dev === identity.dev && socket.ino === identity.ino && createdMsOf(socket) === identity.createdMs;
}

/**
 * Puts a new entry at `path` in one step: `make` creates it at a fresh name beside it (a
 * leftover of an earlier run with this pid is removed first), then a rename puts it in place, so
 * a reader sees the old entry or the new one, never a half-made one. When `make` fails nothing
 * is left behind.
 * @example await replaceEntry(link, (temporary) => symlink(agentSocket, temporary))
 */
export async function replaceEntry(path: string, make: (temporary: string) => Promise<void>): Promise<void> {
  // Named after ssh-anchor: one left by a crash in the user's home says whose it is.
  const temporary = `${path}.ssh-anchor-${process.pid}`;
  await unlink(temporary).catch(() => undefined);
  try {
    await make(temporary);
    await rename(temporary, path);
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    throw error;
  }
}

/**
 * Replaces `path` with `content` (see replaceEntry), the new file made with O_EXCL and
 * O_NOFOLLOW, so nothing is ever written through a planted symlink or into a file someone else
 * made first. `mode` (before the umask) is 0600 unless given: a unit file or an rc file is
 * written with the mode it has to have.
 * @example await replaceOwnFile(`${socket}.pid`, `${process.pid}\n`)
 */
export async function replaceOwnFile(path: string, content: string, mode = 0o600): Promise<void> {
  await replaceEntry(path, async (temporary) => {
    const handle = await open(temporary, CREATE_EXCLUSIVE, mode);
    try {
      await handle.writeFile(content);
    } finally {
      await handle.close();
    }
  });
}
