import type { Command } from "commander";
import { DEFAULT_SESSION, parseConnectArgs } from "../../features/connect/args.js";
import { TIMING } from "../../shared/core/timing.js";
import { parseFor } from "../options.js";
import { runCommand } from "../output.js";

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
    .addHelpText(
      "after",
      `
Every other option goes to ssh, which reads ~/.ssh/config as usual (ProxyJump, IdentityAgent,
ForwardAgent...). Keepalives: every --alive-interval seconds unless your ssh config asks for a
shorter interval (an -o ServerAliveInterval=N of your own on this command line always wins).
connect makes its own connection rather than riding on a ControlMaster (ControlPath=none): a
master whose network died would stall every reconnect.

The remote side runs "tmux new-session -A -D -s <name>" (or "screen -D -R <name>"): the session is
created when missing, and other clients attached to it are detached, so that a client left
behind by a dead connection cannot keep the window small. When ssh-anchor is on the host's PATH,
a short sh prelude first evaluates "ssh-anchor init sh" and points tmux's global and session
environments (screen's session) at the stable socket, so that windows opened after a reconnect
reach your agent; without ssh-anchor on the host nothing changes.

Reconnects when the connection is lost (keepalives), at once when this machine's addresses or
default route change or it wakes from sleep. Every lost connection is retried at once, then
after ${seconds(TIMING.reconnectFirstDelayMs)}, ${seconds(2 * TIMING.reconnectFirstDelayMs)}, ${seconds(4 * TIMING.reconnectFirstDelayMs)}... up to ${seconds(TIMING.reconnectMaxDelayMs)} s (starting over after a connection that stayed up ${seconds(TIMING.stableConnectionMs)} s).
Exit status: 0 when you detach or the session ends, ssh's status when the first connection
fails (nothing is retried then), 255 when a limit is reached, 130 for Ctrl-C while waiting,
2 for a usage error (options ssh itself rejects included, and a --log that cannot be written).

Examples:
  ssh-anchor connect -A me@devbox
  ssh-anchor connect --screen --session work -J bastion me@devbox
  ssh-anchor connect me@devbox -- htop`,
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
