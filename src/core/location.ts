import { lstatSync } from "node:fs";
import { hostname, homedir } from "node:os";
import { dirname, isAbsolute, join } from "node:path";
import { UserError } from "../errors.js";
import { directoryRefusal } from "./trust.js";

/**
 * Where the stable socket and the files beside it live. shell/init.sh and shell/init.fish make
 * the same choice with shell built-ins; keep the three in step.
 *
 * 1. `--socket` or $SSH_ANCHOR_SOCKET, when given: an absolute path, used as it is.
 * 2. `/tmp/ssh-anchor-$UID/`: local to the host even when $HOME is on NFS, survives logout
 *    (XDG_RUNTIME_DIR does not), short enough to bind.
 * 3. When another user got to that name first (a squat: it exists and is not a real directory
 *    of ours), `~/.ssh/anchor-<hostname>/` instead: nobody else can create a name in the
 *    user's own ~/.ssh, and the host name keeps hosts apart in a home shared over NFS (as
 *    OpenSSH 10.1 does for ~/.ssh/agent). The squatted name is never used, not even to look.
 */

/** Node 20 silently truncates longer Unix socket paths (sun_path holds 108 bytes with the NUL). */
export const MAX_SOCKET_PATH_BYTES = 107;

/** Environment variable that moves the stable socket (the --socket flag wins over it). */
export const SOCKET_ENV = "SSH_ANCHOR_SOCKET";

/** The socket's file name inside its directory. */
const SOCKET_NAME = "agent.sock";

/** The default directory: `/tmp/ssh-anchor-$UID`. */
export function defaultDirectory(uid: number): string {
  return `/tmp/ssh-anchor-${uid}`;
}

/** The stable socket's default path. */
export function defaultSocketPath(uid: number): string {
  return join(defaultDirectory(uid), SOCKET_NAME);
}

/** The directory used when the default one is squatted; undefined without a usable home or host name. */
export function fallbackDirectory(home: string, host: string): string | undefined {
  if (!isAbsolute(home) || host === "" || host.includes("/")) return undefined;
  return join(home, ".ssh", `anchor-${host}`);
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
  /** One line for the shell to print while the default is squatted (written by `start`). */
  readonly squatNote: string;
  /** Why the default directory was not used (someone else owns it), when it was not. */
  readonly squat?: string;
}

export interface LocationOptions {
  readonly uid: number;
  readonly env?: NodeJS.ProcessEnv;
  readonly home?: string;
  readonly host?: string;
}

/** Why the default directory is someone else's, or undefined when it is missing or ours. */
export function squatOf(directory: string, uid: number): string | undefined {
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
 * Picks the socket path (flag, then $SSH_ANCHOR_SOCKET, then the default or its fallback) and
 * derives the files beside it.
 * @throws {UserError} for a relative path, a path too long to bind, or no usable place at all.
 */
export function daemonPaths(flag: string | undefined, options: LocationOptions): DaemonPaths {
  const env = options.env ?? process.env;
  const given = flag || env[SOCKET_ENV];
  if (given) {
    if (!isAbsolute(given)) {
      throw new UserError(`the socket path must be absolute, not "${given}": a relative one changes with every cd; fix --socket or ${SOCKET_ENV}`, 2);
    }
    return pathsIn(dirname(given), given);
  }
  const directory = defaultDirectory(options.uid);
  const squat = squatOf(directory, options.uid);
  if (!squat) return pathsIn(directory, join(directory, SOCKET_NAME));
  const fallback = fallbackDirectory(options.home ?? env.HOME ?? homedir(), options.host ?? hostname());
  if (!fallback) throw new UserError(`${squat}, and there is no home directory to fall back to; set ${SOCKET_ENV} to a path of your own`);
  return { ...pathsIn(fallback, join(fallback, SOCKET_NAME)), squat };
}

function pathsIn(directory: string, socket: string): DaemonPaths {
  const paths: DaemonPaths = {
    socket,
    directory,
    control: `${socket}.ctl`,
    pidFile: `${socket}.pid`,
    lockFile: `${socket}.lock`,
    logFile: `${socket}.log`,
    link: join(directory, "link.sock"),
    squatNote: join(directory, "squat-note"),
  };
  // The control socket has the longest name of the sockets.
  if (Buffer.byteLength(paths.control) > MAX_SOCKET_PATH_BYTES) {
    throw new UserError(
      `socket path ${socket} is too long: with ".ctl" added it must fit in ${MAX_SOCKET_PATH_BYTES} bytes; ` +
        `choose a shorter one with --socket or ${SOCKET_ENV}`,
    );
  }
  return paths;
}
