import { getHeapStatistics, setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { TIMING } from "../../shared/core/timing.js";
import { LIMITS } from "./policy.js";

/**
 * Hands memory back to the system after bursts of traffic. V8 collects its old generation
 * lazily and keeps its young generation at the size a burst grew it to, so a daemon that served
 * a burst would keep those pages for a long time. Two moments are worth a full collection (a
 * few milliseconds for this daemon's heap):
 *
 * - traffic has stopped since the last look: the burst is over and its garbage can go (once
 *   per burst, never while idle). Start-up counts as one: its garbage (the first scan, the
 *   modules' set-up) and the young generation it grew go at the first look, measured 11.6 ->
 *   9.9 MiB RssAnon idle, for one collection of a few ms;
 * - the heap has grown by a few MiB since the last collection while traffic goes on: growth
 *   stays bounded under sustained load.
 *
 * @example
 * const keeper = new MemoryKeeper(() => counters.requests);
 * keeper.start();
 */
export class MemoryKeeper {
  readonly #collect: (youngOnly?: boolean) => void;
  readonly #activity: () => number;
  readonly #onCollect: ((before: number, after: number, ms: number) => void) | undefined;
  #heapAfterCollection = heapTotal();
  #lastActivity: number;
  /** Start-up counts as a burst (the first scan, the modules loaded): the first look collects. */
  #trafficSinceQuiet = true;
  readonly #checkMs: number;
  #timer: NodeJS.Timeout | undefined;

  /**
   * @param activity a number that changes whenever the daemon serves something (a counter)
   * @param onCollect told the resident size before and after each collection, in bytes, and
   *   how long it took
   * @param checkMs how often to look (tests look more often)
   */
  constructor(activity: () => number, onCollect?: (before: number, after: number, ms: number) => void, checkMs: number = TIMING.memoryCheckMs) {
    // gc() is not exposed by default; this makes it callable without a command-line flag.
    setFlagsFromString("--expose-gc");
    this.#collect = runInNewContext("gc") as (youngOnly?: boolean) => void;
    this.#activity = activity;
    this.#onCollect = onCollect;
    this.#lastActivity = activity();
    this.#checkMs = checkMs;
  }

  start(): void {
    this.#timer ??= setInterval(() => this.#check(), this.#checkMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** A timer callback: nothing in it may throw (out of descriptors, reading /proc fails). */
  #check(): void {
    try {
      this.#checkUnsafe();
    } catch {
      // The next look tries again; a missed collection costs memory for one period only.
    }
  }

  #checkUnsafe(): void {
    const activity = this.#activity();
    const busy = activity !== this.#lastActivity;
    this.#lastActivity = activity;
    if (busy) {
      // A collection in mid-burst does not replace the one after it: the burst goes on allocating.
      this.#trafficSinceQuiet = true;
      if (heapTotal() - this.#heapAfterCollection >= LIMITS.heapGrowthBytes) this.#collectNow();
    } else if (this.#trafficSinceQuiet) {
      this.#trafficSinceQuiet = false;
      this.#collectNow();
    }
  }

  #collectNow(): void {
    const before = residentBytes();
    const started = performance.now();
    // Young generation first, then everything: measured, a full collection alone after a busy
    // burst can leave the young generation at its grown size (2 MiB more resident).
    this.#collect(true);
    this.#collect();
    const ms = performance.now() - started;
    this.#heapAfterCollection = heapTotal();
    this.#onCollect?.(before, residentBytes(), ms);
  }
}

/** V8's heap size, read without any file descriptor (process.memoryUsage() opens /proc/self/stat
 * and throws EMFILE when the process is out of descriptors). */
function heapTotal(): number {
  return getHeapStatistics().total_heap_size;
}

/** The resident set size, or NaN when it cannot be read now (out of descriptors). */
function residentBytes(): number {
  try {
    return process.memoryUsage.rss();
  } catch {
    return Number.NaN;
  }
}
