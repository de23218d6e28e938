import { TIMING } from "../../shared/core/timing.js";
import type { Terminal } from "./terminal.js";
import { monotonicMs } from "../../shared/core/clock.js";

/** How a wait before the next attempt ended. */
export type WaitOutcome = "retry" | "quit";

export interface CountdownOptions {
  readonly terminal: Terminal;
  readonly delayMs: number;
  /** The attempt it leads to, named the way the log names it ("attempt N: ssh host"). */
  readonly attempt: number;
  /** Starts whatever else may end the wait early (a network change, the host answering), each
   * calling `retryNow` with why; returns the function that stops them. */
  readonly earlyRetry: (retryNow: (why: string) => void) => () => void;
  /** Where the reason for an early retry is recorded. */
  readonly note: (message: string) => void;
}

/**
 * Waits `delayMs` before the next attempt, showing a countdown on one status line. Ends early
 * on Enter or on any of `earlyRetry`'s triggers; Ctrl-C quits.
 *
 * @example
 * const outcome = await countdown({ terminal, delayMs: 4000, attempt: 3, earlyRetry: () => () => {}, note: console.log });
 * if (outcome === "quit") process.exit(130);
 */
export function countdown(options: CountdownOptions): Promise<WaitOutcome> {
  const { terminal, delayMs, attempt } = options;
  return new Promise((resolve) => {
    const deadline = monotonicMs() + delayMs;
    let refresh: NodeJS.Timeout | undefined;
    let stopTriggers: (() => void) | undefined;
    let finished = false;
    const finish = (outcome: WaitOutcome, why?: string): void => {
      // A late probe or key must not touch the terminal once ssh owns it again.
      if (finished) return;
      finished = true;
      clearInterval(refresh);
      stopTriggers?.();
      stopKeys();
      terminal.clearStatus();
      if (why) options.note(`retrying now: ${why}`);
      resolve(outcome);
    };
    const show = (): void => {
      const seconds = Math.ceil((deadline - monotonicMs()) / 1000);
      if (seconds <= 0) return finish("retry");
      terminal.status(`ssh-anchor: connection lost; reconnecting in ${seconds} s, attempt ${attempt}; Enter: retry now, Ctrl-C: quit`);
    };
    const stopKeys = terminal.readKeys(
      () => finish("retry", "Enter pressed"),
      () => finish("quit"),
    );
    if (delayMs <= 0) return finish("retry");
    show();
    refresh = setInterval(show, TIMING.countdownRefreshMs);
    stopTriggers = options.earlyRetry((why) => finish("retry", why));
  });
}
