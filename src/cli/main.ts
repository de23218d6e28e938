#!/usr/bin/env node
import { Command, CommanderError } from "commander";
import { registerConnectCommand, runConnect, wantsConnectHelp } from "./commands/connect.js";
import { registerDaemonCommands } from "./commands/daemon.js";
import { registerDoctorCommand } from "./commands/doctor.js";
import { registerLinkCommands } from "./commands/link.js";
import { registerInitCommand } from "./commands/init.js";
import { registerStatusCommand } from "./commands/status.js";
import { registerServiceCommand } from "./commands/service.js";
import { registerCompletionCommand } from "./commands/completion.js";
import { packageVersion } from "../package-root.js";

// A reader that went away (`ssh-anchor status | head -1`) is not an error worth a stack trace.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
  throw error;
});

const version = packageVersion();

const program = new Command("ssh-anchor")
  .description(
    "One stable SSH_AUTH_SOCK for the tmux and screen sessions that outlive SSH connections, " +
      "and an ssh that reconnects and re-attaches by itself.",
  )
  .version(version, "-V, --version")
  .showSuggestionAfterError()
  .configureOutput({ outputError: (text, write) => write(`ssh-anchor: ${text.replace(/^error: /, "")}`) })
  .exitOverride()
  .addHelpText(
    "after",
    `
On the remote host:  ssh-anchor setup     (adds the init line to your shell rc; log in again
                                         with ssh -A: old panes keep reaching your agent)
On the laptop:       ssh-anchor connect -A me@host   (tmux session "main", back by itself)
Something wrong?     ssh-anchor doctor`,
  );

registerDaemonCommands(program, version);
registerStatusCommand(program);
registerInitCommand(program);
registerConnectCommand(program);
registerDoctorCommand(program);
registerLinkCommands(program);
registerServiceCommand(program);
registerCompletionCommand(program);

async function main(): Promise<void> {
  const [command, ...rest] = process.argv.slice(2);
  if (command === "connect" && !wantsConnectHelp(rest)) {
    await runConnect(rest);
  } else {
    try {
      await program.parseAsync(process.argv);
    } catch (error) {
      if (!(error instanceof CommanderError)) throw error;
      // Help and --version exit 0; usage errors were already printed as one line.
      process.exitCode = error.exitCode === 0 ? 0 : 2;
    }
  }
}

// No top-level await: the single executable bundles this module as CommonJS. A bug (anything
// but an expected failure) still ends the process with its stack trace and status 1.
void main();
