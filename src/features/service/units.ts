/**
 * The systemd user units `ssh-anchor service install` writes: a .socket unit that holds the
 * stable socket and a .service that systemd starts on the first connection, handing it the
 * listening socket (LISTEN_FDS/LISTEN_PID, fd 3). Pure text: nothing here touches the system.
 */

/** The units' base name: ssh-anchor.socket and ssh-anchor.service. */
export const UNIT_NAME = "ssh-anchor";

export interface UnitOptions {
  /** The stable socket: ListenStream= and the daemon's --socket. */
  readonly socket: string;
  /** The daemon's command up to (not including) `run`: node, its flags and the CLI, or the single executable. */
  readonly command: readonly string[];
  /** Seconds without a client before the daemon exits; 0 keeps it running once started. */
  readonly idleExitSeconds: number;
  /** More daemon flags (`--agent-dir DIR`, `--tmp-dir DIR`, `--verbose`). */
  readonly extraArgs?: readonly string[];
  /** Environment for the daemon (its malloc settings). */
  readonly environment?: Readonly<Record<string, string>>;
}

export interface UnitFiles {
  readonly socketUnit: string;
  readonly serviceUnit: string;
}

/** Escapes systemd's specifiers (%); execWord escapes the variable expansion ($) of command lines. */
function escapeSpecifiers(text: string): string {
  return text.replace(/%/g, "%%");
}

/** One ExecStart= word: quoted when it holds anything but safe characters (systemd.service(5)). */
export function execWord(word: string): string {
  const escaped = escapeSpecifiers(word).replace(/\$/g, "$$$$");
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(escaped)) return escaped;
  return `"${escaped.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

function checkPath(what: string, path: string): void {
  if (!path.startsWith("/")) throw new Error(`${what} must be an absolute path, not ${path}`);
  if (/[\n\r]/.test(path)) throw new Error(`${what} must be on one line`);
}

export function unitFiles(options: UnitOptions): UnitFiles {
  checkPath("the socket", options.socket);
  checkPath("the daemon's executable", options.command[0] ?? "");
  const args = [...options.command, "run", "--socket", options.socket, ...(options.extraArgs ?? [])];
  if (options.idleExitSeconds > 0) args.push("--idle-exit", String(options.idleExitSeconds));
  const environment = Object.entries(options.environment ?? {}).map(([name, value]) => `Environment=${execWord(`${name}=${value}`)}`);
  const socketUnit = [
    "# Written by `ssh-anchor service install`; `ssh-anchor service uninstall` removes it.",
    "# See: ssh-anchor service --help",
    "[Unit]",
    "Description=ssh-anchor: the stable SSH_AUTH_SOCK",
    "",
    "[Socket]",
    `ListenStream=${escapeSpecifiers(options.socket)}`,
    "SocketMode=0600",
    "DirectoryMode=0700",
    "RemoveOnStop=yes",
    "",
    "[Install]",
    "WantedBy=sockets.target",
    "",
  ].join("\n");
  const serviceUnit = [
    "# Written by `ssh-anchor service install`; `ssh-anchor service uninstall` removes it.",
    "# See: ssh-anchor service --help",
    "# Started by ssh-anchor.socket on the first connection; exits when idle (--idle-exit) and is",
    "# started again by the next one: the listening socket stays with systemd meanwhile.",
    "[Unit]",
    "Description=ssh-anchor: one stable SSH_AUTH_SOCK for tmux and screen",
    `Requires=${UNIT_NAME}.socket`,
    `After=${UNIT_NAME}.socket`,
    "",
    "[Service]",
    "Type=simple",
    `ExecStart=${args.map(execWord).join(" ")}`,
    ...environment,
    "",
  ].join("\n");
  return { socketUnit, serviceUnit };
}
