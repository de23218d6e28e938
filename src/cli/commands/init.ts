import type { Command } from "commander";
import { initScript, scopedInitScript } from "../../features/shell/init.js";
import { printScript, runCommand } from "../output.js";
import { UserError } from "../../shared/core/errors.js";
import { SHELL_RECORDS, SHELLS } from "../../shared/core/shells.js";
import { prose } from "../help-text.js";

/** The rc file and the line for each shell, one row each. */
function rcLineTable(): string {
  const column = Math.max(...SHELL_RECORDS.map((shell) => shell.rcFile.length + 2));
  return SHELL_RECORDS.map((shell) => {
    const file = `~/${shell.rcFile}${shell.aliases.length ? ` (${[shell.name, ...shell.aliases].join(", ")})` : ""}`;
    // A file named with its shells may be longer than the column: its line goes below it.
    const beside = file.length <= column ? file.padEnd(column) : `${file}\n  ${" ".repeat(column)}`;
    return `  ${beside}  ${shell.rcLine("init")}`;
  }).join("\n");
}

export function registerInitCommand(program: Command): void {
  program
    .command("init")
    .description("print the shell code that points SSH_AUTH_SOCK at the stable socket")
    .argument("<shell>", `one of: ${SHELLS.join(", ")}`)
    .option("--link", "link mode: keep a symlink to the newest live agent instead of running the daemon")
    .option("--no-prompt", "link mode: do not check the link before every prompt and command")
    .option("--per-identity", "shared accounts: each login gets the socket of its own person's keys (see ssh-anchor scope --help)")
    .addHelpText(
      "after",
      prose(`
Put one line in your shell's rc file:
${rcLineTable()}

The code exports SSH_AUTH_SOCK, keeps the login's own socket in SSH_ANCHOR_ORIGINAL_SOCK,
starts the daemon only when it is not running (checked in plain shell, no Node start-up), and
prints nothing unless something fails. It is static: to save even the one fork per shell,
write it to a file once (ssh-anchor init bash > ~/.ssh-anchor.sh) and source that file.

Link mode (--link) runs no daemon: a symlink, ~/.ssh/anchor-<hostname>/link.sock, follows the newest
login and is repaired when its login ends (at the next prompt). Unlike the daemon it cannot
skip a sleeping laptop's login (a zombie), and between a login ending and the next prompt the
link can dangle.`),
    )
    .action((shell: string, flags: { link?: boolean; prompt?: boolean; perIdentity?: boolean }) =>
      runCommand(async () => {
        if (flags.perIdentity && flags.link) throw new UserError("--per-identity and --link do not go together: link mode has no daemon to tell people apart", 2);
        // --no-prompt only removes link mode's prompt hook: without --link it would do nothing.
        if (flags.prompt === false && !flags.link) throw new UserError("--no-prompt is for link mode only: use it with --link (the daemon needs no prompt hook)", 2);
        if (flags.perIdentity) {
          printScript(scopedInitScript(shell));
          return;
        }
        printScript(initScript(shell, { link: flags.link, prompt: flags.prompt }));
      }),
    );
}
