import { UserError } from "../core/errors.js";
import { readPackageFile } from "../core/package-root.js";

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
  // Through readPackageFile: the single executable has the shell files embedded.
  return readPackageFile(`shell/${shell === "fish" ? "scoped.fish" : "scoped.sh"}`);
}
