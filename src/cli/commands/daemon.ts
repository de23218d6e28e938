import type { Command } from "commander";
import { RUN_DEFAULTS, runForeground, type RunFlags } from "../daemon-main.js";
import { collect, positiveInteger } from "../options.js";
import { printLines, runCommand } from "../output.js";
import { prose } from "../help-text.js";

const SOCKET_HELP = "the stable socket, an absolute path (default: $SSH_ANCHOR_SOCKET, else ~/.ssh/anchor-$HOSTNAME/agent.sock, else $XDG_RUNTIME_DIR/ssh-anchor/agent.sock, else /tmp/ssh-anchor-$UID/agent.sock)";
const TMP_DIR_HELP = "where sshd creates its ssh-* session directories";
const AGENT_DIR_HELP = "also look for agent sockets in DIR (its sockets and its ssh-* directories; not read when someone else could replace it); repeatable";

/** The options `run` and `start` share: where the socket is and where agents are. */
function daemonOptions(command: Command): Command {
  return command
    .option("-s, --socket <path>", SOCKET_HELP)
    .option("-a, --agent-dir <dir>", AGENT_DIR_HELP, collect)
    .option("--tmp-dir <dir>", TMP_DIR_HELP, RUN_DEFAULTS.tmpDir)
    .option("-v, --verbose", "log every connection's routing, not only changes");
}

export function registerDaemonCommands(program: Command, version: string): void {
  daemonOptions(
    program.command("run").description("run the daemon in the foreground (for systemd and other supervisors); logs to stderr"),
  )
    .option("--log-file <file>", "log to FILE (size-bounded) instead of stderr")
    .option("--reply-timeout <ms>", "probe an agent that leaves a request unanswered this long", positiveInteger("--reply-timeout"), RUN_DEFAULTS.replyTimeout)
    .option("--probe-timeout <ms>", "an agent that does not answer a probe this fast is a zombie", positiveInteger("--probe-timeout"), RUN_DEFAULTS.probeTimeout)
    .option("--max-wait <seconds>", "never keep a request waiting on an unresponsive agent longer", positiveInteger("--max-wait"), RUN_DEFAULTS.maxWait)
    .option("--idle-exit <seconds>", "socket-activated only: exit after this long with no client connection (never while it serves per-identity sockets)", positiveInteger("--idle-exit"))
    .addHelpText(
      "after",
      prose(`
Signals: SIGTERM and SIGINT stop it (the socket is removed, exit 0); SIGHUP rescans agents.

Exit status 3: another daemon already serves the socket.`),
    )
    // The daemon's own entry point (dist/daemon.js) reads the same words: src/cli/daemon-main.ts.
    .action((flags: RunFlags) => runForeground(flags, version));

  daemonOptions(program.command("start").description("start the daemon in the background (nothing happens when it already runs)"))
    .option("-q, --quiet", "print nothing on success")
    .option("--print-socket", "print only the socket's path (the shell code exports it)")
    .action((flags: { socket?: string; agentDir?: string[]; tmpDir?: string; verbose?: boolean; quiet?: boolean; printSocket?: boolean }) =>
      runCommand(async () => {
        const { DRY_START_ENV, dryStart, startInBackground } = await import("../../shared/control/lifecycle.js");
        if (process.env[DRY_START_ENV] === "1") {
          const paths = await dryStart({ socket: flags.socket });
          if (flags.printSocket) printLines([paths.socket]);
          return;
        }
        const result = await startInBackground({
          socket: flags.socket,
          agentDirs: flags.agentDir,
          tmpDir: flags.tmpDir,
          verbose: flags.verbose,
        });
        if (flags.printSocket) printLines([`${result.paths.socket}`]);
        if (flags.quiet || flags.printSocket) return;
        const state = result.alreadyRunning ? "already running" : "started";
        printLines([`ssh-anchor ${state} (pid ${result.pid}) on ${result.paths.socket}`]);
        printLines([`use it with: export SSH_AUTH_SOCK=${result.paths.socket}`]);
      }),
    );

  program
    .command("stop")
    .description("stop the daemon and remove its socket")
    .option("-s, --socket <path>", SOCKET_HELP)
    .action((flags: { socket?: string }) =>
      runCommand(async () => {
        const { stopDaemon } = await import("../../shared/control/lifecycle.js");
        const stopped = await stopDaemon({ socket: flags.socket });
        printLines([stopped ? "ssh-anchor stopped" : "ssh-anchor was not running"]);
      }),
    );
}
