import { lstat, mkdir } from "node:fs/promises";
import { directoryRefusal } from "../discovery/checks.js";
import { UserError } from "../errors.js";

/**
 * Makes sure `directory` exists, is a real directory owned by `uid`, and is writable by nobody
 * else. It is created 0700 when missing; an existing one is never chmod-ed (widening or
 * narrowing someone's permissions behind their back is not ours to do): it is refused instead.
 * @throws {UserError} naming the problem and the fix.
 */
export async function ensurePrivateDirectory(directory: string, uid: number): Promise<void> {
  try {
    await mkdir(directory, { mode: 0o700 });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") {
      throw new UserError(`cannot create ${directory}: its parent directory does not exist; create it or choose another --socket`);
    }
    if (code !== "EEXIST") throw new UserError(`cannot create ${directory}: ${code}; choose another --socket`);
  }
  const stats = await lstat(directory);
  const refusal = directoryRefusal(stats, uid);
  if (refusal) {
    const fix =
      stats.uid !== uid || stats.isSymbolicLink()
        ? "someone else may be trying to intercept your agent: remove it or choose another --socket"
        : `run: chmod go-w ${directory}`;
    throw new UserError(`refusing to use ${directory}: it ${refusal}; ${fix}`);
  }
}
