import { readFileSync, type Dirent, type Stats } from "node:fs";
import { lstat, readdir, readFile } from "node:fs/promises";
import { TIMING } from "./timing.js";

/**
 * File-system calls on paths another user can create: an entry of /tmp, or anything below a
 * name there that was ours a moment ago (a login ends, its directory goes, and someone else may
 * make the same name again). Such a path can be a mount point of another user's FUSE file
 * system (`user_allow_other`) that never answers. A process that asks it is stuck in the kernel
 * until the file system answers: no signal, not even SIGKILL, frees the thread (the request has
 * reached the file system). On the event loop that is the whole daemon; in Node's thread pool
 * (4 threads unless UV_THREADPOOL_SIZE says otherwise) each such call holds a thread, and with
 * every thread held every other file-system call waits too.
 *
 * So: never synchronously, never a mount point (the mount table names them, read from procfs,
 * which no user controls), never more than FOREIGN_CALLS_IN_FLIGHT at once counting the ones
 * that did not come back, each answered within TIMING.foreignCallMs or given up ("unanswered"),
 * and a path that did not answer is not asked again while its call is still out.
 */

/** What a bounded call gives back when the path did not answer in time or was not asked. */
export const UNANSWERED = Symbol("unanswered");
export type Unanswered = typeof UNANSWERED;

/** libuv's thread pool: its size is fixed by UV_THREADPOOL_SIZE when the pool starts (default 4). */
function threadPoolSize(): number {
  const size = Number(process.env.UV_THREADPOOL_SIZE);
  return Number.isInteger(size) && size > 0 ? Math.min(size, 1024) : 4;
}

/**
 * Calls on foreign paths in flight at once, the ones that never came back included: at most
 * two, and always at least two threads of the pool left for everything else (the proxy's own
 * files, the scope registry, the log). With a pool of one or two threads, one.
 */
export const FOREIGN_CALLS_IN_FLIGHT = Math.max(1, Math.min(2, threadPoolSize() - 2));

interface Waiter {
  readonly start: () => void;
  readonly timer: NodeJS.Timeout;
}

/**
 * The gate every call on a foreign path goes through. `hanging()` lists the paths whose call did
 * not come back (bounded by the gate itself: each holds one of its few places).
 *
 * @example
 * const stats = await foreignFs.lstat("/tmp/ssh-XXXX");
 * if (stats === UNANSWERED) skip(); // a file system that does not answer: not asked again meanwhile
 */
export class ForeignFs {
  readonly #limit: number;
  readonly #timeoutMs: number;
  #inFlight = 0;
  readonly #waiting: Waiter[] = [];
  /** Paths whose call is out past its time: not asked again until it comes back. */
  readonly #hanging = new Set<string>();

  constructor(limit = FOREIGN_CALLS_IN_FLIGHT, timeoutMs: number = TIMING.foreignCallMs) {
    this.#limit = limit;
    this.#timeoutMs = timeoutMs;
  }

  /** Paths whose call has not come back (a hanging file system), oldest first. */
  hanging(): readonly string[] {
    return [...this.#hanging];
  }

  /** lstat, or undefined when nothing is there (or it cannot be read), or UNANSWERED. */
  lstat(path: string): Promise<Stats | undefined | Unanswered> {
    return this.#call(path, () => lstat(path));
  }

  /** The entries of a directory with their types, or [] when it cannot be read, or UNANSWERED. */
  readdir(path: string): Promise<Dirent[] | Unanswered> {
    return this.#call(path, () => readdir(path, { withFileTypes: true })).then((entries) => entries ?? []);
  }

  #call<T>(path: string, call: () => Promise<T>): Promise<T | undefined | Unanswered> {
    if (this.#hanging.has(path)) return Promise.resolve(UNANSWERED);
    return new Promise((resolve) => {
      let settled = false;
      const settle = (value: T | undefined | Unanswered): void => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        resolve(value);
      };
      // The bound covers the wait for a place too: a caller never waits longer than this.
      const deadline = setTimeout(() => {
        const queued = this.#waiting.findIndex((waiter) => waiter.timer === deadline);
        if (queued >= 0) this.#waiting.splice(queued, 1);
        else this.#hanging.add(path);
        settle(UNANSWERED);
      }, this.#timeoutMs);
      deadline.unref();
      const start = (): void => {
        this.#inFlight += 1;
        call().then(
          (value) => settle(value),
          () => settle(undefined),
        ).finally(() => {
          // Only now is the thread free again: a call given up still held it until here.
          this.#inFlight -= 1;
          this.#hanging.delete(path);
          this.#waiting.shift()?.start();
        });
      };
      if (this.#inFlight < this.#limit) start();
      else this.#waiting.push({ start, timer: deadline });
    });
  }
}

/** The one gate of this process: the bound is on the process's thread pool. */
export const foreignFs = new ForeignFs();

/** Undoes the octal escapes of /proc/self/mountinfo (a space is "\040"). */
function unescapeMountPath(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
}

/** One line of /proc/self/mountinfo: where, what file system, and its super options. */
interface Mount {
  readonly point: string;
  readonly type: string;
  readonly options: string;
}

function mountsOf(text: string): Mount[] {
  const mounts: Mount[] = [];
  for (const line of text.split("\n")) {
    // The mount's fields, " - ", then the file system's: type, source, super options.
    const [mount = "", filesystem = ""] = line.split(" - ");
    const point = mount.split(" ")[4];
    if (!point) continue;
    const [type = "", , options = ""] = filesystem.split(" ");
    mounts.push({ point: unescapeMountPath(point), type, options });
  }
  return mounts;
}

function mountPointsOf(text: string): Set<string> {
  return new Set(mountsOf(text).map((mount) => mount.point));
}

function readMountInfo(): Promise<string> {
  return readFile("/proc/self/mountinfo", "utf8").catch(() => "");
}

/**
 * The mount points of FUSE file systems mounted by another user (neither `uid` nor root: their
 * `user_id` option), which may never answer: paths the trust walk never asks (Linux; elsewhere
 * an empty set).
 */
export async function foreignMountPoints(uid: number): Promise<ReadonlySet<string>> {
  const foreign = mountsOf(await readMountInfo()).filter((mount) => {
    const owner = /(?:^|,)user_id=(\d+)(?:,|$)/.exec(mount.options)?.[1];
    return mount.type.startsWith("fuse") && owner !== undefined && Number(owner) !== uid && Number(owner) !== 0;
  });
  return new Set(foreign.map((mount) => mount.point));
}

/**
 * Every mount point of this process's mount namespace (Linux; elsewhere an empty set). A path
 * that is one is never asked: an sshd session directory is never a mount point, and another
 * user's file system there may never answer.
 */
export async function mountPoints(): Promise<ReadonlySet<string>> {
  return mountPointsOf(await readMountInfo());
}

/** The same, read synchronously: for the few synchronous callers (the socket's location). A
 * procfs read: it cannot block on anyone's file system. */
export function mountPointsSync(): ReadonlySet<string> {
  try {
    return mountPointsOf(readFileSync("/proc/self/mountinfo", "utf8"));
  } catch {
    return new Set();
  }
}
