import type { Command } from "commander";
import { printLines, runCommand } from "../output.js";

export function registerForwardPathCommand(program: Command): void {
  program
    .command("forward-path")
    .description("print the stable socket of a forwarded socket NAME (gpg, or a name given to connect --forward)")
    .argument("<name>", "the forward's name: gpg, or e.g. opener, clipboard")
    .option("-s, --socket <path>", "the stable agent socket (default: as for start): the forward's is beside it")
    .option("--scope <id>", "a per-identity scope's socket (id-<scope>.NAME.sock)")
    .addHelpText(
      "after",
      "\nA login forwards NAME to ~/.ssh/anchor-forwards/NAME.TOKEN.sock; the daemon serves NAME on this path,\n" +
        "paired with the newest live login's. Example, a URL opened on the laptop from an old tmux pane:\n" +
        '  printf \'%s\\n\' "$url" | socat - UNIX-CONNECT:"$(ssh-anchor forward-path opener)"',
    )
    .action((name: string, flags: { socket?: string; scope?: string }) =>
      runCommand(async () => {
        const { UserError } = await import("../../shared/core/errors.js");
        const { forwardNameRefusal, stableForwardPath } = await import("../../shared/discovery/forwards.js");
        const { daemonPaths } = await import("../../shared/core/location.js");
        const { currentUid } = await import("../../shared/core/trust.js");
        const { SCOPE_ID } = await import("../../shared/scope/rule.js");
        const refusal = forwardNameRefusal(name);
        if (refusal) throw new UserError(refusal);
        if (flags.scope !== undefined && !SCOPE_ID.test(flags.scope)) throw new UserError(`"${flags.scope}" is not a scope id`);
        const paths = daemonPaths(flags.socket, { uid: currentUid() });
        printLines([stableForwardPath(paths.directory, name, flags.scope)]);
        return 0;
      }),
    );
}
