import { TIMING } from "../../shared/core/timing.js";
import { monotonicMs } from "../../shared/core/clock.js";

/**
 * A log line for a condition that repeats (out of descriptors, no agent to answer with): said
 * at most once per TIMING.repeatedLogMs, so that the log says it once and not once per connection.
 *
 * @example
 * const noAgent = occasionalLog((message) => log.info(message));
 * noAgent("answering as an agent with no keys: ..."); // logged
 * noAgent("answering as an agent with no keys: ..."); // a moment later: not logged
 */
export function occasionalLog(write: (message: string) => void): (message: string) => void {
  let last = -Infinity;
  return (message) => {
    const now = monotonicMs();
    if (now - last < TIMING.repeatedLogMs) return;
    last = now;
    write(message);
  };
}
