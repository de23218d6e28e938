import type { Command } from "commander";
import { UserError } from "../../shared/core/errors.js";
import { printLines, printScript, runCommand } from "../output.js";
import { prose } from "../help-text.js";

export function registerLinkCommands(program: Command): void {
  program
    .command("link")
    .description("link mode: point the stable link at the newest live agent now (the shell code does this by itself)")
    .option("-q, --quiet", "print nothing")
    .action((flags: { quiet?: boolean }) =>
      runCommand(async () => {
        const { linkPath, refreshLink } = await import("../../features/link/link.js");
        const target = await refreshLink();
        if (!target) {
          if (flags.quiet) return 1;
          throw new UserError("no live agent to link to: log in with agent forwarding (ssh -A)");
        }
        if (!flags.quiet) printLines([`${linkPath()} -> ${target}`]);
      }),
    );

  program
    .command("rc")
    .description("print a ~/.ssh/rc that keeps link mode's link current at every login and still runs xauth")
    .addHelpText(
      "after",
      prose(`
Install it with:
  ssh-anchor rc > ~/.ssh/rc
sshd then no longer runs xauth itself: this file does.`),
    )
    .action(() =>
      runCommand(async () => {
        const { sshRcScript } = await import("../../features/shell/init.js");
        printScript(sshRcScript());
      }),
    );
}
