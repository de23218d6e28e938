import { readFileSync } from "node:fs";
import { join } from "node:path";
import { UserError } from "../errors.js";
import { PACKAGE_ROOT } from "../package-root.js";

const SHELLS = ["bash", "zsh", "sh", "fish"] as const;

/**
 * The code of `ssh-anchor init --per-identity <shell>` (shell/scoped.sh, shell/scoped.fish).
 * bin/ssh-anchor prints the same files without starting Node.
 * @throws {UserError} for a shell it does not know.
 */
export function scopedInitScript(shell: string): string {
  if (!(SHELLS as readonly string[]).includes(shell)) {
    throw new UserError(`unknown shell "${shell}"; use one of: ${SHELLS.join(", ")}`, 2);
  }
  return readFileSync(join(PACKAGE_ROOT, "shell", shell === "fish" ? "scoped.fish" : "scoped.sh"), "utf8");
}
