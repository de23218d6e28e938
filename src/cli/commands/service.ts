import type { Command } from "commander";
import { TIMING } from "../../shared/core/timing.js";
import { EXIT_NOT_RUNNING } from "../exit-status.js";
import { collect, wholeSeconds } from "../options.js";
import { printJson, printLines, printScript, runCommand } from "../output.js";
import { prose } from "../help-text.js";

interface ServiceFlags {
  socket?: string;
  idleExit?: number;
  agentDir?: string[];
  tmpDir?: string;
  verbose?: boolean;
  start?: boolean;
  dryRun?: boolean;
}

const LINGER_NOTE =
  "linger is off: systemd stops your user instance, and with it the socket, at your last logout, " +
  "so a tmux session left running loses it; keep it with: loginctl enable-linger";

function options(flags: ServiceFlags) {
  return {
    socket: flags.socket,
    idleExitSeconds: flags.idleExit,
    agentDirs: flags.agentDir,
    tmpDir: flags.tmpDir,
    verbose: flags.verbose,
    noStart: flags.start === false,
  };
}

export function registerServiceCommand(program: Command): void {
  const service = program
    .command("service")
    .description("run the daemon under systemd: a user .socket unit on the stable socket starts it on demand")
    .addHelpText(
      "after",
      prose(`
install writes ~/.config/systemd/user/ssh-anchor.socket and ssh-anchor.service and enables the
socket: systemd holds the stable socket and starts the daemon on the first connection; the
daemon exits after --idle-exit seconds without a client and is started again by the next one
(no request is lost: the socket stays with systemd). A daemon serving per-identity sockets
(init --per-identity) does not exit: systemd cannot hold those, and panes hold their paths. Run it again after moving or upgrading
Node or ssh-anchor. The rc line (ssh-anchor init) keeps working beside it.

loginctl enable-linger keeps your systemd user instance, and so the socket, after your last
logout; without it a tmux session that outlives the logout loses the socket.`),
    );

  service
    .command("install")
    .description("write and enable the systemd user units")
    .option("-s, --socket <path>", "the stable socket (default: the one ssh-anchor start uses; status shows it)")
    .option("--idle-exit <seconds>", "the daemon exits after this long without a client (0: never)", wholeSeconds("--idle-exit"), TIMING.serviceIdleExitSeconds)
    .option("-a, --agent-dir <dir>", "also look for agent sockets in DIR; repeatable", collect)
    .option("--tmp-dir <dir>", "where sshd creates its ssh-* session directories")
    .option("-v, --verbose", "the daemon logs every connection's routing")
    .option("--no-start", "write the units only; do not tell systemd")
    .option("--dry-run", "print the units, change nothing")
    .action((flags: ServiceFlags) =>
      runCommand(async () => {
        const { installService, planService } = await import("../../features/service/service.js");
        if (flags.dryRun) {
          for (const unit of planService(options(flags)).units) {
            printLines([`# ${unit.path}`]);
            printScript(`${unit.text}\n`);
          }
          return;
        }
        const result = await installService(options(flags));
        for (const unit of result.units) printLines([`wrote ${unit.path}`]);
        if (result.stoppedDaemon) printLines(["stopped the daemon the rc line had started: systemd serves the socket now"]);
        if (result.started) printLines([`enabled ssh-anchor.socket: systemd listens on ${result.socket}`]);
        else printLines(["systemd was not told (--no-start): systemctl --user daemon-reload && systemctl --user enable --now ssh-anchor.socket"]);
        if (result.linger === false) printLines([`note: ${LINGER_NOTE}`]);
      }),
    );

  service
    .command("uninstall")
    .description("stop, disable and remove the systemd user units")
    .option("-s, --socket <path>", "the stable socket the units were installed for")
    .option("--no-start", "only remove the files; do not tell systemd")
    .action((flags: ServiceFlags) =>
      runCommand(async () => {
        const { uninstallService } = await import("../../features/service/service.js");
        const removed = await uninstallService(options(flags));
        if (removed.length === 0) printLines(["not installed: nothing to remove"]);
        for (const file of removed) printLines([`removed ${file}`]);
        if (removed.length > 0) printLines(["the rc line (ssh-anchor init) starts the daemon again at the next login"]);
      }),
    );

  service
    .command("status")
    .description("whether the units are installed, and what systemd says about them")
    .option("-s, --socket <path>", "the stable socket the units were installed for")
    .option("--json", "machine-readable output")
    .addHelpText("after", prose(`\nExit status 0: installed and listening; ${EXIT_NOT_RUNNING}: not installed or not listening.`))
    .action((flags: ServiceFlags & { json?: boolean }) =>
      runCommand(async () => {
        const { serviceStatus } = await import("../../features/service/service.js");
        const status = await serviceStatus(options(flags));
        const listening = status.installed && status.socketActive === "active";
        if (flags.json) {
          printJson({ ...status, listening });
          return listening ? 0 : EXIT_NOT_RUNNING;
        }
        printLines([`units:   ${status.installed ? "installed" : "not installed"} in ${status.directory}`]);
        if (status.socketActive === undefined) {
          printLines([`socket:  ${status.socket}; systemd: no user instance reachable (systemctl --user)`]);
        } else {
          printLines([`socket:  ${status.socket}: ssh-anchor.socket ${status.socketEnabled ?? "unknown"}, ${status.socketActive}`]);
          const daemon = status.serviceActive === "active" ? "running" : `${status.serviceActive ?? "unknown"} (started by the next connection)`;
          printLines([`daemon:  ssh-anchor.service ${daemon}`]);
        }
        printLines([`linger:  ${status.linger === undefined ? "unknown" : status.linger ? "yes" : `no: ${LINGER_NOTE}`}`]);
        return listening ? 0 : EXIT_NOT_RUNNING;
      }),
    );
}
