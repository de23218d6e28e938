import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

/** How often the heap is looked at. */
const CHECK_MS = 5000;
/** Growth of the JavaScript heap since the last collection that is worth handing back. */
const SLACK_BYTES = 4 * 1024 * 1024;

/**
 * Hands memory back to the system after bursts of traffic. V8 collects its old generation
 * lazily, so a daemon that served a burst keeps the pages it grew to for a long time; a full
 * collection when the heap has grown by a few MiB (a few milliseconds, at most every 5 s, only
 * after real traffic) brings the resident size back near the idle figure.
 */
export class MemoryKeeper {
  readonly #collect: () => void;
  #baseline = process.memoryUsage().heapTotal;
  #timer: NodeJS.Timeout | undefined;

  /** @param onCollect told the resident size before and after each collection, in bytes. */
  constructor(private readonly onCollect?: (before: number, after: number) => void) {
    // gc() is not exposed by default; this makes it callable without a command-line flag.
    setFlagsFromString("--expose-gc");
    this.#collect = runInNewContext("gc") as () => void;
  }

  start(): void {
    this.#timer ??= setInterval(() => this.#check(), CHECK_MS);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #check(): void {
    if (process.memoryUsage().heapTotal - this.#baseline < SLACK_BYTES) return;
    const before = process.memoryUsage.rss();
    this.#collect();
    this.#baseline = process.memoryUsage().heapTotal;
    this.onCollect?.(before, process.memoryUsage.rss());
  }
}
