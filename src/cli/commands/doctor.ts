import type { Command } from "commander";
import type { DoctorReport, Verdict } from "../../features/doctor/doctor.js";
import { paint, printJson, printLines, runCommand, type Line, type Style } from "../output.js";
import { SSHD_TMP_ROOT } from "../../shared/discovery/layouts.js";
import { prose } from "../help-text.js";

const MARK: Record<Verdict, [string, Style]> = { ok: ["ok  ", "green"], info: ["info", "dim"], warn: ["warn", "yellow"], fail: ["FAIL", "red"] };

export function registerDoctorCommand(program: Command): void {
  program
    .command("doctor")
    .description("explain what is broken about SSH_AUTH_SOCK here, and how to fix it")
    .option("-s, --socket <path>", "the stable socket (default: as for start)")
    .option("--tmp-dir <dir>", "where sshd creates its ssh-* session directories (as for run and start)", SSHD_TMP_ROOT)
    .option("--fix", "start the daemon, point tmux and screen at the stable socket, print the line for each pane, remove this host's stale sockets in ~/.ssh/agent")
    .option("--json", "print a JSON document for scripts")
    .addHelpText(
      "after",
      prose(`
Looks at: this shell's SSH_AUTH_SOCK; the daemon and its socket's mode; every candidate agent
with its keys (found under --tmp-dir and ~/.ssh/agent, as the daemon finds them); your tmux
servers and screen sessions, and every pane that started with a dead or login-bound socket;
IdentityAgent in ssh_config; the init line in your shell rc files, and whether it works: each
kind of shell you get (bash: -lic for a login or tmux pane, -ic for a screen window, -c as sshd
runs ssh host cmd, -lc; zsh, sh or fish likewise when that is your login shell) is started under
your start-up files with sshd's bare PATH and no LANG, bounded in time, and FAILs when it does
not end up at the stable socket, with what it said and the fix.

A pane's environment is read from /proc/PID/environ: what its process started with, not what a
shell exported since. A shell whose start-up file runs the init line pointed itself at the stable
socket when it started: doctor says so (info), it does not fail it. A shell without the line, or
any other program (an editor, a long job), really holds the socket it started with.

Where per-identity is on (a start-up file runs init --per-identity, or the daemon remembers a
scope), a shell, pane, tmux or screen environment holding the shared stable socket fails, and so
does a plain or link init line in a start-up file; --fix then leaves tmux and screen alone.

Sockets of this host in ~/.ssh/agent that refuse connections (ended logins', OpenSSH >= 10.1
leaves them) are reported; --fix removes them, never one that accepts a connection nor another
host's (the host hash in the name, s.<hosthash>..., tells them apart on a shared home).

Exit status: 0 when nothing is broken, 1 when something is.`),
    )
    .action((flags: { socket?: string; tmpDir?: string; fix?: boolean; json?: boolean }) =>
      runCommand(async () => {
        const { runDoctor } = await import("../../features/doctor/doctor.js");
        const report = await runDoctor({ socket: flags.socket, tmpDir: flags.tmpDir, fix: flags.fix });
        if (flags.json) printJson(report);
        else printLines(formatReport(report));
        return report.ok ? 0 : 1;
      }),
    );
}

/** The report as lines; every value in them is sanitised when printed (printLines). */
export function formatReport(report: DoctorReport): Line[] {
  const lines: Line[] = [];
  for (const repair of report.repairs) lines.push([paint("fixed", "green"), ` ${repair}`]);
  for (const finding of report.findings) {
    const [mark, style] = MARK[finding.verdict];
    lines.push([paint(mark, style), ` ${finding.area.padEnd(10)} ${finding.title}`]);
    for (const detail of finding.details ?? []) lines.push(["                ", paint(detail, "dim")]);
    if (finding.fix && finding.verdict !== "ok") lines.push(["                fix: ", paint(finding.fix, "bold")]);
  }
  lines.push(report.ok ? "nothing is broken" : "something is broken: see the fix lines above");
  return lines;
}
