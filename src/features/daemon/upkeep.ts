import { TIMING } from "../../shared/core/timing.js";
import type { MemoryKeeper } from "./memory-keeper.js";

export interface UpkeepOptions {
  /** Reads every agent directory again. */
  readonly rescan: () => Promise<void>;
  /** Out of descriptors now: directories that cannot be read would look empty, so no rescan. */
  readonly shortOfDescriptors: () => boolean;
  /** Takes the socket files back when they were removed, in every mode (under socket
   * activation the stable socket is systemd's, but the scoped sockets are the daemon's). */
  readonly checkSockets: () => Promise<void>;
  readonly memory: MemoryKeeper;
}

/**
 * The daemon's periodic upkeep: a full rescan every TIMING.rescanMs (a safety net for missed
 * change notifications), a look at its socket files every TIMING.socketCheckMs, and the memory
 * keeper. None of it keeps the process alive: the listening socket does.
 *
 * @example
 * const upkeep = new Upkeep({ rescan, shortOfDescriptors, checkSockets, memory });
 * upkeep.start();
 * upkeep.stop(); // the daemon is stopping
 */
export class Upkeep {
  readonly #options: UpkeepOptions;
  #timers: NodeJS.Timeout[] = [];

  constructor(options: UpkeepOptions) {
    this.#options = options;
  }

  start(): void {
    const { rescan, shortOfDescriptors, checkSockets, memory } = this.#options;
    this.#timers = [
      setInterval(() => {
        if (!shortOfDescriptors()) void rescan().catch(() => undefined);
      }, TIMING.rescanMs),
      setInterval(() => void checkSockets().catch(() => undefined), TIMING.socketCheckMs),
    ];
    for (const timer of this.#timers) timer.unref();
    memory.start();
  }

  stop(): void {
    for (const timer of this.#timers) clearInterval(timer);
    this.#timers = [];
    this.#options.memory.stop();
  }
}
