import type { SshSettings } from "../../shared/core/ssh-config.js";
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
export function sshArgs(request: ConnectRequest, settings: SshSettings, marker: string, remote: RemoteCommandOptions = {}): string[] {
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
  args.push(destination, remoteCommand(request, remote));
  return args;
}

/** The marker, then the user's own LocalCommand when their settings run one. */
function localCommand(settings: SshSettings, marker: string): string {
  const own = settings.get("permitlocalcommand") === "yes" ? settings.get("localcommand") : undefined;
  const touch = `touch '${marker}'`;
  return own ? `${touch}; ${own}` : touch;
}
