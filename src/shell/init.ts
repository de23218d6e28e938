import { join } from "node:path";
import { UserError } from "../core/errors.js";
import { readPackageFile } from "../core/package-root.js";

/** Shells `ssh-anchor init` writes code for. bash, zsh and sh share one POSIX script. */
export const SHELLS = ["bash", "zsh", "sh", "fish"] as const;
export type Shell = (typeof SHELLS)[number];

export interface InitOptions {
  /** Link mode: a symlink kept current by the shell, no daemon. */
  readonly link?: boolean;
  /** Link mode only: also check the link before every prompt and command (default). */
  readonly prompt?: boolean;
}

const PROMPT_HOOK = /# ssh-anchor: prompt hook\n[\s\S]*?# ssh-anchor: end of prompt hook\n/;

function shellFile(name: string): string {
  return readPackageFile(join("shell", name));
}

/**
 * The code a shell rc evaluates: `eval "$(ssh-anchor init bash)"`. It lives in shell/ as plain
 * files because bin/ssh-anchor prints them without starting Node (every shell start runs it).
 * @throws {UserError} for a shell it does not know.
 */
export function initScript(shell: string, options: InitOptions = {}): string {
  if (!(SHELLS as readonly string[]).includes(shell)) {
    throw new UserError(`unknown shell "${shell}"; use one of: ${SHELLS.join(", ")}`, 2);
  }
  const suffix = shell === "fish" ? "fish" : "sh";
  // Every script starts with the choice of directory it shares with the others (as bin/ssh-anchor
  // prints them).
  const script = shellFile(`location.${suffix}`) + shellFile(`${options.link ? "link" : "init"}.${suffix}`);
  return options.link && options.prompt === false ? script.replace(PROMPT_HOOK, "") : script;
}

/** A ~/.ssh/rc that keeps link mode's link current at every login and still runs xauth. */
export function sshRcScript(): string {
  return shellFile("location.sh") + shellFile("ssh-rc.sh");
}
