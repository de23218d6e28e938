import { writeFileSync } from "node:fs";

/**
 * Names the process after what it is: ps shows "ssh-anchor run --socket ..." (so that two
 * daemons can be told apart), and /proc/PID/comm, where the shell integration checks that the
 * pid in the pid file is still the daemon's, says "ssh-anchor".
 *
 * @example
 * nameProcess(process.argv.slice(2)); // ps: "ssh-anchor run --socket /tmp/x/agent.sock"
 */
export function nameProcess(args: readonly string[]): void {
  process.title = ["ssh-anchor", ...args].join(" ");
  // Setting the title also sets comm, to its first 15 bytes ("ssh-anchor run "): comm is set
  // again on its own.
  try {
    writeFileSync("/proc/self/comm", "ssh-anchor");
  } catch {
    // Not Linux: the title is all there is.
  }
}
