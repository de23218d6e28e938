import { TIMING } from "../../shared/core/timing.js";

/**
 * Delays between reconnection attempts. Every lost connection is retried at once; if that
 * fails, the next attempts wait 1, 2, 4, 8 s, doubling up to a cap. The doubling carries over a
 * connection that lasted less than `stableMs` (a connection that keeps dropping is not hammered),
 * and starts over after one that stayed up that long.
 *
 * @example
 * const backoff = new Backoff();
 * backoff.next(); // 0
 * backoff.next(); // 1000
 * backoff.next(); // 2000
 * backoff.connectionEnded(5_000); // a short-lived connection
 * backoff.next(); // 0: the first retry is at once
 * backoff.next(); // 4000: the doubling goes on
 */
export class Backoff {
  /** Delayed attempts since the last fresh start. */
  #level = 0;
  /** The next attempt is the first one since a connection ended (or since the start). */
  #first = true;
  constructor(
    readonly firstMs: number = TIMING.reconnectFirstDelayMs,
    readonly capMs: number = TIMING.reconnectMaxDelayMs,
    readonly stableMs: number = TIMING.stableConnectionMs,
  ) {}

  /** Delay before the next attempt. */
  next(): number {
    if (this.#first) {
      this.#first = false;
      return 0;
    }
    return Math.min(this.firstMs * 2 ** this.#level++, this.capMs);
  }

  /** Called when a connection ends, with how long it was up. */
  connectionEnded(upMs: number): void {
    this.#first = true;
    if (upMs >= this.stableMs) this.#level = 0;
  }
}
