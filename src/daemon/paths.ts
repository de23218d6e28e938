import { dirname, resolve } from "node:path";
import { UserError } from "../errors.js";

/** Node 20 silently truncates longer Unix socket paths (sun_path holds 108 bytes with the NUL). */
export const MAX_SOCKET_PATH_BYTES = 107;

/** Environment variable that moves the stable socket (the --socket flag wins over it). */
export const SOCKET_ENV = "SSH_ANCHOR_SOCKET";

/**
 * The stable socket's default path. /tmp is local to each host even when $HOME is shared over
 * NFS, survives logout (XDG_RUNTIME_DIR does not), and keeps the path short. The directory is
 * private to the user and checked before use; shell/init.sh computes the same path.
 */
export function defaultSocketPath(uid: number): string {
  return `/tmp/ssh-anchor-${uid}/agent.sock`;
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
}

/**
 * Picks the socket path (flag, then $SSH_ANCHOR_SOCKET, then the default) and derives the
 * files beside it.
 * @throws {UserError} when a path would be too long to bind.
 */
export function daemonPaths(flag: string | undefined, uid: number, env: NodeJS.ProcessEnv = process.env): DaemonPaths {
  const socket = resolve(flag || env[SOCKET_ENV] || defaultSocketPath(uid));
  const paths: DaemonPaths = {
    socket,
    directory: dirname(socket),
    control: `${socket}.ctl`,
    pidFile: `${socket}.pid`,
    lockFile: `${socket}.lock`,
    logFile: `${socket}.log`,
  };
  // The control socket has the longest name of the two sockets.
  if (Buffer.byteLength(paths.control) > MAX_SOCKET_PATH_BYTES) {
    throw new UserError(
      `socket path ${socket} is too long: with ".ctl" added it must fit in ${MAX_SOCKET_PATH_BYTES} bytes; ` +
        `choose a shorter one with --socket or ${SOCKET_ENV}`,
    );
  }
  return paths;
}
