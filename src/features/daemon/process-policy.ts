import { UserError } from "../../shared/core/errors.js";
import { Log } from "../../shared/core/log.js";
import { Daemon, type DaemonOptions } from "./daemon.js";
import { nameProcess } from "./process-title.js";
import { keepServingThroughBugs } from "./uncaught-policy.js";

/**
 * Runs the daemon as the whole of this process (`ssh-anchor run`): the process is named
 * ssh-anchor, SIGTERM and SIGINT stop the daemon (its socket removed), SIGHUP rescans the
 * agents, and an uncaught exception is survived (see keepServingThroughBugs). Resolves with the
 * process's exit status once the daemon has stopped.
 *
 * @throws {UserError} when the daemon cannot start (exitCode 3: another daemon serves the socket).
 * @example
 * process.exitCode = await runDaemonProcess({ socket: "/home/me/.ssh/anchor-devbox/agent.sock" });
 */
export async function runDaemonProcess(options: DaemonOptions): Promise<number> {
  nameProcess(process.argv.slice(2));
  // Signals are handled from the first moment: a SIGTERM while starting stops the daemon as soon
  // as it can clean up after itself, instead of killing it half-started.
  let daemon: Daemon | undefined;
  let stopRequested = false;
  const stop = (): void => {
    if (daemon) void daemon.stop();
    else stopRequested = true;
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  // The socket answers while the first scan runs: a SIGHUP then is kept for when it is done.
  let rescanRequested = false;
  const rescan = (): void => {
    if (!daemon) {
      rescanRequested = true;
      return;
    }
    daemon.log.info("SIGHUP: rescanning agents");
    void daemon.rescan();
  };
  process.on("SIGHUP", rescan);
  try {
    daemon = await Daemon.start(options);
  } catch (error) {
    // Under `start` nobody reads stderr: leave the reason where `start` will look for it.
    if (options.logFile && error instanceof UserError) new Log({ file: options.logFile }).info(error.message);
    throw error;
  }
  const { log } = daemon;
  keepServingThroughBugs((message) => log.info(message), stop);
  if (stopRequested) stop();
  else if (rescanRequested) rescan();
  await daemon.done;
  return typeof process.exitCode === "number" ? process.exitCode : 0;
}
