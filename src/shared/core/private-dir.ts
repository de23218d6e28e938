import type { Stats } from "node:fs";
import { lstat, mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { UserError } from "./errors.js";
import { directoryRefusal, parentsRefusal } from "./trust.js";

/**
 * Makes sure `directory` exists, is a real directory owned by `uid`, is writable by nobody else,
 * and that nobody else can swap it (see parentsRefusal). It is created 0700 when missing (with a
 * missing parent too when `createParent`, as ~/.ssh for the fallback location); an existing one
 * is never chmod-ed (widening or narrowing someone's permissions behind their back is not ours to
 * do): it is refused instead.
 * @throws {UserError} naming the problem and the fix.
 */
export async function ensurePrivateDirectory(directory: string, uid: number, options: { createParent?: boolean } = {}): Promise<void> {
  if (options.createParent) await mkdir(dirname(directory), { mode: 0o700 }).catch(() => undefined);
  try {
    await mkdir(directory, { mode: 0o700 });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw noParent(directory);
    if (code !== "EEXIST") throw new UserError(`cannot create ${directory}: ${code}; choose another --socket`);
  }
  await refuseUnlessPrivate(directory, await lstat(directory), uid);
}

/**
 * What ensurePrivateDirectory would say, making nothing: a missing directory (or parent) passes,
 * as it would be made the user's own.
 * @throws {UserError} as ensurePrivateDirectory does.
 */
export async function checkPrivateDirectory(directory: string, uid: number, options: { createParent?: boolean } = {}): Promise<void> {
  const stats = await lstat(directory).catch(() => undefined);
  if (stats) await refuseUnlessPrivate(directory, stats, uid);
  else {
    const madeBeforeIt = options.createParent ? dirname(dirname(directory)) : dirname(directory);
    if (!(await lstat(madeBeforeIt).catch(() => undefined))) throw noParent(directory);
    const above = await parentsRefusal(directory, uid, { missingPasses: true });
    if (above) throw swappable(directory, above);
  }
}

async function refuseUnlessPrivate(directory: string, stats: Stats, uid: number): Promise<void> {
  const refusal = directoryRefusal(stats, uid);
  if (refusal && sharedDirectory(stats)) {
    // /tmp itself (or another shared place): the socket needs a directory of its own in it.
    throw new UserError(`refusing to use ${directory}: a shared directory cannot hold the socket; give it one of its own, e.g. --socket ${directory}/anchor-$USER/agent.sock`);
  }
  if (refusal) {
    const fix =
      stats.uid !== uid || stats.isSymbolicLink()
        ? "someone else may be trying to intercept your agent: remove it or choose another --socket"
        : `run: chmod go-w ${directory}`;
    throw new UserError(`refusing to use ${directory}: it ${refusal}; ${fix}`);
  }
  const above = await parentsRefusal(directory, uid);
  if (above) throw swappable(directory, above);
}

function noParent(directory: string): UserError {
  return new UserError(`cannot create ${directory}: its parent directory does not exist; create it or choose another --socket`);
}

/** `above`: why a directory above it could let someone else swap it (parentsRefusal). */
function swappable(directory: string, above: string): UserError {
  return new UserError(`refusing to use ${directory}: ${above}, so someone else could swap it; choose another --socket`);
}

/** A directory made for everyone (sticky, as /tmp is), never a home for one user's socket. */
function sharedDirectory(stats: Stats): boolean {
  return stats.isDirectory() && (stats.mode & 0o1000) !== 0;
}
