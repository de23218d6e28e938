import type { Command } from "commander";
import { printError, printJson, printLines, runCommand } from "../output.js";
import { prose } from "../help-text.js";

export function registerScopeCommand(program: Command): void {
  program
    .command("scope")
    .description("print this login's per-identity socket (shared accounts; used by init --per-identity)")
    .option("-s, --socket <path>", "the stable socket (default: as for start)")
    .option("--json", "print the scope (id, socket, key fingerprints) as JSON")
    .addHelpText(
      "after",
      prose(`
Run at login, with SSH_AUTH_SOCK still the login's own forwarded socket. The scope is the set
of keys that agent offers (certificates left out); the socket printed reaches only agents that
offer every one of those keys, the login last used first, and answers as an empty agent when none is
connected. It starts the daemon when it does not run.

Exit status 1, with the reason on stderr, when this login cannot be scoped: then keep using
the login's own SSH_AUTH_SOCK.`),
    )
    .action((flags: { socket?: string; json?: boolean }) =>
      runCommand(async () => {
        const { requestScope } = await import("../../shared/control/scope.js");
        const answer = await requestScope({ socket: flags.socket });
        for (const warning of answer.warnings) printError(`warning: ${warning}`);
        if (flags.json) printJson(answer);
        else printLines([answer.socket]);
      }),
    );
}
