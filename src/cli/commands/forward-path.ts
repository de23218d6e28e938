import type { Command } from "commander";
import { printLines, runCommand } from "../output.js";
import { prose } from "../help-text.js";

export function registerForwardPathCommand(program: Command): void {
  program
    .command("forward-path")
    .description("print the stable socket of a forwarded socket NAME (gpg, or a name given to connect --forward)")
    .argument("<name>", "the forward's name: gpg, or e.g. opener, clipboard")
    .option("-s, --socket <path>", "the stable agent socket (default: as for start): the forward's is beside it")
    .option("--scope <id>", "a per-identity scope's socket (id-<scope>.NAME.sock); default: the scope of this shell's SSH_AUTH_SOCK when it is a scoped socket")
    .addHelpText(
      "after",
      prose(`
A login forwards NAME to ~/.ssh/anchor-forwards/NAME.TOKEN.sock; the daemon serves NAME on this
path, paired with the newest live login's. In a shell of a per-identity scope (SSH_AUTH_SOCK is
its id-<scope>.sock) it prints that scope's socket, which reaches only that person's logins (the
scope is in the forward's TOKEN: connect and setup --forwards put it there).

Example, a URL opened on the laptop from an old tmux pane:
  socket=$(ssh-anchor forward-path opener)
  printf '%s\\n' "$url" | socat - UNIX-CONNECT:"$socket"`),
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
        // This shell's scope: its SSH_AUTH_SOCK is a scoped socket of this daemon's directory.
        const { basename, dirname } = await import("node:path");
        const { SCOPED_SOCKET_NAME } = await import("../../shared/scope/socket-path.js");
        const agent = process.env.SSH_AUTH_SOCK ?? "";
        const own = dirname(agent) === paths.directory && SCOPED_SOCKET_NAME.test(basename(agent)) ? basename(agent).slice(3, -5) : undefined;
        printLines([stableForwardPath(paths.directory, name, flags.scope ?? own)]);
        return 0;
      }),
    );
}
