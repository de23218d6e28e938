import { lstatSync, statSync } from "node:fs";
import { hostname, homedir } from "node:os";
import { dirname, isAbsolute, join } from "node:path";
import { UserError } from "./errors.js";
import { mountPointsSync } from "./foreign-fs.js";
import { directoryRefusal } from "./trust.js";

/**
 * Where the stable socket and the files beside it live. shell/location.sh and
 * shell/location.fish make the same choice with shell built-ins; keep the three in step.
 *
 * 1. `--socket` or $SSH_ANCHOR_SOCKET, when given: an absolute path, used as it is.
 * 2. `~/.ssh/anchor-<hostname>/`: no other user can create a name in the user's own ~/.ssh,
 *    so nobody can squat it before the first start, take it over after a tmp cleaner or an
 *    `rm -rf` of /tmp, or stand in for it in a pane that holds the path for weeks. It survives
 *    logout (XDG_RUNTIME_DIR does not), and the host name keeps hosts apart in a home shared
 *    over NFS (as OpenSSH 10.1 does for ~/.ssh/agent).
 * 3. `$XDG_RUNTIME_DIR/ssh-anchor/` when the home one cannot be used (no home of the user's
 *    own, a path too long to bind, a ~/.ssh that is not a private directory of the user's):
 *    logind makes that directory for the user alone. Without lingering it goes at the last
 *    logout, which costs little: with no login there is no forwarded agent to reach, and the
 *    next login makes it again at the same path, which the daemon takes back.
 * 4. `/tmp/ssh-anchor-$UID/` when there is neither: only if it is missing or a real directory
 *    of the user's own. A squatted one (someone else got to the name first) is never used, not even
 *    looked into.
 */

/** Node 20 silently truncates longer Unix socket paths (sun_path holds 108 bytes with the NUL). */
export const MAX_SOCKET_PATH_BYTES = 107;

/** Environment variable that moves the stable socket (the --socket flag wins over it). */
const SOCKET_ENV = "SSH_ANCHOR_SOCKET";

/** The socket's file name inside its directory (setup's ssh_config lines name it too). */
export const SOCKET_NAME = "agent.sock";

/** The directory in /tmp: `/tmp/ssh-anchor-$UID`. */
export function tmpDirectory(uid: number): string {
  return `/tmp/ssh-anchor-${uid}`;
}

/** The directory in the user's home; undefined without a usable home or host name. */
function homeDirectory(home: string, host: string): string | undefined {
  if (!isAbsolute(home) || host === "" || host.includes("/")) return undefined;
  return join(home, ".ssh", `anchor-${host}`);
}

/**
 * The user's configuration directory, $XDG_CONFIG_HOME (when absolute, as the XDG spec asks)
 * or ~/.config: where systemd looks for user units and fish for completions.
 * @example configHome("/home/me", {}) // "/home/me/.config"
 */
export function configHome(home: string = homedir(), env: NodeJS.ProcessEnv = process.env): string {
  return env.XDG_CONFIG_HOME?.startsWith("/") ? env.XDG_CONFIG_HOME : join(home, ".config");
}

/**
 * The user's state directory, $XDG_STATE_HOME (when absolute) or ~/.local/state: where connect
 * keeps what it learnt of a host (its home, for the forwards' paths).
 * @example stateHome("/home/me", {}) // "/home/me/.local/state"
 */
export function stateHome(home: string = homedir(), env: NodeJS.ProcessEnv = process.env): string {
  return env.XDG_STATE_HOME?.startsWith("/") ? env.XDG_STATE_HOME : join(home, ".local", "state");
}

/** The files that live beside the stable socket. */
export interface DaemonPaths {
  readonly socket: string;
  readonly directory: string;
  /** Answers `status`, `stop` and `rescan` for the CLI. */
  readonly control: string;
  /** The daemon's pid, for the shell's Node-free "is it running" check. */
  readonly pidFile: string;
  /** Held only while a daemon replaces a stale socket, so that two starts cannot race. */
  readonly lockFile: string;
  /** Where a background daemon logs. */
  readonly logFile: string;
  /** Link mode's symlink (no daemon), in the same private directory. */
  readonly link: string;
  /** The per-identity scopes the daemon remembers (key fingerprints only). */
  readonly scopes: string;
  /** The directory is the one in ~/.ssh, which is created too when missing. */
  readonly inHome: boolean;
}

export interface LocationOptions {
  readonly uid: number;
  readonly env?: NodeJS.ProcessEnv;
  readonly home?: string;
  readonly host?: string;
}

/**
 * Why a directory is someone else's (a squat), or undefined when it is missing or ours. The
 * directory is in /tmp, where another user can make the name: a mount point there (another
 * user's FUSE file system, which may never answer an lstat) is a squat found without asking it.
 */
export function squatOf(directory: string, uid: number): string | undefined {
  if (mountPointsSync().has(directory)) return `${directory} is a mount point (another file system was mounted there)`;
  let stats;
  try {
    stats = lstatSync(directory);
  } catch {
    return undefined;
  }
  // Ours but too open is the user's own doing: refused later with the chmod that fixes it.
  if (stats.isDirectory() && !stats.isSymbolicLink() && stats.uid === uid) return undefined;
  return `${directory} ${directoryRefusal(stats, uid)}`;
}

/**
 * Picks the socket path (flag, then $SSH_ANCHOR_SOCKET, then ~/.ssh, $XDG_RUNTIME_DIR, /tmp) and derives
 * the files beside it.
 * @throws {UserError} for a relative path, a path too long to bind, or no usable place at all.
 */
export function daemonPaths(flag: string | undefined, options: LocationOptions): DaemonPaths {
  const env = options.env ?? process.env;
  const given = flag || env[SOCKET_ENV];
  if (given) {
    if (!isAbsolute(given)) {
      throw new UserError(`the socket path must be absolute, not "${given}": a relative one changes with every cd; fix --socket or ${SOCKET_ENV}`, 2);
    }
    return checkedLength(pathsIn(dirname(given), given, false));
  }
  const home = homeDirectory(options.home ?? env.HOME ?? homedir(), options.host ?? hostname());
  if (home) {
    const paths = pathsIn(home, join(home, SOCKET_NAME), true);
    if (fits(paths) && homeUsable(home, options.uid)) return paths;
  }
  const runtime = runtimeDirectory(env.XDG_RUNTIME_DIR, options.uid);
  if (runtime) {
    const paths = pathsIn(runtime, join(runtime, SOCKET_NAME), false);
    if (fits(paths)) return paths;
  }
  const tmp = tmpDirectory(options.uid);
  const squat = squatOf(tmp, options.uid);
  if (squat) {
    throw new UserError(`${squat}: someone may be trying to intercept your agent, and your home cannot hold the socket; set ${SOCKET_ENV} to a path of your own`);
  }
  return checkedLength(pathsIn(tmp, join(tmp, SOCKET_NAME), false));
}

/**
 * The home can hold the socket when it is a directory of the user's own (so ~/.ssh can be made
 * there: a system user's home of "/" cannot) and ~/.ssh is missing or a private directory of
 * theirs. The shell tests the same with `-d`, `-O` and `-L`.
 */
function homeUsable(directory: string, uid: number): boolean {
  const ssh = dirname(directory);
  const home = statSync(dirname(ssh), { throwIfNoEntry: false });
  if (!home?.isDirectory() || home.uid !== uid) return false;
  const stats = lstatSync(ssh, { throwIfNoEntry: false });
  return stats === undefined || directoryRefusal(stats, uid) === undefined;
}

/** `$XDG_RUNTIME_DIR/ssh-anchor`, when that directory is a private one of the user's own. */
function runtimeDirectory(runtime: string | undefined, uid: number): string | undefined {
  if (!runtime || !isAbsolute(runtime)) return undefined;
  const stats = lstatSync(runtime, { throwIfNoEntry: false });
  return stats && directoryRefusal(stats, uid) === undefined ? join(runtime, "ssh-anchor") : undefined;
}

function pathsIn(directory: string, socket: string, inHome: boolean): DaemonPaths {
  return {
    socket,
    directory,
    control: `${socket}.ctl`,
    pidFile: `${socket}.pid`,
    lockFile: `${socket}.lock`,
    logFile: `${socket}.log`,
    link: join(directory, "link.sock"),
    scopes: `${socket}.scopes`,
    inHome,
  };
}

/** The control socket has the longest name of the sockets. */
function fits(paths: DaemonPaths): boolean {
  return Buffer.byteLength(paths.control) <= MAX_SOCKET_PATH_BYTES;
}

function checkedLength(paths: DaemonPaths): DaemonPaths {
  if (fits(paths)) return paths;
  throw new UserError(
    `socket path ${paths.socket} is too long: with ".ctl" added it must fit in ${MAX_SOCKET_PATH_BYTES} bytes; ` +
      `choose a shorter one with --socket or ${SOCKET_ENV}`,
  );
}
