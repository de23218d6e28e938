import { closeSync, openSync } from "node:fs";
import { UserError } from "../../shared/core/errors.js";
import { Log } from "../../shared/core/log.js";

/** connect's --log is rotated at this size: a laptop left reconnecting for weeks stays small. */
const MAX_LOG_BYTES = 4 * 1024 * 1024;

/**
 * Opens connect's --log, if one was asked for. The file is created here, at start, so that a
 * path that cannot be written fails before ssh runs rather than at the first disconnect.
 *
 * @example
 * const log = openConnectLog("/tmp/connect.log");
 * log?.info("attempt 1: ssh devbox");
 * @throws {UserError} (a usage error, status 2) when the file cannot be written.
 */
export function openConnectLog(file: string | undefined): Log | undefined {
  if (!file) return undefined;
  checkWritable(file);
  return new Log({ file, maxBytes: MAX_LOG_BYTES });
}

function checkWritable(file: string): void {
  try {
    closeSync(openSync(file, "a", 0o600));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "its directory does not exist" : code === "EACCES" ? "permission denied" : code === "EISDIR" ? "it is a directory" : code;
    throw new UserError(`cannot write the log ${file}: ${why}; create the directory or give another --log`, 2);
  }
}
