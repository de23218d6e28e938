import { TIMING } from "../../shared/core/timing.js";
import { monotonicMs } from "../../shared/core/clock.js";

/**
 * Hands memory back to the system after bursts of traffic. V8 collects its old generation
 * lazily and keeps its young generation at the size a burst grew it to, so a daemon that served
 * a burst would keep those pages for a long time. It collects (a few milliseconds for this
 * daemon's heap) when traffic has stopped since the last look: the burst is over and its garbage
 * can go (once per burst; no full collection while idle). Start-up counts as one: its garbage
 * (the first scan, the modules' set-up) and the young generation it grew go at the first look,
 * measured 11.6 -> 9.9 MiB RssAnon idle.
 *
 * Never while traffic goes on. A full collection lets go of the object shapes no live connection
 * has at that moment, and with them the optimised code of Node's sockets and streams that was
 * specialised on them: measured, the next 1,000 to 1,500 new connections cost 1.5 to 2.5 times
 * their CPU while that code is optimised again. Under sustained load V8's own collections bound
 * the heap as low (a peak of 22 MiB RssAnon at most over 80,000 connections in 20 s, with or without a
 * collection of the keeper's every 4 MiB of growth; docs/benchmarks.md, tenth pass).
 *
 * While idle, the young generation alone every TIMING.idleScavengeMs (well under a millisecond).
 * The daemon's periodic looks (its socket files, a rescan a minute) make a few KiB of garbage
 * each, and the pages they touch in the young generation stay resident until it is collected:
 * left to V8, that was every 40 to 60 s, and the idle daemon's RssAnon climbed by up to 1.1 MiB
 * in between. A young-only collection lets go of no code and no object shape.
 *
 * @example
 * const keeper = new MemoryKeeper(() => counters.requests);
 * keeper.start();
 */
export class MemoryKeeper {
  /** V8's gc(); undefined until found (see collectorOfItsOwnContext): the keeper does not look before. */
  #collect: Collector | undefined;
  readonly #activity: () => number;
  readonly #onCollect: ((before: number, after: number, ms: number) => void) | undefined;
  #lastActivity: number;
  /** Start-up counts as a burst (the first scan, the modules loaded): the first look collects. */
  #trafficSinceQuiet = true;
  #lastCollectionAt = monotonicMs();
  readonly #checkMs: number;
  readonly #idleScavengeMs: number;
  #timer: NodeJS.Timeout | undefined;

  /**
   * @param activity a number that changes whenever the daemon serves something (a counter)
   * @param onCollect told the resident size before and after each collection, in bytes, and
   *   how long it took
   * @param checkMs how often to look (tests look more often)
   * @param idleScavengeMs how often the young generation is collected while idle
   */
  constructor(
    activity: () => number,
    onCollect?: (before: number, after: number, ms: number) => void,
    checkMs: number = TIMING.memoryCheckMs,
    idleScavengeMs: number = TIMING.idleScavengeMs,
  ) {
    const exposed = (globalThis as { gc?: unknown }).gc;
    if (typeof exposed === "function") this.#collect = exposed as Collector;
    // Not found (it cannot fail in any Node this runs on): the keeper never looks, V8 decides alone.
    else void collectorOfItsOwnContext().then((collect) => (this.#collect = collect), () => undefined);
    this.#activity = activity;
    this.#onCollect = onCollect;
    this.#lastActivity = activity();
    this.#checkMs = checkMs;
    this.#idleScavengeMs = idleScavengeMs;
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
    if (this.#collect === undefined) return;
    const activity = this.#activity();
    const busy = activity !== this.#lastActivity;
    this.#lastActivity = activity;
    if (busy) this.#trafficSinceQuiet = true;
    else if (this.#trafficSinceQuiet) {
      this.#trafficSinceQuiet = false;
      this.#collectNow();
    } else if (monotonicMs() - this.#lastCollectionAt >= this.#idleScavengeMs - this.#checkMs / 2) {
      // (Half a look of slack: the last collection's time is taken as it ends, a little late.)
      this.#lastCollectionAt = monotonicMs();
      this.#collect(true);
    }
  }

  #collectNow(): void {
    const before = residentBytes();
    const started = monotonicMs();
    // Young generation first, then everything: measured, a full collection alone after a busy
    // burst can leave the young generation at its grown size (2 MiB more resident).
    this.#collect?.(true);
    this.#collect?.();
    const ms = monotonicMs() - started;
    this.#lastCollectionAt = monotonicMs();
    this.#onCollect?.(before, residentBytes(), ms);
  }
}

type Collector = (youngOnly?: boolean) => void;

/**
 * V8's gc() where the daemon is run without --expose-gc (DAEMON_NODE_FLAGS puts it on the global
 * at start): `node dist/daemon.js run` by hand, the single executable. Set after start, the flag
 * gives gc() only to a context made later, and the function keeps that whole context alive (a
 * global object and every built-in of its own: 160 KiB of idle memory, which is why the daemon
 * has the flag). node:v8 and node:vm are loaded only here: 200 KiB more otherwise.
 */
async function collectorOfItsOwnContext(): Promise<Collector> {
  const [{ setFlagsFromString }, { runInNewContext }] = await Promise.all([import("node:v8"), import("node:vm")]);
  setFlagsFromString("--expose-gc");
  return runInNewContext("gc") as Collector;
}

/** The resident set size, or NaN when it cannot be read now (out of descriptors). */
function residentBytes(): number {
  try {
    return process.memoryUsage.rss();
  } catch {
    return Number.NaN;
  }
}
