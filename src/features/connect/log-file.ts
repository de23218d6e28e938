import { closeSync, fstatSync, openSync } from "node:fs";
import { UserError } from "../../shared/core/errors.js";
import { Log } from "../../shared/core/log.js";
import { APPEND_NO_FOLLOW, currentUid } from "../../shared/core/trust.js";

/** connect's --log is rotated at this size: a laptop left reconnecting for weeks stays small. */
const MAX_LOG_BYTES = 4 * 1024 * 1024;

/**
 * Opens connect's --log, if one was asked for. The file is created here, at start, so that a
 * path that cannot be written fails before ssh runs rather than at the first disconnect; and it
 * is checked here as the log writes it (never through a symlink, only a regular file of the
 * user's own), so that a path the log would refuse later is refused now, in one line, instead
 * of losing every line silently (or writing into a file a symlink planted in /tmp leads to).
 *
 * @example
 * const log = openConnectLog("/tmp/connect.log");
 * log?.info("attempt 1: ssh devbox");
 * @throws {UserError} (a usage error, status 2) when the file cannot be written or is not the user's own.
 */
export function openConnectLog(file: string | undefined): Log | undefined {
  if (!file) return undefined;
  checkWritable(file);
  return new Log({ file, maxBytes: MAX_LOG_BYTES });
}

function checkWritable(file: string): void {
  let fd: number;
  try {
    fd = openSync(file, APPEND_NO_FOLLOW, 0o600);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UserError(`cannot write the log ${file}: ${openRefusal(code)}; give another --log`, 2);
  }
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) throw new UserError(`cannot write the log ${file}: it is not a regular file; give another --log`, 2);
    if (stats.uid !== currentUid()) {
      throw new UserError(`cannot write the log ${file}: it belongs to uid ${stats.uid}, not to you (a log is only written into a file of your own); give another --log`, 2);
    }
  } finally {
    closeSync(fd);
  }
}

function openRefusal(code: string | undefined): string {
  switch (code) {
    case "ENOENT":
      return "its directory does not exist (create it)";
    case "EACCES":
    case "EPERM":
      return "permission denied";
    case "EISDIR":
      return "it is a directory";
    case "ELOOP":
      return "it is a symbolic link (a log is never written through one)";
    case "ENXIO":
      return "it is not a regular file";
    default:
      return code ?? "unknown error";
  }
}
