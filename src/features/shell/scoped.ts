import { join } from "node:path";
import { initShell } from "../../shared/core/shells.js";
import { readPackageFile } from "../../shared/core/package-root.js";

/**
 * The code of `ssh-anchor init --per-identity <shell>` (shell/scoped.sh, shell/scoped.fish).
 * bin/ssh-anchor prints the same files without starting Node.
 * @throws {UserError} for a shell it does not know.
 * @example scopedInitScript("zsh") // the text of shell/scoped.sh
 */
export function scopedInitScript(shell: string): string {
  // Through readPackageFile: the single executable has the shell files embedded.
  return readPackageFile(join("shell", `scoped.${initShell(shell).scripts}`));
}
