import { dirname } from "node:path";
import { requestScope } from "../../shared/control/scope.js";
import { UserError } from "../../shared/core/errors.js";
import { daemonPaths } from "../../shared/core/location.js";
import { screenTargetPattern, SESSION_NAME, tmuxSessionName } from "../../shared/core/session-name.js";
import { printable } from "../../shared/core/text.js";
import { currentUid } from "../../shared/core/trust.js";
import { SCOPE_PREFIX_VARIABLE } from "../../shared/discovery/gpg-path.js";
import { linkModeChosen, perIdentityEvidence } from "../../shared/scope/account.js";
import { initScript } from "./init.js";

export type SessionMultiplexer = "tmux" | "screen";

export interface SessionEnvRequest {
  readonly multiplexer: SessionMultiplexer;
  /** The session connect attaches or creates (as given to connect's --session). */
  readonly session: string;
  /** screen only: the session's own exact name, `<pid>.<name>`, when it exists already. */
  readonly target?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly uid?: number;
  readonly home?: string;
}

export interface SessionEnv {
  /** POSIX sh for connect's remote prelude to evaluate. */
  readonly script: string;
  /** Lines for the user (the reason a login could not be scoped, the daemon's warnings). */
  readonly notices: readonly string[];
}

/**
 * What connect's remote side evaluates before it attaches (or creates) a session: the socket
 * this login's session should hold, exported, and that one session pointed at it. No other
 * session and not tmux's global environment: a session connect does not attach is someone
 * else's business (on a shared account, another person's), and new shells get the rc line.
 *
 * Which socket is the one rule's (`perIdentityEvidence`): on a per-identity account, the scope
 * of the agent this login forwarded, never the stable socket, which reaches whoever logged in
 * last; when the login cannot be scoped, the login's own socket, with a notice saying why.
 * Where the account chose link mode (`linkModeChosen`), the link, as `ssh-anchor init --link sh`
 * gives it, and no daemon. Otherwise the stable socket, exactly as `ssh-anchor init sh` gives it
 * (starting the daemon).
 *
 * The script may set the positional parameters: the prelude runs
 * `exec tmux new-session -A -D -s NAME "$@"`, and tmux >= 3.0 gets `-e SSH_AUTH_SOCK=...` there
 * for a new session (an existing one ignores it: set-environment is for that one).
 * @throws {UserError} (status 2) for a session name connect would not have sent.
 * @example (await sessionEnv({ multiplexer: "tmux", session: "main" })).script
 */
export async function sessionEnv(request: SessionEnvRequest): Promise<SessionEnv> {
  const { multiplexer, session, target } = request;
  if (!SESSION_NAME.test(session)) throw new UserError(`session name "${printable(session)}" may hold only letters, digits and _ . @ -`, 2);
  if (target !== undefined && (multiplexer !== "screen" || !screenTargetPattern(session).test(target))) {
    throw new UserError(`"${printable(target)}" is not screen's name of a session ${session} (<pid>.${session})`, 2);
  }
  const env = request.env ?? process.env;
  const uid = request.uid ?? currentUid();
  if (!(await perIdentityEvidence({ uid, env, home: request.home }))) {
    // Link mode's code where the account chose it: the link, and no daemon.
    const link = await linkModeChosen({ uid, env, home: request.home });
    return { script: initScript("sh", link ? { link: true, prompt: false } : {}) + pointSession(request, false), notices: [] };
  }

  const own = loginSocket(env, uid);
  const notices: string[] = [];
  let socket = own;
  try {
    const scopeEnv = { ...env, SSH_AUTH_SOCK: own ?? "" };
    const answer = await requestScope({ env: scopeEnv, uid });
    socket = answer.socket;
    notices.push(...answer.warnings.map((warning) => `warning: ${warning}`));
  } catch (error) {
    if (!(error instanceof UserError)) throw error;
    const keeps = own ? "keeps this login's own socket" : "gets no agent socket";
    notices.push(`${error.message}; the ${multiplexer} session ${session} ${keeps} (per-identity: never the shared stable socket)`);
  }
  const prefix = socket ? SCOPED_SOCKET.exec(socket)?.[1] : undefined;
  const exports = [
    own ? `SSH_ANCHOR_ORIGINAL_SOCK=${shQuote(own)}; export SSH_ANCHOR_ORIGINAL_SOCK` : "",
    socket ? `SSH_AUTH_SOCK=${shQuote(socket)}; export SSH_AUTH_SOCK` : "unset SSH_AUTH_SOCK",
    // gpg's redirect reads the prefix: it agrees with the socket above, or there is none.
    prefix ? `${SCOPE_PREFIX_VARIABLE}=${shQuote(prefix)}; export ${SCOPE_PREFIX_VARIABLE}` : `unset ${SCOPE_PREFIX_VARIABLE}`,
  ].filter(Boolean);
  return { script: `${exports.join("\n")}\n${pointSession(request, true)}`, notices };
}

/**
 * The login's own forwarded socket: SSH_AUTH_SOCK, unless a start-up file that ran for this
 * command already pointed it at one of ssh-anchor's sockets (bash reads ~/.bashrc for sshd's
 * commands), in which case the login's own is the one the init code kept aside.
 */
function loginSocket(env: NodeJS.ProcessEnv, uid: number): string | undefined {
  let directory: string | undefined;
  try {
    directory = daemonPaths(undefined, { uid, env }).directory;
  } catch {
    directory = undefined;
  }
  const anchors = (socket: string) => directory !== undefined && dirname(socket) === directory;
  const current = env.SSH_AUTH_SOCK || undefined;
  if (current && !anchors(current)) return current;
  const kept = env.SSH_ANCHOR_ORIGINAL_SOCK || undefined;
  return kept && !anchors(kept) ? kept : undefined;
}

/** `id-<scope>.` of a scope's socket, the prefix the per-identity shell code derives from it. */
const SCOPED_SOCKET = /\/(id-[0-9a-f]{16}\.)sock$/;

/**
 * Points the one session at $SSH_AUTH_SOCK, as it is once the code above it ran; on a
 * per-identity account (`scoped`) at $SSH_ANCHOR_SCOPE_PREFIX too, or removes it there: a window
 * without a shell (which would derive it again) gets the prefix of this login's socket or none,
 * never the one the tmux server's global environment may hold (whoever started the server).
 */
function pointSession({ multiplexer, session, target }: SessionEnvRequest, scoped: boolean): string {
  const variable = SCOPE_PREFIX_VARIABLE;
  if (multiplexer === "screen") {
    // A new session takes the environment screen starts with; an existing one (its exact
    // <pid>.<name>, never a prefix match) is told, for the windows opened from now on.
    if (target === undefined) return "";
    const prefix = scoped
      ? `if [ -n "\${${variable}:-}" ]; then screen -S ${target} -X setenv ${variable} "$${variable}" >/dev/null 2>&1; else screen -S ${target} -X unsetenv ${variable} >/dev/null 2>&1; fi\n`
      : "";
    return `if [ -n "\${SSH_AUTH_SOCK:-}" ]; then screen -S ${target} -X setenv SSH_AUTH_SOCK "$SSH_AUTH_SOCK" >/dev/null 2>&1; fi\n${prefix}`;
  }
  const name = tmuxSessionName(session);
  // -r, not -u: removed in the session, so the global environment's value does not show through.
  const prefix = scoped
    ? [
        `if [ -n "\${${variable}:-}" ]; then tmux set-environment -t =${name} ${variable} "$${variable}" >/dev/null 2>&1`,
        `else tmux set-environment -t =${name} -r ${variable} >/dev/null 2>&1; fi`,
        `case $(tmux -V 2>/dev/null) in "tmux "[3-9]* | "tmux "[1-9][0-9]*) set -- "$@" -e "${variable}=\${${variable}:-}" ;; esac`,
        "",
      ].join("\n")
    : "";
  // The attach itself copies the client's SSH_AUTH_SOCK into the session (tmux's default
  // update-environment); these two also cover a configuration without it: set-environment for
  // the session that exists (=: that exact name), -e for one new-session creates.
  return [
    `if [ -n "\${SSH_AUTH_SOCK:-}" ]; then`,
    `  tmux set-environment -t =${name} SSH_AUTH_SOCK "$SSH_AUTH_SOCK" >/dev/null 2>&1`,
    `  case $(tmux -V 2>/dev/null) in "tmux "[3-9]* | "tmux "[1-9][0-9]*) set -- -e "SSH_AUTH_SOCK=$SSH_AUTH_SOCK" ;; esac`,
    `fi`,
    prefix,
  ].join("\n");
}

function shQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}
