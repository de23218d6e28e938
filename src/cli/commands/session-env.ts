import type { Command } from "commander";
import { printError, printScript, runCommand } from "../output.js";
import { UserError } from "../../shared/core/errors.js";
import { printable } from "../../shared/core/text.js";
import { prose } from "../help-text.js";

export function registerSessionEnvCommand(program: Command): void {
  program
    // connect's plumbing: left out of --help's list and of completion (its own --help and the
    // man page have it); its usage line was also what kept that list from wrapping at 80 columns.
    .command("session-env", { hidden: true })
    .description("print the sh code connect's remote side evaluates: this login's socket for the one session it attaches")
    .argument("<multiplexer>", "tmux or screen")
    .argument("<name>", "the session connect attaches or creates")
    .argument("[target]", "screen only: the existing session's exact <pid>.<name>")
    .option("-q, --quiet", "say nothing (connect's reconnects: it said it once)")
    .addHelpText(
      "after",
      prose(`
connect runs it on the host before "tmux new-session -A -D -s <name>" (or screen) and
evaluates what it prints. It points that one session, and no other (nor tmux's global
environment), at the socket this login should hold:
  - where per-identity is on (an rc file runs "ssh-anchor init --per-identity", or the daemon
    remembers a scope): the scope of the agent this login forwarded (as ssh-anchor scope),
    never the stable socket, which reaches whoever logged in last; when the login cannot be
    scoped, its own socket, and one line on stderr says why;
  - where the account chose link mode (an rc file runs "ssh-anchor init --link" and none the
    daemon's line): the link, as "ssh-anchor init --link sh" gives it; no daemon is started;
  - otherwise the stable socket, as "ssh-anchor init sh" gives it.`),
    )
    .action((multiplexer: string, name: string, target: string | undefined, flags: { quiet?: boolean }) =>
      runCommand(async () => {
        if (multiplexer !== "tmux" && multiplexer !== "screen") throw new UserError(`unknown multiplexer "${printable(multiplexer)}": tmux or screen`, 2);
        const { sessionEnv } = await import("../../features/shell/session-env.js");
        const result = await sessionEnv({ multiplexer, session: name, target: target || undefined });
        if (!flags.quiet) for (const notice of result.notices) printError(notice);
        printScript(result.script);
      }),
    );
}
