import type { Command } from "commander";
import { parseInstallArgs } from "../../features/install/args.js";
import { parseFor } from "../options.js";
import { printError, printLines, runCommand } from "../output.js";
import { prose } from "../help-text.js";

/**
 * `install` takes ssh's own options mixed with its own, so its arguments are parsed by ssh's
 * grammar (parseInstallArgs); commander only shows its help.
 */
export function registerInstallCommand(program: Command): void {
  program
    .command("install")
    .usage("[options] [ssh options] [user@]host")
    .description("install ssh-anchor on a host over ssh, without root (into ~/.local), set it up there and check it")
    .option("--executable <file>", "a single executable to send to a host without Node (npm run build:sea makes one); repeatable, the one for the host's architecture is used")
    .option("--shell <shell>", "the shell setup writes the init line for there (default: the account's login shell)")
    .option("--force", "install even when the host has this version or a newer one")
    .option("--dry-run", "look at the host and say what would be done; copy and change nothing")
    .option("--quiet", "print nothing when all goes well")
    .addHelpText(
      "after",
      prose(`
Uses your own ssh: its config, ProxyJump, keys; every other option goes to ssh. Three round
trips: a probe (system, architecture, Node on the host's PATH, the ssh-anchor installed there);
the copy through ssh's standard input, installed without root into ~/.local, then setup; and a
check in a fresh ssh -A login that the stable socket lists this laptop agent's keys.

What is copied: the npm package when the host has Node >= 20 (npm install -g --prefix ~/.local,
or unpacked by hand where npm is missing); otherwise the single executable for the host's
architecture as ~/.local/bin/ssh-anchor, from --executable, this program when it is one, or
build/ssh-anchor* of the package.

The same version already there, with its init line: nothing to do (status 0). An older one is
replaced, a daemon of it restarted, and setup run again.

Exit status: 0 when the host is set up (a warning on stderr when a new login shell there does not
get the stable socket), 1 when a step fails (one line: what happened, what to do), 2 for a usage
error.

Examples:
  ssh-anchor install me@devbox
  ssh-anchor install -J bastion --executable ./ssh-anchor-linux-arm64 me@pi`),
    );
}

/** Runs `install` with its raw arguments (everything after the word "install"). */
export function runInstall(argv: readonly string[]): Promise<void> {
  return runCommand(async () => {
    const request = parseFor("install", () => parseInstallArgs(argv));
    const { installOnHost } = await import("../../features/install/install.js");
    return installOnHost(request, (line) => {
      if (!request.quiet) printLines([line]);
    }, printError);
  });
}

/** Whether the arguments ask for help rather than an install. */
export function wantsInstallHelp(argv: readonly string[]): boolean {
  return argv.includes("--help") || argv.includes("-h");
}
