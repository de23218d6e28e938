import type { ConnectRequest } from "./args.js";

/**
 * The prelude that gives the session the stable socket when the host runs ssh-anchor. ssh runs
 * the remote command without an interactive shell, so the rc line has not run: tmux would take
 * the login's own forwarded socket into its environment at every attach (update-environment),
 * and that socket dies with this connection. With `ssh-anchor` on the host's PATH the prelude
 * evaluates its init code (which starts the daemon when needed and exports the stable path, or
 * leaves SSH_AUTH_SOCK alone if it cannot), then points a running multiplexer's environment for
 * new windows at that path (tmux: the global environment and every session's, as doctor --fix
 * does; screen: the session's). Without ssh-anchor on the host it does nothing.
 *
 * POSIX sh on one line, with no ' and no ! in it: the user's login shell (bash, zsh, fish, csh)
 * passes it to `sh -c '...'` untouched.
 */
function prelude(point: string): string {
  return (
    "if command -v ssh-anchor >/dev/null 2>&1; then " +
    'eval "$(ssh-anchor init sh)"; ' +
    // Only when init switched to the stable socket (it leaves SSH_AUTH_SOCK alone otherwise).
    'case "${SSH_AUTH_SOCK:-}" in ""|"${SSH_ANCHOR_ORIGINAL_SOCK:-}") ;; ' +
    `*) ${point} >/dev/null 2>&1 ;; esac; ` +
    "fi; "
  );
}

/**
 * The command ssh runs on the remote host: attach the named session, creating it when missing,
 * and detach every other client of it, so that a client left behind by a dead connection (or
 * a smaller terminal elsewhere) does not constrain the window size. tmux and screen start with
 * the stable socket when the host has ssh-anchor (see `prelude`); a command after `--` runs as
 * given.
 */
export function remoteCommand(request: ConnectRequest): string {
  if (request.command.length > 0) return request.command.join(" ");
  const name = request.session; // letters, digits and _ . @ - only (parseConnectArgs)
  const script =
    request.multiplexer === "screen"
      ? `${prelude(`screen -S ${name} -X setenv SSH_AUTH_SOCK "$SSH_AUTH_SOCK"`)}exec screen -D -R ${name}`
      : `${prelude(
          '{ tmux set-environment -g SSH_AUTH_SOCK "$SSH_AUTH_SOCK"; ' +
            'for s in $(tmux list-sessions -F "#{session_id}"); do tmux set-environment -t "$s" SSH_AUTH_SOCK "$SSH_AUTH_SOCK"; done; }',
        )}exec tmux new-session -A -D -s ${name}`;
  return `exec sh -c '${script}'`;
}
