#!/usr/bin/env node
import { Command, CommanderError } from "commander";
import { DEFAULT_SESSION } from "../features/connect/args.js";
import { registerConnectCommand, runConnect, wantsConnectHelp } from "./commands/connect.js";
import { registerDaemonCommands } from "./commands/daemon.js";
import { registerDoctorCommand } from "./commands/doctor.js";
import { registerLinkCommands } from "./commands/link.js";
import { registerInitCommand } from "./commands/init.js";
import { registerInstallCommand, runInstall, wantsInstallHelp } from "./commands/install.js";
import { registerSetupCommand } from "./commands/setup.js";
import { registerStatusCommand } from "./commands/status.js";
import { registerForwardPathCommand } from "./commands/forward-path.js";
import { registerScopeCommand } from "./commands/scope.js";
import { registerSessionEnvCommand } from "./commands/session-env.js";
import { registerServiceCommand } from "./commands/service.js";
import { registerCompletionCommand } from "./commands/completion.js";
import { packageVersion } from "../shared/core/package-root.js";
import { UserError } from "../shared/core/errors.js";
import { printError, printLines } from "./output.js";

// A reader that went away (`ssh-anchor status | head -1`) is not an error worth a stack trace;
// a standard output that cannot be written (a full disk, /dev/full) is worth one line.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
  printError(`cannot write to standard output: ${error.code ?? error.message}`);
  process.exit(1);
});

const version = packageVersion();

const program = new Command("ssh-anchor")
  .description(
    "One stable SSH_AUTH_SOCK for the tmux and screen sessions that outlive SSH connections, " +
      "and an ssh that reconnects and re-attaches by itself.",
  )
  .version(version, "-V, --version")
  .showSuggestionAfterError()
  // commander's usage errors echo what was typed: through the one sanitiser, as one line, and
  // commander's own suggestion, its last line, as a second.
  .configureOutput({
    outputError: (text) => {
      const [error, suggestion] = text.replace(/^error: /, "").replace(/\n$/, "").split(/\n(?=\(Did you mean [^\n]*\)$)/);
      printError(error ?? "");
      if (suggestion) printLines([suggestion], process.stderr);
    },
  })
  .exitOverride()
  .addHelpText(
    "after",
    `
On the remote host:  ssh-anchor setup               adds the init line; then log in again with ssh -A
On the laptop:       ssh-anchor connect -A me@host  tmux session "${DEFAULT_SESSION}" there, back by itself
Something wrong?     ssh-anchor doctor              says what is broken and how to fix it`,
  );

registerDaemonCommands(program, version);
registerStatusCommand(program);
registerForwardPathCommand(program);
registerInitCommand(program);
registerConnectCommand(program);
registerInstallCommand(program);
registerDoctorCommand(program);
registerLinkCommands(program);
registerSetupCommand(program);
registerScopeCommand(program);
registerSessionEnvCommand(program);
registerServiceCommand(program);
registerCompletionCommand(program);

/** The command a chain of names leads to (`service install`), or undefined at the first unknown one. */
function commandAt(names: readonly string[]): Command | undefined {
  let found: Command | undefined = program;
  for (const name of names) found = found?.commands.find((c) => c.name() === name || c.aliases().includes(name));
  return found;
}

async function main(): Promise<void> {
  const [command, ...rest] = process.argv.slice(2);
  const known = (name: string): boolean => program.commands.some((c) => c.name() === name || c.aliases().includes(name));
  const nestedHelp = command === "help" && rest.length >= 2 && !rest.some((word) => word.startsWith("-"));
  if (command === "connect" && !wantsConnectHelp(rest)) {
    await runConnect(rest);
  } else if (command === "install" && !wantsInstallHelp(rest)) {
    await runInstall(rest);
  } else if (command === "help" && rest[0] !== undefined && !rest[0].startsWith("-") && !known(rest[0])) {
    // commander answers `help <unknown>` with the whole help and status 1: a typo deserves a line.
    printError(`unknown command '${rest[0]}' (see ssh-anchor --help)`);
    process.exitCode = 2;
  } else if (nestedHelp && !commandAt(rest)) {
    printError(`unknown command '${rest.join(" ")}' (see ssh-anchor help ${rest[0]})`);
    process.exitCode = 2;
  } else {
    try {
      // commander's help command looks one level down only: `help service install` would show
      // the help of `service`.
      await program.parseAsync(nestedHelp ? [...process.argv.slice(0, 2), ...rest, "--help"] : process.argv);
    } catch (error) {
      if (error instanceof UserError) {
        // An option's value rejected while parsing (by a parser of options.ts): one line, as for any usage error.
        printError(error.message);
        process.exitCode = error.exitCode;
      } else if (error instanceof CommanderError) {
        // Help and --version exit 0; usage errors were already printed as one line.
        process.exitCode = error.exitCode === 0 ? 0 : 2;
      } else {
        throw error;
      }
    }
  }
}

// No top-level await: the single executable bundles this module as CommonJS. A bug (anything
// but an expected failure) still ends the process with its stack trace and status 1.
void main();
