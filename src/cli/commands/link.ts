import type { Command } from "commander";
import { UserError } from "../../core/errors.js";
import { setupShell } from "../../core/shells.js";
import { runCommand } from "../output.js";
import { setupCompletions } from "./completion.js";

export function registerLinkCommands(program: Command): void {
  program
    .command("link")
    .description("link mode: point the stable link at the newest live agent now (the shell code does this by itself)")
    .option("-q, --quiet", "print nothing")
    .action((flags: { quiet?: boolean }) =>
      runCommand(async () => {
        const { linkPath, refreshLink } = await import("../../link/link.js");
        const target = await refreshLink();
        if (!target) {
          if (flags.quiet) return 1;
          throw new UserError("no live agent to link to: log in with agent forwarding (ssh -A)");
        }
        if (!flags.quiet) process.stdout.write(`${linkPath(process.getuid?.() ?? 0)} -> ${target}\n`);
      }),
    );

  program
    .command("rc")
    .description("print a ~/.ssh/rc that keeps link mode's link current at every login and still runs xauth")
    .addHelpText("after", "\nInstall it with: ssh-anchor rc > ~/.ssh/rc   (sshd then no longer runs xauth itself; this file does)")
    .action(() =>
      runCommand(async () => {
        const { sshRcScript } = await import("../../shell/init.js");
        process.stdout.write(sshRcScript());
      }),
    );

  program
    .command("setup")
    .description("add the init line to your shell rc (and, if asked, IdentityAgent to ~/.ssh/config)")
    .option("--shell <shell>", `bash, zsh, sh (also dash, ksh) or fish (default: from $SHELL)`)
    .option("--link", "set up link mode (no daemon) instead")
    .option("--ssh-config", "also point every ssh at the stable socket in ~/.ssh/config")
    .option("--dry-run", "show what would change, change nothing")
    .option("--undo", "remove exactly what setup added")
    .option("--completions", "also install tab completion for the shell (bash, zsh, fish)")
    .addHelpText(
      "after",
      "\nIdempotent: a second run changes nothing. The first change to a file keeps its original as\n" +
        "<file>.ssh-anchor-backup (setup says where); that copy is never overwritten, not by --undo either.\n" +
        "--dry-run prints the change and writes nothing.",
    )
    .action((flags: { shell?: string; link?: boolean; sshConfig?: boolean; dryRun?: boolean; undo?: boolean; completions?: boolean }) =>
      runCommand(async () => {
        const { applySetup, describeChange, planSetup } = await import("../../setup/setup.js");
        const shell = setupShell(flags.shell).name;
        if (flags.completions || flags.undo) await setupCompletions(program, shell, flags);
        const changes = await planSetup({ shell, link: flags.link, sshConfig: flags.sshConfig }, flags.undo);
        if (changes.length === 0) {
          process.stdout.write(flags.undo ? "nothing to undo\n" : "already set up: nothing to change\n");
          return;
        }
        for (const change of changes) process.stdout.write(`${describeChange(change)}\n`);
        if (flags.dryRun) {
          process.stdout.write("dry run: nothing was written\n");
          return;
        }
        for (const { file, backup, made } of await applySetup(changes)) {
          if (flags.undo && made) {
            process.stdout.write(`backup of ${file} as it was before --undo: ${backup}\n`);
          } else if (flags.undo) {
            if (backup) process.stdout.write(`the backup ${backup} is left as it was (the original before setup's first change); remove it when you like\n`);
          } else if (made) {
            process.stdout.write(`backup of ${file}: ${backup}\n`);
          } else if (backup) {
            process.stdout.write(`backup of ${file}: ${backup} (kept from setup's first change)\n`);
          } else {
            process.stdout.write(`created ${file} (it did not exist: no backup)\n`);
          }
        }
        process.stdout.write(flags.undo ? "removed; open a new shell\n" : "done; open a new shell (or log in again) to use it\n");
      }),
    );
}
