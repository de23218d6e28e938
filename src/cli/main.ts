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
import { unknownCommand, unknownOption, usageMessage } from "../shared/core/usage.js";
import { withUsageHelp } from "./options.js";
import { printError } from "./output.js";

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
  // Usage errors take the one shape of src/shared/core/usage.ts, with our own suggestion.
  .showSuggestionAfterError(false)
  .exitOverride()
  .addHelpText(
    "after",
    `
On the remote host:  ssh-anchor setup               then log in with ssh -A
On the laptop:       ssh-anchor connect -A me@host  tmux "${DEFAULT_SESSION}", back by itself
Something wrong?     ssh-anchor doctor              what is broken, and the fix`,
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

/** The words after `ssh-anchor` that name `command` ("service install"; "" for the program). */
function pathOf(command: Command): string {
  const names: string[] = [];
  for (let at: Command | null = command; at && at !== program; at = at.parent) names.unshift(at.name());
  return names.join(" ");
}

/** Names a command answers to (for suggestions). */
const namesOf = (command: Command): string[] => command.commands.flatMap((c) => [c.name(), ...c.aliases()]);

/**
 * commander's usage error (`error: unknown option '--fixx'`) in the one shape, as one line
 * through the one sanitiser (it echoes what was typed): the suggestion is ours, by edit distance
 * over the options or subcommands of the command it happened in.
 */
function usageLine(text: string, command: Command): string {
  const what = (text.replace(/^error: /, "").split("\n")[0] ?? "").replace(/\.$/, "");
  const option = /^unknown option '(.*)'$/.exec(what)?.[1];
  if (option !== undefined) {
    const known = [...command.options.flatMap((o) => [o.long, o.short]), "--help", ...(command === program ? ["--version"] : [])];
    return unknownOption(option, known.filter((flag): flag is string => Boolean(flag)), pathOf(command)).message;
  }
  const name = /^unknown command '(.*)'$/.exec(what)?.[1];
  if (name !== undefined) return unknownCommand(name, namesOf(command), pathOf(command)).message;
  return usageMessage(what, pathOf(command));
}

/** Every command prints its usage errors through usageLine, knowing where it is. */
function configureUsageErrors(command: Command): void {
  command.configureOutput({ outputError: (text) => printError(usageLine(text, command)) });
  for (const sub of command.commands) configureUsageErrors(sub);
}
configureUsageErrors(program);

/** The command the leading words of `argv` name (the program when none). */
function commandOf(argv: readonly string[]): Command {
  let found: Command = program;
  for (const word of argv) {
    const next = found.commands.find((c) => c.name() === word || c.aliases().includes(word));
    if (!next) break;
    found = next;
  }
  return found;
}

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
    const error = unknownCommand(rest[0], namesOf(program), "");
    printError(error.message);
    process.exitCode = error.exitCode;
  } else if (nestedHelp && !commandAt(rest)) {
    const parent = commandOf(rest);
    const error = unknownCommand(rest.join(" "), namesOf(parent), pathOf(parent));
    printError(error.message);
    process.exitCode = error.exitCode;
  } else {
    try {
      // commander's help command looks one level down only: `help service install` would show
      // the help of `service`.
      await program.parseAsync(nestedHelp ? [...process.argv.slice(0, 2), ...rest, "--help"] : process.argv);
    } catch (error) {
      if (error instanceof UserError) {
        // An option's value rejected while parsing (by a parser of options.ts): one line, as for any usage error.
        const shaped = withUsageHelp(error, pathOf(commandOf(process.argv.slice(2))));
        printError(shaped.message);
        process.exitCode = shaped.exitCode;
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
