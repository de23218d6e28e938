import type { ConnectRequest } from "./args.js";

/**
 * The command ssh runs on the remote host: attach the named session, creating it when missing,
 * and detach every other client of it, so that a client left behind by a dead connection (or
 * a smaller terminal elsewhere) does not constrain the window size.
 */
export function remoteCommand(request: ConnectRequest): string {
  if (request.command.length > 0) return request.command.join(" ");
  return request.multiplexer === "screen"
    ? `exec screen -D -R ${request.session}`
    : `exec tmux new-session -A -D -s ${request.session}`;
}
