import { statSync, watch, type FSWatcher } from "node:fs";
import { stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { Candidate, DirectoryScan, IgnoredEntry } from "./candidate.js";
import { mapBounded, withinMs } from "../core/bounded.js";
import { TIMING } from "../core/timing.js";
import { directoryRefusal, pathRefusal } from "../core/trust.js";
import { foreignMountPoints, mountPoints } from "../core/foreign-fs.js";
import { homeAgentDirectory, TMP_SESSION_DIR } from "./layouts.js";
import { ownerCache, ownSessionDirectoriesIn, scanDirectory, type DirectoryLayout, type OwnerCache, type ScanContext } from "./scan.js";
import { monotonicMs } from "../core/clock.js";

export interface DiscoveryOptions extends ScanContext {
  /** The user's home: `~/.ssh/agent` (OpenSSH >= 10.1) is read there. */
  readonly home: string;
  /** Where sshd makes `ssh-*` session directories; "/tmp" unless testing. */
  readonly tmpRoot: string;
  /** Directories the user named: their sockets and their `ssh-*` session directories. */
  readonly extraDirs: readonly string[];
  /** Called after any change to the set of candidates. */
  readonly onChange?: () => void;
  readonly log?: (message: string) => void;
}

/** Entries that ended up refused, kept only up to this many: a shared host can have thousands. */
const MAX_IGNORED = 64;
/** A root whose listing costs this much (entries, and names asked: OwnerCache.cost) is "long"
 * (see #ownSessionDirectories): a busy host's /tmp holds hundreds to a few thousand entries and
 * a few new names a listing; this much is another user's junk. */
const LONG_LISTING_COST = 20_000;
/** A directory's size in bytes per entry it may hold (ext4 gives 12 bytes and the name, rounded
 * to 4): an ext4 directory someone once filled keeps its size when emptied, and its listing walks
 * every block of it, so its size counts as that many entries (tmpfs reports about 20 bytes an
 * entry: never more than its entries). */
const DIRECTORY_BYTES_PER_ENTRY = 32;
/** Listings in a row of a long root that found nothing new of the user's: it is churning. */
const FRUITLESS_LISTINGS = 3;
/** Directories read at once by a look again. */
const LOOK_AGAIN_CONCURRENCY = 8;
/** Directories waiting to be read again, at most: past that (someone filling /tmp with
 * directories), one full scan soon replaces them all (TIMING.overflowRescanFirstMs). */
const MAX_PENDING = 256;
/** Session directories of ours watched for their socket going away (a login ending), at most. */
const MAX_WATCHED_SESSIONS = 64;

/** One listing of a root: when it began (wall clock, as mtimes are), the root's mtime then,
 * when it ended (the monotonic clock), what it cost (OwnerCache.cost), and how many listings in
 * a row found no new directory of the user's. */
interface RootListing {
  readonly mtimeMs: number;
  readonly listedAtMs: number;
  readonly directories: string[];
  readonly endedAt: number;
  readonly cost: number;
  readonly fruitless: number;
}

interface KnownDirectory {
  readonly layout: DirectoryLayout;
  readonly scan: DirectoryScan;
}

/**
 * Keeps the set of candidate agent sockets current without scanning on every connection: one
 * full scan at start, then the file system's change notifications re-read only the directory
 * that changed. The session directories' root (/tmp) is not watched: every change another user
 * makes there would wake the daemon. Instead `mayHaveUnseenLogin()` (one lstat of the root, asked by
 * each new connection) says whether it changed since its last listing or a watched directory's
 * change is still to be read, and `lookAgain()` then
 * lists it; the user's own session directories are watched, for their sockets going away.
 * `rescan()` forces a full scan (SIGHUP, a periodic safety net, or when no agent is left and a
 * new login may have appeared unnoticed).
 *
 * @example
 * const discovery = new AgentDiscovery({ uid, home, tmpRoot: "/tmp", extraDirs: [], hostHash: localHostHash });
 * await discovery.start();
 * discovery.candidates(); // every socket that may be an agent of this user
 */
export class AgentDiscovery {
  readonly #options: DiscoveryOptions;
  #context: ScanContext;
  readonly #directories = new Map<string, KnownDirectory>();
  readonly #pending = new Map<string, NodeJS.Timeout>();
  /** Directory reads of change notifications under way (after their settle delay). */
  #settling = 0;
  readonly #watchers = new Map<string, FSWatcher>();
  /** Watchers with a lifetime (a new session directory's, until its socket appears). */
  readonly #shortWatches = new Set<string>();
  readonly #rootListings = new Map<string, RootListing>();
  /** What each root is to the daemon (see #judgeRoots, at each full scan); the tmp root is never
   * watched. */
  readonly #roots: Map<string, RootKind>;
  /** A caller of lookAgain asked the next look to list long roots anyway. */
  #thoroughLookWanted = false;
  readonly #owners = new Map<string, OwnerCache>();
  #candidates: Candidate[] = [];
  #ignored: IgnoredEntry[] = [];
  #scanning: Promise<void> | undefined;
  #lastFullScan = -Infinity;
  #overflowTimer: NodeJS.Timeout | undefined;
  #overflowDelay: number = TIMING.overflowRescanFirstMs;
  #lastOverflow = -Infinity;
  /** The look again under way (lookAgain), and the one queued behind it. */
  #look: Promise<void> | undefined;
  #nextLook: Promise<void> | undefined;
  #stopped = false;

  constructor(options: DiscoveryOptions) {
    this.#options = options;
    this.#context = { uid: options.uid, hostHash: options.hostHash, ownSocket: options.ownSocket, gate: options.gate };
    this.#roots = new Map([[options.tmpRoot, "looked"]]);
  }

  /** The daemon's own socket (known only once it listens) is never a candidate. */
  setOwnSocket(ownSocket: NonNullable<ScanContext["ownSocket"]>): void {
    this.#context = { ...this.#context, ownSocket };
  }

  /** Every socket that may be an agent of this user, in no particular order. */
  candidates(): readonly Candidate[] {
    return this.#candidates;
  }

  /** Entries named like agents that were refused, with the reason (bounded). */
  ignored(): readonly IgnoredEntry[] {
    return this.#ignored;
  }

  /** When the last full scan finished (monotonicMs() time). */
  get lastFullScan(): number {
    return this.#lastFullScan;
  }

  async start(): Promise<void> {
    // Watch first, then scan: a login made between the scan's reading of a root and a watch
    // started after it would go unseen until the periodic rescan (a minute); an event during
    // the scan only costs a second look at one directory. (The named roots' watches are set by
    // the scan's judgement, before it reads them.)
    this.#watchHomeAgentDirectory();
    await this.rescan();
  }

  stop(): void {
    this.#stopped = true;
    for (const watcher of this.#watchers.values()) watcher.close();
    this.#watchers.clear();
    for (const timer of this.#pending.values()) clearTimeout(timer);
    this.#pending.clear();
    clearTimeout(this.#overflowTimer);
  }

  /** Reads every place again. Concurrent calls share one scan. */
  rescan(): Promise<void> {
    this.#scanning ??= this.#fullScan().finally(() => {
      this.#scanning = undefined;
      this.#lastFullScan = monotonicMs();
    });
    return this.#scanning;
  }

  /**
   * A connection found no usable agent: looks at once at every place a new login appears,
   * whatever change notification is still pending or not yet delivered (a new login's own
   * first command races the notification for its socket). Pending directory re-reads run now,
   * `~/.ssh/agent` and the extra directories are read again, and the temporary roots are listed
   * for `ssh-*` directories not known yet. Resolves when that look is done or after `budgetMs`,
   * whichever comes first (the look itself goes on): true when it was done in time. A caller arriving while a look is under
   * way shares the next one, which starts after it: it never gets a look older than itself.
   * `thorough`: a long root is listed even within its relisting pause (see
   * #ownSessionDirectories): a connection that found no agent at all, not one choosing among some.
   */
  lookAgain(budgetMs: number, thorough = false): Promise<boolean> {
    if (thorough) this.#thoroughLookWanted = true;
    const look =
      this.#look === undefined
        ? this.#startLook()
        : (this.#nextLook ??= this.#look.then(() => {
            this.#nextLook = undefined;
            return this.#startLook();
          }));
    return withinMs(look, budgetMs);
  }

  #startLook(): Promise<void> {
    const look: Promise<void> = this.#lookOnce()
      .catch(() => undefined)
      .finally(() => {
        if (this.#look === look) this.#look = undefined;
      });
    this.#look = look;
    return look;
  }

  async #lookOnce(): Promise<void> {
    const { extraDirs, home } = this.#options;
    const thorough = this.#thoroughLookWanted;
    this.#thoroughLookWanted = false;
    const agentDir = homeAgentDirectory(home);
    const known = new Map<string, DirectoryLayout>();
    for (const [directory, timer] of this.#pending) {
      clearTimeout(timer);
      this.#pending.delete(directory);
      const layout = this.#directories.get(directory)?.layout;
      known.set(directory, layout ?? (directory === agentDir ? "home-agent" : extraDirs.includes(directory) ? "extra" : "tmp-session"));
    }
    known.set(agentDir, "home-agent");
    const roots = this.#readableRoots();
    for (const directory of extraDirs) if (roots.includes(directory)) known.set(directory, "extra");
    // The places already known are read while the roots are listed, not after: a login of
    // OpenSSH >= 10.1 is in ~/.ssh/agent, and listing a /tmp that changed (thousands of other
    // users' entries) must not make its first command wait past the look's budget.
    const listing = Promise.all(roots.map((root) => this.#ownSessionDirectories(root, thorough)));
    const readKnown = this.#rescanAll(known);
    const found = new Map<string, DirectoryLayout>();
    for (const directory of (await listing).flat()) {
      if (!this.#directories.has(directory) && !known.has(directory)) found.set(directory, "tmp-session");
    }
    await Promise.all([readKnown, this.#rescanAll(found)]);
  }

  /** Reads these directories again, a few at a time: /tmp may hold thousands of other users'
   * session directories (each costs one lstat and is then skipped). */
  async #rescanAll(jobs: ReadonlyMap<string, DirectoryLayout>): Promise<void> {
    await mapBounded([...jobs], LOOK_AGAIN_CONCURRENCY, ([directory, layout]) => this.#rescanDirectory(directory, layout), () => this.#stopped);
  }

  /** Reads again the directory holding `path` (an agent found gone). */
  recheck(path: string): void {
    const directory = dirname(path);
    const known = this.#directories.get(directory);
    if (known) this.#schedule(directory, known.layout);
  }

  async #fullScan(): Promise<void> {
    const { extraDirs, home } = this.#options;
    // Judged again at every full scan: a named directory made (or closed) since is read from now.
    await this.#judgeRoots();
    const roots = this.#readableRoots();
    const jobs: Array<[string, DirectoryLayout]> = [[homeAgentDirectory(home), "home-agent"]];
    for (const root of roots) {
      for (const directory of await this.#ownSessionDirectories(root, true)) jobs.push([directory, "tmp-session"]);
    }
    for (const directory of extraDirs) if (roots.includes(directory)) jobs.push([directory, "extra"]);
    const mounts = await mountPoints();
    const scans = await Promise.all(jobs.map(([dir, layout]) => scanDirectory(dir, layout, this.#context, mounts)));
    if (this.#stopped) return;
    const before = new Map(this.#directories);
    this.#directories.clear();
    jobs.forEach(([directory, layout], i) => this.#remember(directory, layout, scans[i] as DirectoryScan, before.get(directory)));
    for (const directory of before.keys()) if (!this.#directories.has(directory) && directory !== homeAgentDirectory(home)) this.#unwatch(directory);
    this.#publish();
  }

  /**
   * Whether a new login may be there unseen: a watched directory changed and is not read again
   * yet (a login of OpenSSH >= 10.1 binding its socket in ~/.ssh/agent: its first command can
   * come before the settle delay ends), or the session directories' root changed since its last
   * listing (or that listing may have missed a change made in the same clock tick). One stat of
   * the root, made at once: it is the system's /tmp (or a directory the user named), not a name
   * another user can make; what is in it is only ever asked through the bounded gate.
   */
  mayHaveUnseenLogin(): boolean {
    // A change notification of the user's own directories still settling (TIMING.settleMs) or
    // being read: a new login's socket may have just appeared in ~/.ssh/agent (OpenSSH >= 10.1),
    // which the root's mtime does not tell; its own first command must not be routed before.
    if (this.#pending.size > 0 || this.#settling > 0) return true;
    for (const [root, kind] of this.#roots) {
      if (kind !== "looked") continue;
      const listing = this.#rootListings.get(root);
      if (!listing) return true;
      let mtimeMs: number;
      try {
        // Followed: a root named through a symlink of the user's changes only behind it.
        mtimeMs = statSync(root).mtimeMs;
      } catch {
        continue;
      }
      if (!settled(listing, mtimeMs)) return true;
    }
    return false;
  }

  /**
   * The user's session directories in `root`, read again only when `root` changed since the last
   * listing (its mtime moves whenever an entry is added or removed): a /tmp full of other
   * users' directories is then walked once, not at every look, and another user's files being
   * rewritten there cost nothing. A listing begun within TIMING.racyListingMs of the root's last
   * change is not trusted (the change may hide in the same clock tick): the next look lists again.
   * Another user can fill a root (200,000 entries cost 0.1 s of CPU a listing) and keep its
   * mtime moving, or rename thousands of `ssh-*` directories so that each listing asks them all:
   * every connection would list it. A root whose listing costs LONG_LISTING_COST or more and
   * whose last FRUITLESS_LISTINGS listings in a row found no new directory of the user's is churning:
   * it is listed again at most once per TIMING.longListingRelistMs. A new login's first command
   * in that window may miss its own agent once (the next look finds it); a long root without
   * churn (a new login's directory is what moved it) is listed as any other. Counted in work,
   * not time: a loaded machine must not make a small /tmp "long". `thorough` (a full scan, a
   * look for a connection that found no agent) lists it anyway.
   */
  async #ownSessionDirectories(root: string, thorough: boolean): Promise<string[]> {
    const listedAtMs = Date.now();
    // Followed, as at mayHaveUnseenLogin: the link's own mtime never moves.
    const stats = await stat(root).catch(() => undefined);
    const mtimeMs = stats?.mtimeMs;
    const cached = this.#rootListings.get(root);
    if (mtimeMs !== undefined && cached && settled(cached, mtimeMs)) return cached.directories;
    const churning = cached !== undefined && cached.cost >= LONG_LISTING_COST && cached.fruitless >= FRUITLESS_LISTINGS;
    if (!thorough && churning && monotonicMs() - cached.endedAt < TIMING.longListingRelistMs) return cached.directories;
    let owners = this.#owners.get(root);
    if (!owners) this.#owners.set(root, (owners = ownerCache()));
    const directories = await ownSessionDirectoriesIn(root, this.#options.uid, owners, this.#context.gate);
    const known = new Set(cached?.directories);
    const fruitless = directories.some((directory) => !known.has(directory)) ? 0 : (cached?.fruitless ?? 0) + 1;
    const cost = Math.max(owners.cost, Math.floor((stats?.size ?? 0) / DIRECTORY_BYTES_PER_ENTRY));
    // A listing with names the gate could not ask is not kept: the next look lists again, or a
    // login made while another user's file system held the gate would stay hidden until the
    // root changed again (red team).
    if (owners.unanswered > 0) this.#rootListings.delete(root);
    else if (mtimeMs !== undefined) this.#rootListings.set(root, { mtimeMs, listedAtMs, directories, endedAt: monotonicMs(), cost, fruitless });
    return directories;
  }

  async #rescanDirectory(directory: string, layout: DirectoryLayout): Promise<void> {
    const scan = await scanDirectory(directory, layout, this.#context);
    if (this.#stopped) return;
    if (!this.#directories.has(directory) && scan.candidates.length === 0 && scan.ignored.length === 0) {
      // A session directory of ours with no socket yet: sshd (or ssh-agent) is about to bind it.
      if (scan.trusted && layout === "tmp-session" && !this.#watchers.has(directory)) {
        this.#watch(directory, () => this.#schedule(directory, layout), TIMING.newDirectoryWatchMs);
        // The socket may have appeared between the read and the watch.
        this.#schedule(directory, layout);
      }
      return;
    }
    this.#remember(directory, layout, scan);
    this.#publish();
  }

  /** What a scan of `directory` found, in place of what was known (`known`: before a full scan). */
  #remember(directory: string, layout: DirectoryLayout, scan: DirectoryScan, known = this.#directories.get(directory)): void {
    if (scan.unanswered) {
      // The gate had no answer (another user's file system holds its calls): what was known
      // stays, and the next look asks again. Forgetting would hand them the user's own logins
      // (red team: a login's agent dropped for good while FUSE mounts hung the gate).
      if (known) this.#directories.set(directory, known);
      return;
    }
    if (scan.candidates.length > 0 || scan.ignored.length > 0) {
      this.#directories.set(directory, { layout, scan });
      if (layout === "tmp-session" && scan.trusted) this.#watchSession(directory);
    } else {
      this.#directories.delete(directory);
      if (layout === "tmp-session") this.#unwatch(directory);
    }
  }

  /**
   * Watches a session directory of ours (the root is not watched): when a login ends, sshd
   * removes its socket, then the directory. The socket is forgotten at the first word of it, so
   * nothing connects to that path once someone else may make the name again; then the directory
   * is read again. Only our own logins change it: this costs nothing under others' churn.
   */
  #watchSession(directory: string): void {
    // A new directory's short watch (its socket about to appear) gives way to this one.
    if (this.#shortWatches.delete(directory)) this.#unwatch(directory);
    if (this.#watchers.has(directory) || this.#watchers.size >= MAX_WATCHED_SESSIONS) return;
    this.#watch(directory, (name) => {
      const known = this.#directories.get(directory);
      if (known && known.scan.candidates.some((candidate) => basename(candidate.path) === name)) {
        const scan = { ...known.scan, candidates: known.scan.candidates.filter((candidate) => basename(candidate.path) !== name) };
        this.#directories.set(directory, { layout: known.layout, scan });
        this.#publish();
      }
      this.#schedule(directory, "tmp-session");
    });
  }

  #unwatch(directory: string): void {
    this.#watchers.get(directory)?.close();
    this.#watchers.delete(directory);
  }

  #publish(): void {
    const candidates: Candidate[] = [];
    const ignored: IgnoredEntry[] = [];
    for (const { scan } of this.#directories.values()) {
      candidates.push(...scan.candidates);
      for (const entry of scan.ignored) if (ignored.length < MAX_IGNORED) ignored.push(entry);
    }
    this.#candidates = candidates;
    this.#ignored = ignored;
    this.#options.onChange?.();
  }

  #schedule(directory: string, layout: DirectoryLayout): void {
    if (this.#stopped || this.#pending.has(directory)) return;
    if (this.#pending.size >= MAX_PENDING) {
      const now = monotonicMs();
      if (now - this.#lastOverflow > TIMING.overflowRescanMaxMs) this.#overflowDelay = TIMING.overflowRescanFirstMs;
      this.#lastOverflow = now;
      this.#overflowTimer ??= setTimeout(() => {
        this.#overflowTimer = undefined;
        this.#overflowDelay = Math.min(this.#overflowDelay * 2, TIMING.overflowRescanMaxMs);
        void this.rescan();
      }, this.#overflowDelay);
      return;
    }
    const timer = setTimeout(() => {
      this.#pending.delete(directory);
      this.#settling += 1;
      void this.#rescanDirectory(directory, layout).finally(() => (this.#settling -= 1));
    }, TIMING.settleMs);
    this.#pending.set(directory, timer);
  }

  /**
   * Judges each root (at start, and again at every full scan):
   * - a directory the user named is read only if the trust rule passes for it and every
   *   directory and link above it (pathRefusal): then nobody else can replace it, or mount a
   *   file system over it that never answers, and it may be asked plainly. Else it is
   *   "ignored", never touched, and the log says why once. Judged without entering another
   *   user's FUSE mount (red team: a daemon frozen at start by one named as --agent-dir);
   * - "watched": a named directory that is the user's alone: its changes wake the daemon;
   * - "looked": one others can write in (`/dev/shm`, sticky), and the tmp root: never watched
   *   (another user's churn of `ssh-*` names there kept the daemon at a full core, red team),
   *   its mtime read at once per connection (mayHaveUnseenLogin).
   */
  async #judgeRoots(): Promise<void> {
    const { extraDirs, tmpRoot, uid } = this.#options;
    const avoid = await foreignMountPoints(uid);
    const judge = async (root: string): Promise<[RootKind, string?]> => {
      if (root === tmpRoot) return ["looked"];
      const refusal = await pathRefusal(root, uid, { avoid });
      if (refusal) return ["ignored", refusal];
      const stats = await stat(root).catch(() => undefined);
      return [stats && directoryRefusal(stats, uid) === undefined ? "watched" : "looked"];
    };
    const roots = [tmpRoot, ...extraDirs.filter((root) => root !== tmpRoot)];
    const verdicts = await Promise.all(roots.map(judge));
    if (this.#stopped) return;
    roots.forEach((root, i) => {
      const [kind, reason] = verdicts[i] ?? ["ignored"];
      const before = this.#roots.get(root);
      this.#roots.set(root, kind);
      if (kind === "ignored" && before !== "ignored") this.#options.log?.(`not looking in ${root}: ${reason ?? "refused"}`);
      if (kind === "watched") this.#watchRoot(root);
      else if (before === "watched") this.#unwatch(root);
    });
  }

  /** The roots read for session directories and sockets: all but the ignored. */
  #readableRoots(): string[] {
    return [...this.#roots].filter(([, kind]) => kind !== "ignored").map(([root]) => root);
  }

  #watchRoot(root: string): void {
    this.#watch(root, (name) => {
      if (TMP_SESSION_DIR.test(name)) this.#schedule(join(root, name), "tmp-session");
      else this.#schedule(root, "extra");
    });
  }

  /** Watches ~/.ssh/agent (the named roots are watched by #judgeRoots). */
  #watchHomeAgentDirectory(): void {
    const { home } = this.#options;
    const agentDir = homeAgentDirectory(home);
    const watchAgentDir = (): void => this.#watch(agentDir, () => this.#schedule(agentDir, "home-agent"));
    // ~/.ssh/agent may not exist yet (it appears at the first OpenSSH 10.1 login): watch its
    // parent for its creation too.
    this.#watch(join(home, ".ssh"), (name) => {
      if (name !== basename(agentDir)) return;
      this.#schedule(agentDir, "home-agent");
      watchAgentDir();
    });
    watchAgentDir();
  }

  /** Watches `directory` (for `lifetimeMs` if given); a missing directory is not an error. */
  #watch(directory: string, onName: (name: string) => void, lifetimeMs?: number): void {
    if (this.#stopped || this.#watchers.has(directory)) return;
    const forget = (watcher: FSWatcher): void => {
      watcher.close();
      if (this.#watchers.get(directory) === watcher) this.#watchers.delete(directory);
    };
    try {
      const watcher = watch(directory, { persistent: false }, (_event, name) => {
        if (typeof name === "string") onName(name);
      });
      watcher.on("error", (error) => {
        if (lifetimeMs === undefined) this.#options.log?.(`stopped watching ${directory}: ${error.message}; relying on periodic rescans`);
        forget(watcher);
      });
      this.#watchers.set(directory, watcher);
      if (lifetimeMs !== undefined) {
        this.#shortWatches.add(directory);
        setTimeout(() => {
          if (this.#watchers.get(directory) === watcher) this.#shortWatches.delete(directory);
          forget(watcher);
        }, lifetimeMs).unref();
      }
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // A directory that does not exist yet is normal; anything else is worth a line.
      if (code !== "ENOENT") this.#options.log?.(`cannot watch ${directory}: ${code ?? (error as Error).message}`);
    }
  }
}

type RootKind = "watched" | "looked" | "ignored";

/** Whether a listing still stands for a root whose mtime is now `mtimeMs`. */
function settled(listing: RootListing, mtimeMs: number): boolean {
  return listing.mtimeMs === mtimeMs && mtimeMs < listing.listedAtMs - TIMING.racyListingMs;
}
