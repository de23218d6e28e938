import { watch, type FSWatcher } from "node:fs";
import { basename, dirname, join } from "node:path";
import type { Candidate, DirectoryScan, IgnoredEntry } from "./candidate.js";
import { TIMING } from "../core/timing.js";
import { lstatOrUndefined } from "../core/trust.js";
import { homeAgentDirectory, TMP_SESSION_DIR } from "./layouts.js";
import { ownSessionDirectoriesIn, scanDirectory, type DirectoryLayout, type ScanContext } from "./scan.js";

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
/** Directories read at once by a look again. */
const LOOK_AGAIN_CONCURRENCY = 8;
/** Directories waiting to be read again, at most: past that (someone filling /tmp with
 * directories), one full scan soon replaces them all (TIMING.overflowRescanFirstMs). */
const MAX_PENDING = 256;

interface KnownDirectory {
  readonly layout: DirectoryLayout;
  readonly scan: DirectoryScan;
}

/**
 * Keeps the set of candidate agent sockets current without scanning on every connection: one
 * full scan at start, then the file system's change notifications re-read only the directory
 * that changed. `rescan()` forces a full scan (SIGHUP, a periodic safety net, or when no agent
 * is left and a new login may have appeared unnoticed).
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
  readonly #watchers = new Map<string, FSWatcher>();
  readonly #rootListings = new Map<string, { readonly mtimeMs: number; readonly directories: string[] }>();
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
    this.#context = { uid: options.uid, hostHash: options.hostHash, ownSocket: options.ownSocket };
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

  /** When the last full scan finished (performance.now() time). */
  get lastFullScan(): number {
    return this.#lastFullScan;
  }

  async start(): Promise<void> {
    // Watch first, then scan: a login made between the scan's reading of a root and a watch
    // started after it would go unseen until the periodic rescan (a minute); an event during
    // the scan only costs a second look at one directory.
    this.#watchRoots();
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
      this.#lastFullScan = performance.now();
    });
    return this.#scanning;
  }

  /**
   * A connection found no usable agent: looks at once at every place a new login appears,
   * whatever change notification is still pending or not yet delivered (a new login's own
   * first command races the notification for its socket). Pending directory re-reads run now,
   * `~/.ssh/agent` and the extra directories are read again, and the temporary roots are listed
   * for `ssh-*` directories not known yet. Resolves when that look is done or after `budgetMs`,
   * whichever comes first (the look itself goes on). A caller arriving while a look is under
   * way shares the next one, which starts after it: it never gets a look older than itself.
   */
  lookAgain(budgetMs: number): Promise<void> {
    const look =
      this.#look === undefined
        ? this.#startLook()
        : (this.#nextLook ??= this.#look.then(() => {
            this.#nextLook = undefined;
            return this.#startLook();
          }));
    let timer: NodeJS.Timeout | undefined;
    const budget = new Promise<void>((resolve) => (timer = setTimeout(resolve, budgetMs)));
    return Promise.race([look, budget]).finally(() => clearTimeout(timer));
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
    const { tmpRoot, extraDirs, home } = this.#options;
    const agentDir = homeAgentDirectory(home);
    const jobs = new Map<string, DirectoryLayout>();
    for (const [directory, timer] of this.#pending) {
      clearTimeout(timer);
      this.#pending.delete(directory);
      const known = this.#directories.get(directory)?.layout;
      jobs.set(directory, known ?? (directory === agentDir ? "home-agent" : extraDirs.includes(directory) ? "extra" : "tmp-session"));
    }
    jobs.set(agentDir, "home-agent");
    for (const directory of extraDirs) jobs.set(directory, "extra");
    for (const root of [tmpRoot, ...extraDirs]) {
      for (const directory of await ownSessionDirectoriesIn(root, this.#options.uid)) {
        if (!this.#directories.has(directory) && !jobs.has(directory)) jobs.set(directory, "tmp-session");
      }
    }
    // A few at a time: /tmp may hold thousands of other users' session directories (each costs
    // one lstat and is then skipped).
    const queue = [...jobs];
    const worker = async (): Promise<void> => {
      for (let job = queue.shift(); job && !this.#stopped; job = queue.shift()) await this.#rescanDirectory(job[0], job[1]);
    };
    await Promise.all(Array.from({ length: LOOK_AGAIN_CONCURRENCY }, worker));
  }

  /** Reads again the directory holding `path` (an agent found gone). */
  recheck(path: string): void {
    const directory = dirname(path);
    const known = this.#directories.get(directory);
    if (known) this.#schedule(directory, known.layout);
  }

  async #fullScan(): Promise<void> {
    const { tmpRoot, extraDirs, home } = this.#options;
    const jobs: Array<[string, DirectoryLayout]> = [[homeAgentDirectory(home), "home-agent"]];
    for (const root of [tmpRoot, ...extraDirs]) {
      for (const directory of await this.#ownSessionDirectories(root)) jobs.push([directory, "tmp-session"]);
    }
    for (const directory of extraDirs) jobs.push([directory, "extra"]);
    const scans = await Promise.all(jobs.map(([dir, layout]) => scanDirectory(dir, layout, this.#context)));
    if (this.#stopped) return;
    this.#directories.clear();
    jobs.forEach(([directory, layout], i) => this.#remember(directory, layout, scans[i] as DirectoryScan));
    this.#publish();
  }

  /**
   * The user's session directories in `root`, read again only when `root` changed since the last
   * full scan (its mtime moves whenever an entry is added or removed): a /tmp full of other
   * users' directories is then walked once, not at every periodic rescan.
   */
  async #ownSessionDirectories(root: string): Promise<string[]> {
    const mtimeMs = (await lstatOrUndefined(root))?.mtimeMs;
    const cached = this.#rootListings.get(root);
    if (mtimeMs !== undefined && cached?.mtimeMs === mtimeMs) return cached.directories;
    const directories = await ownSessionDirectoriesIn(root, this.#options.uid);
    if (mtimeMs !== undefined) this.#rootListings.set(root, { mtimeMs, directories });
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

  #remember(directory: string, layout: DirectoryLayout, scan: DirectoryScan): void {
    if (scan.candidates.length > 0 || scan.ignored.length > 0) this.#directories.set(directory, { layout, scan });
    else this.#directories.delete(directory);
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
      const now = performance.now();
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
      void this.#rescanDirectory(directory, layout);
    }, TIMING.settleMs);
    this.#pending.set(directory, timer);
  }

  #watchRoots(): void {
    const { tmpRoot, extraDirs, home } = this.#options;
    for (const root of [tmpRoot, ...extraDirs]) {
      this.#watch(root, (name) => {
        if (TMP_SESSION_DIR.test(name)) this.#schedule(join(root, name), "tmp-session");
        else if (extraDirs.includes(root)) this.#schedule(root, "extra");
      });
    }
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
      if (lifetimeMs !== undefined) setTimeout(() => forget(watcher), lifetimeMs).unref();
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // A directory that does not exist yet is normal; anything else is worth a line.
      if (code !== "ENOENT") this.#options.log?.(`cannot watch ${directory}: ${code ?? (error as Error).message}`);
    }
  }
}
