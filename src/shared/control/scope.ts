import { askDaemon } from "./client.js";
import { startInBackground } from "./lifecycle.js";
import { daemonPaths, type DaemonPaths } from "../core/location.js";
import { UserError } from "../core/errors.js";
import { currentUid, endpointState } from "../core/trust.js";
import { printable } from "../core/text.js";
import { MAX_LISTED, SCOPE_ID } from "../scope/rule.js";
import { scopedSocketPath } from "../scope/socket-path.js";
import type { ScopeAnswer } from "./protocol.js";
import { TIMING } from "../core/timing.js";
import { dirname } from "node:path";

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
  const uid = options.uid ?? currentUid();
  const paths = daemonPaths(options.socket, { uid, env });
  const own = env.SSH_AUTH_SOCK;
  if (!own) throw new UserError("SSH_AUTH_SOCK is not set: log in with agent forwarding (ssh -A) to get a per-identity socket");
  if (dirname(own) === paths.directory) {
    throw new UserError(
      `SSH_AUTH_SOCK is already ssh-anchor's ${own}, not a login's own agent: a scope is decided at login, from the forwarded socket sshd makes`,
    );
  }
  if (!own.startsWith("/")) throw new UserError(`SSH_AUTH_SOCK is not an absolute path: ${own}`);
  let answer: unknown;
  for (let attempt = 1; ; attempt += 1) {
    try {
      answer = await askForScope(options.socket, paths, uid, own);
      break;
    } catch (error) {
      // The daemon exited as the request arrived (a socket-activated daemon's idle exit): its
      // control socket is gone. Once more: the start finds systemd's socket and waits for the next.
      if (attempt === 1 && !(error instanceof UserError) && (await endpointState(paths.control, uid)) === "missing") continue;
      throw error instanceof UserError ? error : new UserError(`no per-identity socket for this login: ${(error as Error).message}`);
    }
  }
  // What is exported must be provably the scoped socket of the user's own daemon.
  const scope = wellFormed(answer);
  if (!scope || scope.socket !== scopedSocketPath(paths.directory, scope.id) || (await endpointState(scope.socket, uid)) !== "ours") {
    throw new UserError(`no per-identity socket for this login: the daemon's answer is not a scoped socket of yours`);
  }
  return scope;
}

/** Starts the daemon when it does not run (or waits for a socket-activated one) and asks it. */
async function askForScope(socket: string | undefined, paths: DaemonPaths, uid: number, own: string): Promise<unknown> {
  // The flag as given, not the path: lifecycle makes the same choice of directory (and creates
  // ~/.ssh for the default one).
  const started = await startInBackground({ socket, uid });
  if (started.paths.control !== paths.control) {
    throw new UserError(`the daemon serves ${started.paths.socket}, not ${paths.socket}`);
  }
  // Only a control socket that is provably the user's own is told which agent this login has.
  const state = await endpointState(paths.control, uid);
  if (state !== "ours") throw new UserError(`no per-identity socket for this login: ${paths.control} is not the daemon's (${state})`);
  return askDaemon<unknown>(paths.control, `scope ${own}`, TIMING.scopeRequestMs);
}

function wellFormed(value: unknown): ScopeAnswer | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const { id, socket, keys, warnings } = value as Record<string, unknown>;
  const strings = (list: unknown): list is string[] => Array.isArray(list) && list.length <= MAX_LISTED && list.every((item) => typeof item === "string");
  if (typeof id !== "string" || !SCOPE_ID.test(id) || typeof socket !== "string" || !strings(keys) || !strings(warnings)) return undefined;
  return { id, socket, keys, warnings: warnings.map((warning) => printable(warning)) };
}
