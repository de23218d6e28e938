import type { Command } from "commander";
import { DEFAULT_SESSION, parseConnectArgs } from "../../features/connect/args.js";
import { TIMING } from "../../shared/core/timing.js";
import { parseFor } from "../options.js";
import { runCommand } from "../output.js";
import { prose } from "../help-text.js";

/**
 * `connect` takes ssh's own options mixed with ours, so its arguments are parsed by ssh's
 * grammar (parseConnectArgs); commander only shows its help.
 */
export function registerConnectCommand(program: Command): void {
  program
    .command("connect")
    .usage("[options] [ssh options] [user@]host [-- command...]")
    .description("ssh to a host and stay attached to a tmux (or screen) session there, reconnecting by itself")
    .option("--session <name>", "the remote session to attach, created when missing", DEFAULT_SESSION)
    .option("--screen", "use GNU screen instead of tmux")
    .option("--log <file>", "record every disconnect, its cause, each attempt and the time to reconnect (checked at start)")
    .option("--max-attempts <n>", "give up after N failed attempts in a row")
    .option("--max-time <seconds>", "give up after reconnecting for this long")
    .option("--alive-interval <seconds>", "seconds between keepalives", String(TIMING.aliveIntervalSeconds))
    .option("--alive-count-max <n>", "unanswered keepalives before the connection counts as dead", String(TIMING.aliveCountMax))
    .option("--gpg", "forward this laptop's restricted gpg-agent socket (gpgconf's agent-extra-socket) as gpg")
    .option("--forward <name=socket>", "forward this laptop's SOCKET (yours, existing) as NAME, e.g. opener=~/.opener.sock (repeatable)")
    .addHelpText(
      "after",
      prose(`
Every other option goes to ssh, which reads ~/.ssh/config as usual (ProxyJump, IdentityAgent,
ForwardAgent...). Keepalives: every --alive-interval seconds unless your ssh config asks for a
shorter interval (an -o ServerAliveInterval=N of your own on this command line always wins).
connect makes its own connection rather than riding on a ControlMaster (ControlPath=none): a
master whose network died would stall every reconnect.

The remote side runs "tmux new-session -A -D -s <name>" (or "screen -D -R <name>"): the session is
created when missing, and other clients attached to it are detached, so that a client left
behind by a dead connection cannot keep the window small (screen: the session named exactly
<name>, never one whose name merely begins so). When the host has ssh-anchor (on PATH or in
~/.local/bin), a short sh prelude first runs "ssh-anchor session-env", which points that one
session, and no other (nor tmux's global environment), at the socket this login should hold, so
that windows opened after a reconnect reach your agent: the stable socket; the link,
where the account chose link mode (no daemon is started there); or, where the account is
per-identity, this login's own scope (never the stable socket, never another
person's scope; when the login cannot be scoped it keeps its own socket, and one line says
why). Without ssh-anchor on the host nothing changes, and one line says so.

Forwards (--gpg, --forward, and the defaults for the host in ~/.config/ssh-anchor/connect.conf:
"Host PATTERN...", then "Gpg yes" or "Forward NAME=SOCKET" lines, patterns as in ssh_config):
each connection forwards each socket to ~/.ssh/anchor-forwards/NAME.TOKEN.sock on the host, with
a fresh random TOKEN, so an old login's socket file never blocks it (no StreamLocalBindUnlink
needed) and two laptops never share a path; ssh-anchor on the host serves them at stable
paths (docs/forwards.md). TOKEN begins with the per-identity scope of the keys the forwarded
agent offers (SCOPE-RANDOM), so that on a per-identity host your forwards reach only your panes. The host's home is asked once, in one more ssh login at the first
connect, and kept in ~/.local/state/ssh-anchor/hosts/ (remove it to ask again). A forward that fails to bind
does not end the session (ExitOnForwardFailure=no, unless you give -o ExitOnForwardFailure=yes
on this command line; one in ~/.ssh/config does not win): one line says so. --gpg
forwards the restricted socket (signing and decrypting; no key export or import); to forward
another socket as gpg, such as the full one, say so: --forward gpg=SOCKET (the host then gets
full control of your agent).

Reconnects when the connection is lost (keepalives), at once when this machine's addresses or
default route change or it wakes from sleep, saying so in one line per attempt. Every lost
connection is retried at once, then after ${seconds(TIMING.reconnectFirstDelayMs)}, ${seconds(2 * TIMING.reconnectFirstDelayMs)}, ${seconds(4 * TIMING.reconnectFirstDelayMs)}... up to ${seconds(TIMING.reconnectMaxDelayMs)} s (starting over after a connection that stayed up ${seconds(TIMING.stableConnectionMs)} s).

Exit status: 0 when you detach or the session ends, ssh's status when the first connection
fails (nothing is retried then), 255 when a limit is reached, 130 for Ctrl-C while waiting,
2 for a usage error (options ssh itself rejects included, and a --log that cannot be written).

Examples:
  ssh-anchor connect -A me@devbox
  ssh-anchor connect --screen --session work -J bastion me@devbox
  ssh-anchor connect me@devbox -- htop
  ssh-anchor connect --gpg --forward opener=~/.opener.sock me@devbox`),
    );
}

/** The backoff's numbers as the help states them, so that they are written once: in TIMING. */
function seconds(ms: number): string {
  return String(ms / 1000);
}

/** Runs `connect` with its raw arguments (everything after the word "connect"). */
export function runConnect(argv: readonly string[]): Promise<void> {
  return runCommand(async () => {
    const request = parseFor("connect", () => parseConnectArgs(argv));
    const { ConnectSession } = await import("../../features/connect/session.js");
    return new ConnectSession(request).run();
  });
}

/** Whether the arguments ask for help rather than a connection (only before any `--`). */
export function wantsConnectHelp(argv: readonly string[]): boolean {
  const end = argv.indexOf("--");
  const head = end === -1 ? argv : argv.slice(0, end);
  return head.includes("--help") || head.includes("-h");
}
