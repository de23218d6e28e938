import { existsSync, lstatSync, mkdirSync, watch, type FSWatcher, type Stats } from "node:fs";
import { basename, join } from "node:path";
import { mountPointsSync } from "../../shared/core/foreign-fs.js";
import { TIMING } from "../../shared/core/timing.js";
import { monotonicMs } from "../../shared/core/clock.js";

/**
 * Keeps the name of the daemon's socket directory in /tmp the user's own when someone removes
 * the directory: the name must never become another user's, because every pane holds a path
 * inside it. Watches the directory alone: its files disappearing is the first sign of an
 * `rm -rf`, and the directory itself going (removed or renamed) is told by the same watch, at
 * the same moment as its parent's would tell it. Never the parent: that is /tmp when the
 * directory is there, and every write any user makes to a file in /tmp would wake the daemon
 * (one such writer kept it at 17% of a core). Re-creates the directory 0700 at once, then lets
 * the daemon bind its sockets again through `onLoss`.
 */
export class DirectoryGuard {
  readonly #directory: string;
  readonly #uid: number;
  readonly #names: ReadonlySet<string>;
  readonly #onLoss: () => void;
  #watcher: FSWatcher | undefined;

  constructor(options: { directory: string; uid: number; files: readonly string[]; onLoss: () => void }) {
    this.#directory = options.directory;
    this.#uid = options.uid;
    this.#names = new Set(options.files.map((file) => basename(file)));
    this.#onLoss = options.onLoss;
  }

  start(): void {
    this.stop();
    const name = basename(this.#directory);
    const watched = lstatSync(this.#directory, { throwIfNoEntry: false });
    this.#watch(this.#directory, (event, changed) => {
      // The watch names the directory itself (inotify's DELETE_SELF and MOVE_SELF) by its own
      // name, as it would a file of that name in it.
      const itself = changed === name;
      if (event !== "rename" || changed === null || (!itself && !this.#names.has(changed))) return;
      // The directory may be someone else's mount already (removed, and the name taken): asked
      // only when it is not a mount point, which the mount table (procfs) tells without asking it.
      if (mountPointsSync().has(this.#directory)) this.#reclaim();
      else if (itself ? !sameDirectory(lstatSync(this.#directory, { throwIfNoEntry: false }), watched) : !existsSync(join(this.#directory, changed))) this.#reclaim();
    });
  }

  stop(): void {
    this.#watcher?.close();
    this.#watcher = undefined;
  }

  #watch(path: string, listener: (event: string, name: string | null) => void): void {
    try {
      const watcher = watch(path, { persistent: false }, (event, name) => listener(event, typeof name === "string" ? name : null));
      // The directory itself went away: its watcher ends; start() arms a new one after recovery.
      watcher.on("error", () => watcher.close());
      this.#watcher = watcher;
    } catch {
      // Cannot watch (no inotify instances left): the daemon's periodic check still notices.
    }
  }

  /**
   * Synchronous on purpose: between the removal of the directory and our mkdir nothing else of
   * ours may run, or another user watching /tmp could take the name first.
   */
  #reclaim(): void {
    const deadline = monotonicMs() + TIMING.reclaimSpinMs;
    while (monotonicMs() < deadline) {
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

/** Whether `now` is still `watched`: the same directory, not one made at its name since. */
function sameDirectory(now: Stats | undefined, watched: Stats | undefined): boolean {
  return now !== undefined && watched !== undefined && now.isDirectory() && now.dev === watched.dev && now.ino === watched.ino;
}
