import { askDaemon } from "../daemon/control.js";
import { startInBackground } from "../daemon/lifecycle.js";
import { daemonPaths } from "../core/location.js";
import { UserError } from "../errors.js";
import { endpointState } from "../core/trust.js";
import type { ScopeAnswer } from "./request.js";
import { dirname } from "node:path";

/** A scope request probes the login's agent and maybe others (2 s each at most, in parallel). */
const SCOPE_REQUEST_TIMEOUT_MS = 8000;

export interface ScopeOptions {
  readonly socket?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly uid?: number;
}

/**
 * The scoped socket for this login: SSH_AUTH_SOCK must be the login's own forwarded socket;
 * the daemon is started when it does not run, and decides the scope from that agent's keys.
 * @throws {UserError} when this login cannot be scoped (one line, the reason and what to do).
 */
export async function requestScope(options: ScopeOptions = {}): Promise<ScopeAnswer> {
  const env = options.env ?? process.env;
  const uid = options.uid ?? process.getuid?.() ?? 0;
  const paths = daemonPaths(options.socket, { uid, env });
  const own = env.SSH_AUTH_SOCK;
  if (!own) throw new UserError("SSH_AUTH_SOCK is not set: log in with agent forwarding (ssh -A) to get a per-identity socket");
  if (dirname(own) === paths.directory) {
    throw new UserError(
      `SSH_AUTH_SOCK is already ssh-anchor's ${own}, not a login's own agent: a scope is decided at login, from the forwarded socket sshd makes`,
    );
  }
  if (!own.startsWith("/")) throw new UserError(`SSH_AUTH_SOCK is not an absolute path: ${own}`);
  // The flag as given, not the path: lifecycle makes the same choice of directory (and creates
  // ~/.ssh for the default one).
  const started = await startInBackground({ socket: options.socket, uid });
  if (started.paths.control !== paths.control) {
    throw new UserError(`the daemon serves ${started.paths.socket}, not ${paths.socket}`);
  }
  // Only a control socket that is provably the user's own is told which agent this login has.
  const state = await endpointState(paths.control, uid);
  if (state !== "ours") throw new UserError(`no per-identity socket for this login: ${paths.control} is not the daemon's (${state})`);
  try {
    return await askDaemon<ScopeAnswer>(paths.control, `scope ${own}`, SCOPE_REQUEST_TIMEOUT_MS);
  } catch (error) {
    throw new UserError(`no per-identity socket for this login: ${(error as Error).message}`);
  }
}
