/**
 * The contract between a running daemon and the commands that talk to it (start, stop, status,
 * scope, doctor): one command line in, one JSON document out, over the control socket beside
 * the agent socket (0600, so only the user and root can ask).
 */

/** What a command may ask a running daemon. */
export type ControlCommand = "status" | "rescan" | "stop" | "ready" | `scope ${string}`;

const PLAIN_COMMANDS: ReadonlySet<string> = new Set<ControlCommand>(["status", "rescan", "stop", "ready"]);
/** `scope <agent socket path>`: a login asks for its per-identity socket (docs/per-identity.md). */
const SCOPE_COMMAND = /^scope \/\S+$/;

/** A command line longer than this is not one of ours (a scope request carries a socket path, at most 107 bytes). */
export const MAX_COMMAND_BYTES = 256;
/** A reply larger than this is not one of ours either. */
export const MAX_REPLY_BYTES = 4 * 1024 * 1024;

/** The command a received line names, or undefined when it is not one. */
export function parseControlCommand(line: string): ControlCommand | undefined {
  return PLAIN_COMMANDS.has(line) || SCOPE_COMMAND.test(line) ? (line as ControlCommand) : undefined;
}

/** What the daemon answers a login asking for its scope (`ssh-anchor scope`). */
export interface ScopeAnswer {
  readonly id: string;
  readonly socket: string;
  /** Fingerprints of the anchor. */
  readonly keys: readonly string[];
  /** Things the person should know (printed on stderr at login). */
  readonly warnings: readonly string[];
}

/** Exit status of `ssh-anchor run` when a daemon already serves its socket: the starter then
 * reports the running one instead of a failure. */
export const EXIT_ALREADY_RUNNING = 3;
