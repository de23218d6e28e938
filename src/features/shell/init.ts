import { join } from "node:path";
import { initShell } from "../../shared/core/shells.js";
import { ownCommand, readPackageFile } from "../../shared/core/package-root.js";

export interface InitOptions {
  /** The command the scripts call for start, scope and link (default: the one running, ownCommand()). */
  readonly command?: string;
  /** Link mode: a symlink kept current by the shell, no daemon. */
  readonly link?: boolean;
  /** Link mode only: also check the link before every prompt and command (default). */
  readonly prompt?: boolean;
}

const PROMPT_HOOK = /# ssh-anchor: prompt hook\n[\s\S]*?# ssh-anchor: end of prompt hook\n/;

// Through readPackageFile: the single executable has the shell files embedded.
function shellFile(name: string): string {
  return readPackageFile(join("shell", name));
}

/**
 * The first line of every init script: the command its code calls (start, scope, link), as
 * bin/ssh-anchor writes it without Node (keep the two in step): the absolute path this ssh-anchor
 * was run as, bare when it holds only plain characters, else in single quotes; `ssh-anchor` by
 * name when the path holds a quote or a backslash, or the path is not known. Not by name
 * otherwise: a login's PATH may not hold it (Debian's ~/.profile runs ~/.bashrc before it adds
 * ~/.local/bin; sshd's non-interactive PATH never has it).
 * @example commandLine("sh", "/home/me/.local/bin/ssh-anchor") // "__ssh_anchor_bin=/home/me/.local/bin/ssh-anchor\n"
 */
export function commandLine(scripts: "sh" | "fish", command: string | undefined = ownCommand()): string {
  const word = command === undefined || /['\\]/.test(command) ? "ssh-anchor" : /^[A-Za-z0-9_./+@%,:-]+$/.test(command) ? command : `'${command}'`;
  return scripts === "fish" ? `set -g __ssh_anchor_bin ${word}\n` : `__ssh_anchor_bin=${word}\n`;
}

/**
 * The code a shell rc evaluates: `eval "$(ssh-anchor init bash)"`. It lives in shell/ as plain
 * files because bin/ssh-anchor prints them without starting Node (every shell start runs it).
 * @throws {UserError} for a shell it does not know.
 * @example initScript("fish", { link: true }) // shell/location.fish, then shell/link.fish
 */
export function initScript(shell: string, options: InitOptions = {}): string {
  const { scripts } = initShell(shell);
  // Every script starts with the choice of directory it shares with the others (as bin/ssh-anchor
  // prints them).
  const script = commandLine(scripts, options.command ?? ownCommand()) + shellFile(`location.${scripts}`) + shellFile(`${options.link ? "link" : "init"}.${scripts}`);
  return options.link && options.prompt === false ? script.replace(PROMPT_HOOK, "") : script;
}

/**
 * The code of `ssh-anchor init --per-identity <shell>` (shell/scoped.sh, shell/scoped.fish).
 * bin/ssh-anchor prints the same files without starting Node.
 * @throws {UserError} for a shell it does not know.
 * @example scopedInitScript("zsh") // the text of shell/scoped.sh
 */
export function scopedInitScript(shell: string, command: string | undefined = ownCommand()): string {
  const { scripts } = initShell(shell);
  return commandLine(scripts, command) + shellFile(`scoped.${scripts}`);
}

/**
 * A ~/.ssh/rc that keeps link mode's link current at every login and still runs xauth.
 * @example process.stdout.write(sshRcScript()) // what `ssh-anchor rc` prints
 */
export function sshRcScript(): string {
  return shellFile("location.sh") + shellFile("ssh-rc.sh");
}
