import type { Stats } from "node:fs";
import { opendir, readdir } from "node:fs/promises";
import { join } from "node:path";
import type { AgentKind, Candidate, DirectoryScan, IgnoredEntry } from "./candidate.js";
import { mapBounded } from "../core/bounded.js";
import { FOREIGN_CALLS_IN_FLIGHT, foreignFs, mountPoints, UNANSWERED, type ForeignFs } from "../core/foreign-fs.js";
import { createdMsOf, directoryRefusal, lstatOrUndefined, parentsRefusal, socketRefusal, type TrustContext } from "../core/trust.js";
import { HOME_AGENT_SOCKET, kindOfTmpSocket, TMP_AGENT_SOCKET, TMP_SESSION_DIR } from "./layouts.js";

/** What the scanner needs to know besides the directory. */
export interface ScanContext extends TrustContext {
  /** This host's OpenSSH 10.1 tag (asked for only when such a socket shows up); other hosts'
   * sockets in a shared $HOME are skipped. */
  readonly hostHash: () => string;
  /** The bounded gate session directories in the tmp root are asked through (default: the
   * process's one, foreignFs; tests pass one that does not answer). */
  readonly gate?: Pick<ForeignFs, "lstat" | "readdir">;
}

/** How a directory's entries are to be read. */
export type DirectoryLayout =
  /** `/tmp/ssh-XXXX`: only `agent.<pid>` entries. */
  | "tmp-session"
  /** `~/.ssh/agent`: only `s.<this host>.<sshd|agent>.<random>` entries. */
  | "home-agent"
  /** A directory named by the user: every socket in it. */
  | "extra";

const EMPTY: DirectoryScan = { candidates: [], ignored: [], trusted: false };
const NO_ANSWER: DirectoryScan = { candidates: [], ignored: [], trusted: false, unanswered: true };

async function namesIn(directory: string, gate: ScanContext["gate"]): Promise<string[] | typeof UNANSWERED> {
  if (gate) {
    const entries = await gate.readdir(directory);
    return entries === UNANSWERED ? UNANSWERED : entries.map((entry) => entry.name);
  }
  try {
    return await readdir(directory);
  } catch {
    return [];
  }
}

/**
 * lstat of an entry: for a session directory in the tmp root (a name another user can make
 * again once the login ended) through the bounded gate, a mount point never; elsewhere (the
 * user's home, directories the user named) a plain lstat.
 */
async function lstatEntry(path: string, gate: ScanContext["gate"]): Promise<Stats | undefined | typeof UNANSWERED> {
  return gate ? gate.lstat(path) : lstatOrUndefined(path);
}

/**
 * Reads one directory that may hold agent sockets. The directory itself must pass the trust
 * checks first (see directoryRefusal, and parentsRefusal for the directories above it): if it does
 * not, nothing in it is used, and the refusal is
 * reported once for the directory rather than for each entry. A session directory in the tmp
 * root is asked only through the bounded gate (src/shared/core/foreign-fs.ts), and not at all
 * when it is a mount point (someone else's file system, which may never answer).
 */
export async function scanDirectory(
  directory: string,
  layout: DirectoryLayout,
  context: ScanContext,
  mounts?: ReadonlySet<string>,
): Promise<DirectoryScan> {
  // A session directory in the tmp root is asked through the gate; the others plainly.
  const gate = layout === "tmp-session" ? (context.gate ?? foreignFs) : undefined;
  // `mounts`: the mount table read once for a whole scan of many directories, as
  // ownSessionDirectoriesIn reads it once for a whole listing of the root.
  if (gate && (mounts ?? (await mountPoints())).has(directory)) return EMPTY;
  const stats = await lstatEntry(directory, gate);
  if (stats === UNANSWERED) return NO_ANSWER;
  if (!stats) return EMPTY;
  const refusal = directoryRefusal(stats, context.uid);
  if (refusal) {
    // Other users' session directories are none of our business: don't even list them.
    if (stats.uid !== context.uid) return EMPTY;
    return { candidates: [], ignored: [{ path: directory, reason: `directory ${refusal}` }], trusted: false };
  }
  // Every directory above must be unswappable too: the re-check of a socket after each connect
  // (stillTheSocket) relies on it (the socket it verified, once gone, cannot come back), which
  // holds only if nobody else can rename the directory holding it away and back (a root
  // writable by others without the sticky bit). Asked at every scan, never remembered: a
  // directory of the user's in /tmp, once removed, is anyone's name to make again.
  const ownAncestors: string[] = [];
  const above = await parentsRefusal(directory, context.uid, { ownDirectories: ownAncestors });
  if (above) return { candidates: [], ignored: [{ path: directory, reason: `directory could be swapped by another user: ${above}` }], trusted: false };
  const candidates: Candidate[] = [];
  const ignored: IgnoredEntry[] = [];
  const names = await namesIn(directory, gate);
  if (names === UNANSWERED) return NO_ANSWER;
  for (const name of names) {
    const kind = await kindFromName(name, layout, context, directory, ignored);
    if (!kind) continue;
    const path = join(directory, name);
    const entry = await lstatEntry(path, gate);
    if (entry === UNANSWERED) return NO_ANSWER;
    // Gone between listing and looking (a login ending): nothing to say about it.
    if (!entry) continue;
    // A directory the user named may hold anything: only socket-like entries are worth a word.
    if (layout === "extra" && !entry.isSocket() && !entry.isSymbolicLink() && !entry.isFIFO()) continue;
    const why = socketRefusal(entry, context, path);
    if (why) {
      ignored.push({ path, reason: why });
      continue;
    }
    candidates.push({
      path,
      kind,
      createdMs: createdMsOf(entry),
      dev: entry.dev,
      ino: entry.ino,
      ...(ownAncestors.length > 0 ? { ownAncestors } : {}),
    });
  }
  return { candidates, ignored, trusted: true };
}

/** The kind an entry would have by its name, or undefined if its name is not an agent's. */
async function kindFromName(
  name: string,
  layout: DirectoryLayout,
  context: ScanContext,
  directory: string,
  ignored: IgnoredEntry[],
): Promise<AgentKind | undefined> {
  switch (layout) {
    case "tmp-session": {
      const match = TMP_AGENT_SOCKET.exec(name);
      return match ? kindOfTmpSocket(directory, match[1] as string, context.uid) : undefined;
    }
    case "home-agent": {
      const match = HOME_AGENT_SOCKET.exec(name);
      if (!match) return undefined;
      if (match[1] !== context.hostHash()) {
        ignored.push({ path: join(directory, name), reason: "belongs to another host (shared home directory)" });
        return undefined;
      }
      return match[2] === "sshd" ? "forwarded" : "local";
    }
    case "extra":
      return "extra";
  }
}

/** Entries read from the root per system call, off the event loop (opendir's buffer). */
const ENTRIES_PER_READ = 256;
/** New names asked together (through the gate, a few at a time) before the listing goes on. */
const ASKED_PER_BATCH = 256;

/**
 * Who owns the `ssh-*` names of a root, as far as earlier listings learnt: a name keeps its owner
 * while it exists (sshd's names are random: nobody can make one of ours theirs), so only new
 * names cost an lstat. Other users' names are kept as 52-bit hashes, not strings (a /tmp may hold
 * a million of them: a few MiB, not tens); a hash shared by a new name of ours and an old one of
 * theirs (about one in 2^52 per name) would only delay that login to the next full look. Kept per
 * root by the caller; names gone from the root are dropped at each listing.
 */
export interface OwnerCache {
  own: Set<string>;
  foreign: Set<number>;
  /** What the last listing of the root cost: entries gone through, and each name asked (an
   * lstat through the gate) as LISTING_COST_PER_ASK of them. */
  cost: number;
  /** Names the last listing could not ask (the gate had no answer): one of them may be a new
   * login of the user's, so that listing must not stand for the root's unchanged mtime. */
  unanswered: number;
}

export function ownerCache(): OwnerCache {
  return { own: new Set(), foreign: new Set(), cost: 0, unanswered: 0 };
}

/** A name asked costs about as much as this many entries gone through (an lstat through the
 * gate, about 60 µs with its trip through the thread pool, against a name read, about 0.5 µs):
 * another user renaming `ssh-*` directories back and forth makes every listing ask them all
 * again (red team: at 20, 950 of them stayed under the long-listing bound and cost every
 * request 58 ms; at 100 the bound comes at 200, each listing under it about 10 ms). */
const LISTING_COST_PER_ASK = 100;

/** Two 32-bit FNV-1a variants, 52 bits of them as one number (exact in a double). */
function nameHash(name: string): number {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ 0x5bd1e995;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995) ^ (b >>> 15);
  }
  return (a >>> 0) * 0x100000 + ((b >>> 0) & 0xfffff);
}

/**
 * The user's own `ssh-*` session directories directly inside a temporary directory such as
 * /tmp. The root is read as a stream (no list of every name), a few hundred entries per read,
 * each read off the event loop (another user can make one slow: an ext4 directory they once
 * filled keeps its size when emptied, and each read walks its empty blocks, 50 ms for 129 MB),
 * and only names that may be session directories (by name, and by the type the directory entry
 * carries) are looked at: other users' files cost nothing. Each new such name costs one lstat
 * through the bounded gate (a name that is a mount point none: someone else's file system);
 * an owner learnt once is remembered in `owners`. /tmp may hold a million directories of someone
 * else's: neither memory nor a stalled event loop may be the price.
 */
export async function ownSessionDirectoriesIn(
  root: string,
  uid: number,
  owners: OwnerCache = ownerCache(),
  gate: Pick<ForeignFs, "lstat"> = foreignFs,
): Promise<string[]> {
  let dir;
  try {
    dir = await opendir(root, { bufferSize: ENTRIES_PER_READ });
  } catch {
    return [];
  }
  const own = new Set<string>();
  const foreign = new Set<number>();
  // New names are asked a batch at a time, as the stream goes: nothing holds every name.
  const mounts = await mountPoints();
  let batch: string[] = [];
  let seen = 0;
  let asked = 0;
  let unanswered = 0;
  const askBatch = async (): Promise<void> => {
    const queue = batch.filter((name) => !mounts.has(join(root, name)));
    batch = [];
    asked += queue.length;
    await mapBounded(queue, FOREIGN_CALLS_IN_FLIGHT, async (name) => {
      const stats = await gate.lstat(join(root, name));
      // No answer: skipped now, and not asked again while that call is out (the gate says).
      if (stats === UNANSWERED) unanswered += 1;
      if (stats === UNANSWERED || !stats) return;
      if (stats.uid === uid) own.add(name);
      else foreign.add(nameHash(name));
    });
  };
  try {
    for (;;) {
      // The root itself is the system's /tmp (or a directory the user named): not a name another
      // user can make, nor a file system they mount; what is in it is never asked that way.
      const entry = await dir.read();
      if (!entry) break;
      seen += 1;
      // d_type says "not a directory" for most junk without a system call; unknown types are looked at.
      const maybeDirectory = entry.isDirectory() || !(entry.isFile() || entry.isSocket() || entry.isFIFO() || entry.isSymbolicLink());
      if (maybeDirectory && TMP_SESSION_DIR.test(entry.name)) {
        const hash = nameHash(entry.name);
        if (owners.own.has(entry.name)) own.add(entry.name);
        else if (owners.foreign.has(hash)) foreign.add(hash);
        else batch.push(entry.name);
      }
      if (batch.length >= ASKED_PER_BATCH) await askBatch();
    }
  } catch {
    // The directory went away while being read: what was found so far stands.
  } finally {
    await dir.close().catch(() => undefined);
  }
  await askBatch();
  owners.own = own;
  owners.foreign = foreign;
  owners.cost = seen + LISTING_COST_PER_ASK * asked;
  owners.unanswered = unanswered;
  return [...own].map((name) => join(root, name));
}
