import type { SshSettings } from "../../shared/core/ssh-config.js";
import { forwardsDirectory, remoteForwardPath, type Forward } from "../../shared/core/forwards.js";
import { TIMING } from "../../shared/core/timing.js";
import type { ConnectRequest } from "./args.js";
import { remoteCommand, type RemoteCommandOptions } from "./remote-command.js";

/**
 * ssh's command line for one attempt: the user's own options and settings, plus what connect
 * needs (a marker touched once ssh has authenticated, quick keepalives, a connection of its
 * own), and the remote command that attaches the session.
 *
 * @example
 * sshArgs(parseConnectArgs(["-A", "devbox"]), settings, "/tmp/ssh-anchor-connect-x/connected.1")
 * // ["-t", "-o", "PermitLocalCommand=yes", "-o", "LocalCommand=touch '...'", "-A", ..., "devbox", "..."]
 */
/** The forwards of one ssh connection: the laptop's sockets, the remote home, this connection's token. */
export interface ConnectionForwards {
  readonly forwards: readonly Forward[];
  readonly home: string;
  readonly token: string;
}

export function sshArgs(
  request: ConnectRequest,
  settings: SshSettings,
  marker: string,
  remote: Omit<RemoteCommandOptions, "forwards"> = {},
  forwarding?: ConnectionForwards,
): string[] {
  const { sshOptions, destination, aliveInterval, aliveCountMax } = request;
  const configured = (key: string): number => {
    const value = Number(settings.get(key));
    return Number.isFinite(value) && value > 0 ? value : Infinity;
  };
  // ssh takes the first value it is given, command line before config files: ssh-anchor's
  // marker comes first (running the user's own LocalCommand after it); the user's own -o
  // options come next and win over ours. A keepalive from the config is kept only when it is
  // the quicker one: a long one (Debian turns on 300 s with BatchMode) would leave a dead
  // connection unnoticed for minutes.
  const args = ["-t", "-o", "PermitLocalCommand=yes", "-o", `LocalCommand=${localCommand(settings, marker)}`, ...sshOptions];
  const interval = aliveInterval ?? TIMING.aliveIntervalSeconds;
  if (aliveInterval !== undefined || configured("serveraliveinterval") > interval) {
    args.push("-o", `ServerAliveInterval=${interval}`);
    args.push("-o", `ServerAliveCountMax=${aliveCountMax ?? TIMING.aliveCountMax}`);
  }
  if (configured("connecttimeout") === Infinity) args.push("-o", `ConnectTimeout=${TIMING.sshConnectTimeoutSeconds}`);
  // A ControlMaster from the config would carry the session over its own connection, and a
  // master whose network died would stall every reconnect until its own keepalive gives up:
  // connect makes connections of its own (an explicit -S or -o ControlPath above still wins).
  args.push("-o", "ControlPath=none");
  const paths: string[] = [];
  if (forwarding && forwarding.forwards.length > 0) {
    // A forward that cannot bind (a zombie login of this laptop still holds an old path, the
    // directory is gone) must not end the session, nor make connect reconnect in a loop: ssh
    // goes on without it (the remote command says so in one line). A user's own -o above wins.
    args.push("-o", "ExitOnForwardFailure=no");
    for (const forward of forwarding.forwards) {
      const path = remoteForwardPath(forwarding.home, forward.name, forwarding.token);
      paths.push(path);
      args.push("-R", `${path}:${forward.local}`);
    }
  }
  const forwards = paths.length > 0 && forwarding ? { directory: forwardsDirectory(forwarding.home), paths } : undefined;
  args.push(destination, remoteCommand(request, { ...remote, forwards }));
  return args;
}

/** The marker, then the user's own LocalCommand when their settings run one. */
function localCommand(settings: SshSettings, marker: string): string {
  const own = settings.get("permitlocalcommand") === "yes" ? settings.get("localcommand") : undefined;
  const touch = `touch '${marker}'`;
  return own ? `${touch}; ${own}` : touch;
}
