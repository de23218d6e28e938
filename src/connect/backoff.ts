/**
 * Delays between reconnection attempts: the first retry at once, then doubling from one second
 * up to a cap. A connection that stayed up for `stableMs` earns a fresh start.
 *
 * @example
 * const backoff = new Backoff();
 * backoff.next(); // 0
 * backoff.next(); // 1000
 * backoff.next(); // 2000
 */
export class Backoff {
  #attempt = 0;
  constructor(
    readonly firstMs = 1000,
    readonly capMs = 15_000,
    readonly stableMs = 30_000,
  ) {}

  /** Delay before the next attempt. */
  next(): number {
    const attempt = this.#attempt++;
    return attempt === 0 ? 0 : Math.min(this.firstMs * 2 ** (attempt - 1), this.capMs);
  }

  /** Called when a connection ends, with how long it was up. */
  connectionEnded(upMs: number): void {
    if (upMs >= this.stableMs) this.#attempt = 0;
  }

  /** Attempts since the last fresh start. */
  get attempts(): number {
    return this.#attempt;
  }
}
