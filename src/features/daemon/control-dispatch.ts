import type { ControlCommand } from "../../shared/control/protocol.js";
import type { StatusReport } from "../../shared/control/status.js";

/** What the control commands act on: the running daemon. */
export interface ControlTarget {
  status(): Promise<StatusReport>;
  rescan(): Promise<void>;
  stop(): Promise<void>;
  /** `scope PATH`: a login whose own agent socket is PATH asks for its scoped socket (scopeForLogin). */
  scope(agentPath: string): Promise<unknown>;
  /** Resolves once every socket the daemon serves at start-up (the scoped ones too) is bound. */
  ready(): Promise<void>;
}

/**
 * Answers one command of the control socket (control/protocol.ts) with the JSON document its
 * client expects.
 *
 * @example
 * createControlServer((command) => dispatchControl(command, daemon));
 * // "rescan" -> the status report after the rescan; "stop" -> { stopping: true, pid }
 */
export async function dispatchControl(command: ControlCommand, target: ControlTarget): Promise<unknown> {
  switch (command) {
    case "status":
      return target.status();
    case "rescan":
      await target.rescan();
      return target.status();
    case "ready":
      await target.ready();
      return { ready: true, pid: process.pid };
    case "stop":
      // After the answer is on its way: stopping closes the control socket it goes out on.
      setImmediate(() => void target.stop());
      return { stopping: true, pid: process.pid };
    default:
      return target.scope(command.slice("scope ".length));
  }
}
