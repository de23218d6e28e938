import { TIMING } from "../../shared/core/timing.js";
import { LIMITS } from "./policy.js";
import { monotonicMs } from "../../shared/core/clock.js";

/** The exit status after too many internal errors (EX_SOFTWARE of sysexits.h). */
const EXIT_INTERNAL_ERROR = 70;

/**
 * What an uncaught exception does to a running daemon. It is a bug, but stopping would break
 * every pane's agent: it is logged and the daemon keeps serving, unless they keep coming
 * (LIMITS.uncaughtPerMinute within TIMING.uncaughtWindowMs): then the state is broken, and a
 * clean stop (exit status 70) is better.
 *
 * @example
 * keepServingThroughBugs((message) => daemon.log.info(message), () => void daemon.stop());
 */
export function keepServingThroughBugs(log: (message: string) => void, stop: () => void): void {
  const recent: number[] = [];
  process.on("uncaughtException", (error) => {
    const now = monotonicMs();
    recent.push(now);
    while ((recent[0] as number) < now - TIMING.uncaughtWindowMs) recent.shift();
    if (recent.length > LIMITS.uncaughtPerMinute) {
      log(`internal error, ${recent.length} in a minute, stopping: ${error.stack ?? error.message}`);
      process.exitCode = EXIT_INTERNAL_ERROR;
      stop();
      return;
    }
    log(`internal error (a bug; still serving): ${error.stack ?? error.message}`);
  });
}
