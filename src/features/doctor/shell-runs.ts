import { DRY_START_ENV } from "../../shared/control/lifecycle.js";
import { runProgram } from "../../shared/core/exec.js";
import { SSHD_PATH } from "../../shared/core/login-path.js";
import { printable } from "../../shared/core/text.js";
import { TIMING } from "../../shared/core/timing.js";
import type { KnownShell } from "../../shared/core/shells.js";

/**
 * doctor does not trust the start-up files' text to say what a shell gets: it starts each kind
 * of shell the user gets, as they are started for real, under the user's own start-up files,
 * and reads the SSH_AUTH_SOCK each ends up with. Each runs with sshd's bare PATH and no LANG
 * (what a login starts from: /etc/profile and the user's files add the rest), bounded in time.
 */


/** A socket path no shell can hold unless it kept what it was given: the line did not run. */
const GIVEN = "/nonexistent/ssh-anchor-doctor/forwarded.sock";
const MARK = "ssh-anchor-doctor-sock=";

/** One kind of shell the user gets, and how it is started. */
export interface ShellKind {
  /** In words: "a login shell (ssh host, a tmux pane)". */
  readonly what: string;
  /** The command line, as the user would type it to try it. */
  readonly shown: string;
  readonly args: readonly string[];
  /** Extra environment (SSH_CLIENT: bash reads ~/.bashrc for a command sshd runs). */
  readonly env?: Readonly<Record<string, string>>;
  /** A kind that cannot run a start-up line at all (sh -c): said, never failed. */
  readonly cannot?: string;
  /** Whether not getting the socket fails (login and interactive shells) or warns. */
  readonly needed: boolean;
}

const PRINT = `printf '${MARK}%s\\n' "$SSH_AUTH_SOCK"`;

/** The kinds of shell a user whose login shell is `shell` gets. */
export function shellKinds(shell: KnownShell): ShellKind[] {
  const name = shell.name;
  const login: ShellKind = { what: "a login shell (ssh host, a tmux pane)", shown: `${name} -lic`, args: ["-l", "-i", "-c", PRINT], needed: true };
  const interactive: ShellKind = { what: "an interactive shell (a screen window, a terminal)", shown: `${name} -ic`, args: ["-i", "-c", PRINT], needed: true };
  switch (name) {
    case "bash":
      return [
        login,
        interactive,
        // bash reads ~/.bashrc for a command sshd runs (SSH_CLIENT set): Debian's, Ubuntu's and
        // Fedora's bash are built so.
        { what: "a command over ssh (ssh host cmd)", shown: "bash -c (as sshd runs it)", args: ["-c", PRINT], env: { SSH_CLIENT: "127.0.0.1 22 22" }, needed: true },
        { what: "a non-interactive login shell", shown: "bash -lc", args: ["-l", "-c", PRINT], needed: false },
      ];
    case "zsh":
      return [login, interactive, { what: "a command over ssh (ssh host cmd)", shown: "zsh -c", args: ["-c", PRINT], needed: false }];
    case "fish":
      return [login, { what: "an interactive shell (a screen window, a terminal)", shown: "fish -ic", args: ["-i", "-c", PRINT], needed: true }, { what: "a command over ssh (ssh host cmd)", shown: "fish -c", args: ["-c", PRINT], needed: true }];
    default:
      return [
        { what: "a login shell (ssh host, a tmux pane)", shown: "sh -lc", args: ["-l", "-c", PRINT], needed: true },
        { what: "a command over ssh (ssh host cmd)", shown: "sh -c", args: ["-c", PRINT], needed: false, cannot: "sh reads no start-up file for a command: it keeps the login's own socket" },
      ];
  }
}

/** What one kind of shell ended up with. */
export interface ShellRun {
  readonly kind: ShellKind;
  /** Its SSH_AUTH_SOCK at the end of its start-up, or undefined when it printed none. */
  readonly socket: string | undefined;
  /** Whether that is one of the stable sockets. */
  readonly stable: boolean;
  /** What it said on stderr that matters (command not found, ssh-anchor's own lines), or why it did not finish. */
  readonly said: string | undefined;
}

/** Lines of an interactive shell without a terminal that say nothing about the init line. */
const NOISE = /cannot set terminal process group|no job control in this shell|Inappropriate ioctl|can't access tty|job control turned off/i;

/**
 * Starts each kind of shell with the user's home and start-up files and reads its SSH_AUTH_SOCK.
 * @example await runShellKinds("/bin/bash", initShell("bash"), { home: "/home/me", user: "me", stable: ["/home/me/.ssh/anchor-h/agent.sock"] })
 */
export async function runShellKinds(
  program: string,
  shell: KnownShell,
  options: { readonly home: string; readonly user: string | undefined; readonly stable: readonly string[]; readonly socketOverride?: string },
): Promise<ShellRun[]> {
  const runs: ShellRun[] = [];
  for (const kind of shellKinds(shell)) {
    if (kind.cannot) {
      runs.push({ kind, socket: GIVEN, stable: false, said: kind.cannot });
      continue;
    }
    const env: NodeJS.ProcessEnv = {
      HOME: options.home,
      PATH: SSHD_PATH,
      SHELL: program,
      TERM: "dumb",
      SSH_AUTH_SOCK: GIVEN,
      // Their init line says where start would serve, and starts nothing.
      [DRY_START_ENV]: "1",
      ...(options.user ? { USER: options.user, LOGNAME: options.user } : {}),
      ...(options.socketOverride ? { SSH_ANCHOR_SOCKET: options.socketOverride } : {}),
      ...kind.env,
    };
    const run = await runProgram(program, kind.args, { timeoutMs: TIMING.doctorShellStartMs, env });
    const printed = run.stdout.split("\n").filter((line) => line.startsWith(MARK)).pop()?.slice(MARK.length);
    const socket = printed === undefined || printed === "" ? undefined : printed;
    const lines = run.stderr.split("\n").filter((line) => line.trim() && !NOISE.test(line));
    const telling = lines.find((line) => /ssh-anchor|not found|No such file|Permission denied/i.test(line)) ?? lines[0];
    const said = printed === undefined && run.failure ? run.failure : telling;
    runs.push({ kind, socket, stable: socket !== undefined && options.stable.includes(socket), said: said === undefined ? undefined : printable(said.trim(), 200) });
  }
  return runs;
}
