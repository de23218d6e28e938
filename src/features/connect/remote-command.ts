import type { ConnectRequest } from "./args.js";

export interface RemoteCommandOptions {
  /** A reconnect: what the first attempt said on the terminal is not said again. */
  readonly quiet?: boolean;
  /** This login's forwards (their remote paths) and the directory they are in. */
  readonly forwards?: { readonly directory: string; readonly paths: readonly string[] };
}

/**
 * Says, in one line, which of this login's forwards did not bind, and makes a missing forwards
 * directory for the next login. sshd binds a forward when the client asks, and the client asks
 * for its forwards before it opens the session: by the time this runs, each is there or failed
 * (ssh's own warning is hidden by LogLevel ERROR or QUIET, and ExitOnForwardFailure is off, so
 * nothing else would say it). The paths hold only the characters forwardPathRefusal lets through.
 */
function forwardsCheck(forwards: RemoteCommandOptions["forwards"]): string {
  if (!forwards || forwards.paths.length === 0) return "";
  const u = forwards.directory;
  return (
    `m=; for f in ${forwards.paths.join(" ")}; do [ -S "$f" ] || { n=\${f##*/}; m="$m \${n%%.*}"; }; done; ` +
    `if [ -n "$m" ]; then [ -d ${u} ] || (umask 077; mkdir -p ${u}); ` +
    `printf "%s\\n" "ssh-anchor: not forwarded (the socket did not bind on the host):$m; this login goes on without it" >&2; fi; `
  );
}

/**
 * Finds ssh-anchor on the host and lets it say what the one session connect attaches should
 * hold. ssh runs the remote command without an interactive shell, so the rc line has not run
 * (or has, for bash under sshd, but for a shell rather than a session): tmux would take the
 * login's own forwarded socket into the session at every attach (update-environment), and that
 * socket dies with this connection. `ssh-anchor session-env` (src/features/shell/session-env.ts)
 * decides on the host, by the one per-identity rule: that login's own scope on a per-identity
 * account (never the stable socket, never another person's scope; the login's own socket, said
 * in one line, when it cannot be scoped), the stable socket otherwise. It exports it and points
 * that session only: no other session, not tmux's global environment.
 *
 * sshd's non-interactive PATH (/usr/local/bin:/usr/bin:/bin:/usr/games) does not hold
 * ~/.local/bin, where an install without root goes: the prelude looks there too. Without
 * ssh-anchor at all it changes nothing, and says once (not on reconnects) that the session
 * keeps the login's own socket.
 *
 * POSIX sh on one line, with no ' and no ! in it: the user's login shell (bash, zsh, fish, csh)
 * passes it to `sh -c '...'` untouched.
 */
function prelude(multiplexer: string, args: string, quiet: boolean): string {
  const notFound = quiet
    ? ""
    : "else printf " +
      `"%s\\n" "ssh-anchor: not found on the host (PATH, ~/.local/bin): the ${multiplexer} session keeps the socket of this login, ` +
      `which ends with it; to fix, run ssh-anchor install on this laptop with the same destination (no root needed)" >&2; `;
  return (
    "command -v ssh-anchor >/dev/null 2>&1 || PATH=$PATH:$HOME/.local/bin; " +
    "if command -v ssh-anchor >/dev/null 2>&1; then " +
    `eval "$(ssh-anchor session-env${quiet ? " --quiet" : ""} ${multiplexer} ${args})"; ` +
    notFound +
    "fi; "
  );
}

/** `name` in a sed basic regular expression: of its characters (SESSION_NAME) only "." is special. */
function sedLiteral(name: string): string {
  return name.replaceAll(".", "\\.");
}

/**
 * The command ssh runs on the remote host: attach the named session, creating it when missing,
 * and detach every other client of it, so that a client left behind by a dead connection (or
 * a smaller terminal elsewhere) does not constrain the window size. tmux and screen start with
 * this login's socket when the host has ssh-anchor (see `prelude`); a command after `--` runs
 * as given.
 *
 * screen matches a name by prefix (`-R bob` reattaches "bobby" when there is no "bob"): the
 * session is found by its exact `<pid>.<name>` in `screen -ls`, and made with `-S` when there
 * is none.
 */
export function remoteCommand(request: ConnectRequest, options: RemoteCommandOptions = {}): string {
  if (request.command.length > 0) return request.command.join(" ");
  const name = request.session; // letters, digits and _ . @ - only (SESSION_NAME, parseConnectArgs)
  const quiet = options.quiet ?? false;
  const check = forwardsCheck(options.forwards);
  const script =
    check +
    (request.multiplexer === "screen"
      ? `t=$(screen -ls 2>/dev/null | sed -n "s/^[[:space:]]*\\([0-9][0-9]*\\.${sedLiteral(name)}\\)[[:space:]].*/\\1/p" | head -n 1); ` +
        `${prelude("screen", `${name} $t`, quiet)}` +
        `if [ -n "$t" ]; then exec screen -D -R "$t"; fi; exec screen -S ${name}`
      : `${prelude("tmux", name, quiet)}exec tmux new-session -A -D -s ${name} "$@"`);
  return `exec sh -c '${script}'`;
}
