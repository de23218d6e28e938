import { constants } from "node:fs";
import { access } from "node:fs/promises";
import { join } from "node:path";

/** sshd's PATH for a login before any start-up file (Debian's default, and OpenSSH's own). */
export const SSHD_PATH = "/usr/local/bin:/usr/bin:/bin:/usr/games";

/**
 * Where `name` is found on `path` (an executable file of that name), or undefined.
 * @example await onPath("node") // "/usr/bin/node" where a login's bare PATH finds Node
 */
export async function onPath(name: string, path: string = SSHD_PATH): Promise<string | undefined> {
  for (const directory of path.split(":")) {
    if (!directory) continue;
    const candidate = join(directory, name);
    if (await access(candidate, constants.X_OK).then(() => true, () => false)) return candidate;
  }
  return undefined;
}
