import type { Command } from "commander";
import { COMPLETION_SHELLS, SHELL_RECORDS, setupShell } from "../../shared/core/shells.js";
import { UserError } from "../../shared/core/errors.js";
import { printError, printLines, runCommand } from "../output.js";
import { prose } from "../help-text.js";

/** "bash, zsh, sh (also dash, ksh, mksh, ash) or fish": every name --shell takes. */
function shellChoices(): string {
  const names = SHELL_RECORDS.map((shell) => (shell.aliases.length ? `${shell.name} (also ${shell.aliases.join(", ")})` : shell.name));
  return `${names.slice(0, -1).join(", ")} or ${names.at(-1)}`;
}

export function registerSetupCommand(program: Command): void {
  program
    .command("setup")
    .description("add the init line to your shell rc (and, if asked, IdentityAgent to ~/.ssh/config)")
    .option("--shell <shell>", `${shellChoices()} (default: from $SHELL)`)
    .option("--link", "set up link mode (no daemon) instead")
    .option("--per-identity", "the line of shared accounts: each login gets its own person's socket (chosen by itself where per-identity is on)")
    .option("--ssh-config", "also point every ssh at the stable socket in ~/.ssh/config")
    .option("--dry-run", "show what would change, change nothing")
    .option("--undo", "remove exactly what setup added")
    .option("--completions", `also install tab completion for the shell (${COMPLETION_SHELLS.join(", ")})`)
    .option("--forwards <host>", "on the laptop: write HOST's forwards for plain ssh into ~/.ssh/config (with --gpg, --forward; nothing else)")
    .option("--gpg", "with --forwards: forward this laptop's restricted gpg-agent socket (agent-extra-socket) as gpg")
    .option("--forward <name=socket>", "with --forwards: forward this laptop's SOCKET as NAME (repeatable)", (value: string, previous: string[] = []) => [...previous, value])
    .option("--remote-home <path>", "with --forwards: HOST's home, when known (else setup asks HOST once)")
    .addHelpText(
      "after",
      prose(`
Idempotent: a second run changes nothing. The first change to a file keeps its original as
<file>.ssh-anchor-backup (setup says where); that copy is never overwritten, not by --undo
either. --dry-run prints the change and writes nothing. A symlinked file (dotfiles) is changed
where it leads, if that is a regular file of yours, and stays a link (--undo too).

One init line per shell: where the shell's start-up files already run one (written by hand or by
setup, a sourced saved script too), setup adds none; if that one is another form, it refuses and
names the file and line. Where per-identity is on for the account (a start-up file runs init
--per-identity, or the daemon remembers a scope) it writes the per-identity line, and refuses
--link and --ssh-config: both would reach whoever logged in last.

The line runs ssh-anchor by the absolute path setup was run as ("$HOME/..." under your home),
and the code it prints calls that same path: it works whether ssh-anchor is on PATH when a shell
starts or not (Debian's ~/.profile adds ~/.local/bin only after ~/.bashrc ran; sshd's PATH never
has it). In ~/.bashrc the block goes first, before the early return of a shell that is not
interactive (ssh host cmd reads it too). An older setup's line by name is replaced. setup warns
when the line would not run at a later login (a temporary directory).

On the laptop, --forwards HOST writes a block for HOST at the top of ~/.ssh/config (replaced when
run again; --forwards HOST --undo removes it, setup --undo every host's): RemoteForward lines to
HOME/.ssh/anchor-forwards/NAME.%C.sock there, HOME being HOST's home, which setup asks HOST for
in one ssh login (that also makes the directory, 0700). When ssh forwards an agent with keys to
HOST, the token is SCOPE-%C: the per-identity scope of those keys now (run setup again after
changing them), so that on a per-identity host the forwards reach only your panes. %C differs
between laptops; ssh has no token that changes per connection, so a forward fails while an older
login of this laptop still holds its path (a zombie): ssh-anchor connect --gpg/--forward has no
such limit.`),
    )
    .action((flags: SetupFlags) =>
      runCommand(async () => {
        const { applySetup, backupNote, describeChange, loginPathNote, planSetup } = await import("../../features/setup/setup.js");
        const note = (line: string) => printLines([line]);
        const forwards = await hostForwards(flags, note);
        const shell = forwards ? "sh" : setupShell(flags.shell).name;
        if (!forwards && (flags.completions || flags.undo)) {
          const { setupCompletions } = await import("../../features/completion/install.js");
          for (const line of await setupCompletions(program, shell, flags)) printLines([line]);
        }
        const warn = (line: string) => printError(line);
        const changes = await planSetup({ shell, link: flags.link, perIdentity: flags.perIdentity, sshConfig: flags.sshConfig, forwards, note, warn }, flags.undo);
        if (changes.length === 0) {
          printLines([flags.undo ? "nothing to undo" : "already set up: nothing to change"]);
          return;
        }
        for (const change of changes) printLines(describeChange(change).split("\n"));
        if (flags.dryRun) {
          printLines(["dry run: nothing was written"]);
          return;
        }
        for (const backup of await applySetup(changes)) {
          const note = backupNote(backup, Boolean(flags.undo));
          if (note) printLines([note]);
        }
        if (forwards) {
          printLines([flags.undo ? `removed ${forwards.host}'s forwards` : `done; the next ssh ${forwards.host} forwards ${forwards.forwards.map((forward) => forward.name).join(", ")}`]);
          return;
        }
        printLines([flags.undo ? "removed; open a new shell (a daemon that is running keeps serving until: ssh-anchor stop)" : "done; open a new shell (or log in again) to use it"]);
        const pathNote = flags.undo ? undefined : await loginPathNote();
        if (pathNote) printLines([pathNote]);
      }),
    );
}

interface SetupFlags {
  shell?: string;
  link?: boolean;
  perIdentity?: boolean;
  sshConfig?: boolean;
  dryRun?: boolean;
  undo?: boolean;
  completions?: boolean;
  forwards?: string;
  gpg?: boolean;
  forward?: string[];
  remoteHome?: string;
}

/** `--forwards HOST` and its own options, or undefined (and none of those options) without it. */
async function hostForwards(flags: SetupFlags, say: (line: string) => void) {
  const own = flags.gpg || flags.forward?.length || flags.remoteHome !== undefined;
  if (flags.forwards === undefined) {
    if (own) throw new UserError("--gpg, --forward and --remote-home go with --forwards HOST", 2);
    return undefined;
  }
  if (flags.link || flags.perIdentity || flags.sshConfig || flags.completions || flags.shell) {
    throw new UserError("--forwards HOST writes only that host's block in ~/.ssh/config: run setup's other options on their own", 2);
  }
  const { resolveHostForwards } = await import("../../features/setup/forwards.js");
  return resolveHostForwards({ host: flags.forwards, gpg: flags.gpg, forward: flags.forward, remoteHome: flags.remoteHome, undo: flags.undo }, say);
}
