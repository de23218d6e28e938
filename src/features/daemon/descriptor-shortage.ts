import { TIMING } from "../../shared/core/timing.js";
import { occasionalLog } from "./occasional-log.js";
import { monotonicMs } from "../../shared/core/clock.js";

/**
 * Whether the process is out of file descriptors: from a shortage until TIMING.shedMs later, or
 * until a connection ends and frees some. Meanwhile new connections are shed (each would need
 * an upstream descriptor too) and directories are not read (unreadable ones would look empty).
 *
 * @example
 * const shortage = new DescriptorShortage((message) => log.info(message));
 * shortage.report("accepting: EMFILE", connections.size);
 * shortage.now(); // -> true, for a moment
 */
export class DescriptorShortage {
  /** Until then (monotonicMs()) the process counts as short of descriptors. */
  #until = -Infinity;
  readonly #say: (message: string) => void;

  constructor(log: (message: string) => void) {
    this.#say = occasionalLog(log);
  }

  now(): boolean {
    return monotonicMs() < this.#until;
  }

  /** Ran out while doing `what`, with `open` connections open. */
  report(what: string, open: number): void {
    this.#until = monotonicMs() + TIMING.shedMs;
    this.#say(`out of file descriptors (${what}; ${open} connections open): closing new connections until some are free`);
  }

  /** A connection ended: its descriptors are free again. */
  clear(): void {
    this.#until = -Infinity;
  }
}
