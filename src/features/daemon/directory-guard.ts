import { existsSync, lstatSync, mkdirSync, watch, type FSWatcher } from "node:fs";
import { basename, dirname, join } from "node:path";
import { mountPointsSync } from "../../shared/core/foreign-fs.js";
import { TIMING } from "../../shared/core/timing.js";

/**
 * Keeps the name of the daemon's socket directory in /tmp the user's own when someone removes
 * the directory: the name must never become another user's, because every pane holds a path
 * inside it. Watches the directory (its files disappearing is the first sign of an `rm -rf`)
 * and its parent (the directory itself going), re-creates the directory 0700 at once, then lets
 * the daemon bind its sockets again through `onLoss`.
 */
export class DirectoryGuard {
  readonly #directory: string;
  readonly #uid: number;
  readonly #names: ReadonlySet<string>;
  readonly #onLoss: () => void;
  #watchers: FSWatcher[] = [];

  constructor(options: { directory: string; uid: number; files: readonly string[]; onLoss: () => void }) {
    this.#directory = options.directory;
    this.#uid = options.uid;
    this.#names = new Set(options.files.map((file) => basename(file)));
    this.#onLoss = options.onLoss;
  }

  start(): void {
    this.stop();
    const name = basename(this.#directory);
    this.#watch(this.#directory, (event, changed) => {
      // The directory may be someone else's mount already (removed, and the name taken): asked
      // only when it is not a mount point, which the mount table (procfs) tells without asking it.
      if (event !== "rename" || changed === null || !this.#names.has(changed)) return;
      if (mountPointsSync().has(this.#directory) || !existsSync(join(this.#directory, changed))) this.#reclaim();
    });
    this.#watch(dirname(this.#directory), (_event, changed) => {
      if (changed === name) this.#reclaim();
    });
  }

  stop(): void {
    for (const watcher of this.#watchers) watcher.close();
    this.#watchers = [];
  }

  #watch(path: string, listener: (event: string, name: string | null) => void): void {
    try {
      const watcher = watch(path, { persistent: false }, (event, name) => listener(event, typeof name === "string" ? name : null));
      // The directory itself went away: its watcher ends; start() arms a new one after recovery.
      watcher.on("error", () => watcher.close());
      this.#watchers.push(watcher);
    } catch {
      // Cannot watch (no inotify instances left): the daemon's periodic check still notices.
    }
  }

  /**
   * Synchronous on purpose: between the removal of the directory and our mkdir nothing else of
   * ours may run, or another user watching /tmp could take the name first.
   */
  #reclaim(): void {
    const deadline = performance.now() + TIMING.reclaimSpinMs;
    while (performance.now() < deadline) {
      try {
        mkdirSync(this.#directory, { mode: 0o700 });
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") break;
      }
      // Still there: ours, and being emptied (keep trying), or someone else's already (give up:
      // the daemon moves to the fallback directory). A mount point is someone else's, and is
      // not asked: their file system may never answer.
      if (mountPointsSync().has(this.#directory)) break;
      const stats = lstatSync(this.#directory, { throwIfNoEntry: false });
      if (stats && (stats.isSymbolicLink() || !stats.isDirectory() || stats.uid !== this.#uid)) break;
    }
    this.#onLoss();
  }
}
