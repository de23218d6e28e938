import { readFileSync } from "node:fs";
import { join } from "node:path";
import { UserError } from "../errors.js";
import { PACKAGE_ROOT } from "../package-root.js";

/** Shells `ssh-anchor init` writes code for. bash, zsh and sh share one POSIX script. */
export const SHELLS = ["bash", "zsh", "sh", "fish"] as const;
export type Shell = (typeof SHELLS)[number];

const SHELL_DIR = join(PACKAGE_ROOT, "shell");

/**
 * The code a shell rc evaluates: `eval "$(ssh-anchor init bash)"`. It lives in shell/ as plain
 * files because bin/ssh-anchor prints them without starting Node (every shell start runs it).
 * @throws {UserError} for a shell it does not know.
 */
export function initScript(shell: string): string {
  if (!(SHELLS as readonly string[]).includes(shell)) {
    throw new UserError(`unknown shell "${shell}"; use one of: ${SHELLS.join(", ")}`);
  }
  return readFileSync(join(SHELL_DIR, shell === "fish" ? "init.fish" : "init.sh"), "utf8");
}
