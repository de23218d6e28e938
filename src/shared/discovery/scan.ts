import { lstatSync } from "node:fs";
import { opendir, readdir } from "node:fs/promises";
import { join } from "node:path";
import type { AgentKind, Candidate, DirectoryScan, IgnoredEntry } from "./candidate.js";
import { createdMsOf, directoryRefusal, lstatOrUndefined, socketRefusal, type TrustContext } from "../core/trust.js";
import { HOME_AGENT_SOCKET, kindOfTmpSocket, TMP_AGENT_SOCKET, TMP_SESSION_DIR } from "./layouts.js";

/** What the scanner needs to know besides the directory. */
export interface ScanContext extends TrustContext {
  /** This host's OpenSSH 10.1 tag (asked for only when such a socket shows up); other hosts'
   * sockets in a shared $HOME are skipped. */
  readonly hostHash: () => string;
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

async function namesIn(directory: string): Promise<string[]> {
  try {
    return await readdir(directory);
  } catch {
    return [];
  }
}

/**
 * Reads one directory that may hold agent sockets. The directory itself must pass the trust
 * checks first (see directoryRefusal): if it does not, nothing in it is used, and the refusal is
 * reported once for the directory rather than for each entry.
 */
export async function scanDirectory(directory: string, layout: DirectoryLayout, context: ScanContext): Promise<DirectoryScan> {
  const stats = await lstatOrUndefined(directory);
  if (!stats) return EMPTY;
  const refusal = directoryRefusal(stats, context.uid);
  if (refusal) {
    // Other users' session directories are none of our business: don't even list them.
    if (stats.uid !== context.uid) return EMPTY;
    return { candidates: [], ignored: [{ path: directory, reason: `directory ${refusal}` }], trusted: false };
  }
  const candidates: Candidate[] = [];
  const ignored: IgnoredEntry[] = [];
  for (const name of await namesIn(directory)) {
    const kind = await kindFromName(name, layout, context, directory, ignored);
    if (!kind) continue;
    const path = join(directory, name);
    const entry = await lstatOrUndefined(path);
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
      return match ? kindOfTmpSocket(match[1] as string) : undefined;
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

/** Entries looked at between two turns of the event loop, so a huge /tmp never stalls the proxy. */
const ENTRIES_PER_TURN = 512;

/**
 * The user's own `ssh-*` session directories directly inside a temporary directory such as
 * /tmp. Other users' entries cost one lstat each and are never kept: /tmp may hold a million
 * directories of someone else's, and neither memory nor a stalled event loop may be the price.
 * The directory is read as a stream (no list of every name), a few hundred entries per turn.
 */
export async function ownSessionDirectoriesIn(root: string, uid: number): Promise<string[]> {
  let dir;
  try {
    dir = await opendir(root);
  } catch {
    return [];
  }
  const own: string[] = [];
  try {
    for (let seen = 1; ; seen++) {
      const entry = dir.readSync();
      if (!entry) break;
      // d_type says "not a directory" for most junk without a system call; unknown types are looked at.
      const maybeDirectory = entry.isDirectory() || !(entry.isFile() || entry.isSocket() || entry.isFIFO() || entry.isSymbolicLink());
      if (maybeDirectory && TMP_SESSION_DIR.test(entry.name)) {
        const path = join(root, entry.name);
        if (lstatUidSync(path) === uid) own.push(path);
      }
      if (seen % ENTRIES_PER_TURN === 0) await new Promise((resolve) => setImmediate(resolve));
    }
  } catch {
    // The directory went away while being read: what was found so far stands.
  } finally {
    dir.closeSync();
  }
  return own;
}

function lstatUidSync(path: string): number | undefined {
  try {
    return lstatSync(path).uid;
  } catch {
    return undefined;
  }
}
