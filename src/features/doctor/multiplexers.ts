import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { runProgram } from "../../shared/core/exec.js";
import { TIMING } from "../../shared/core/timing.js";
import { SCOPE_PREFIX_VARIABLE } from "../../shared/discovery/gpg-path.js";
import { endpointState, processName } from "../../shared/core/trust.js";
import { childrenOf, environmentVariable } from "./environ.js";

/** A pane (tmux) or window (screen) and the SSH_AUTH_SOCK its process started with. */
export interface Pane {
  /** "tmux <socket> <session>:<window>.<pane>" or "screen <session> window <n>". */
  readonly name: string;
  readonly pid: number;
  readonly command: string;
  readonly socket: string | undefined | null;
}

export interface TmuxServer {
  readonly socket: string;
  /** The global environment's SSH_AUTH_SOCK (what new sessions start with). */
  readonly global: string | undefined;
  /** The global environment's SSH_ANCHOR_SCOPE_PREFIX: a person's, which new sessions would inherit. */
  readonly globalPrefix: string | undefined;
  /** Sessions whose own environment sets SSH_AUTH_SOCK (it wins over the global one), by name. */
  readonly sessions: ReadonlyMap<string, string | undefined>;
  /** Each session's id ("$3"), to address it whatever its name holds. */
  readonly sessionIds: ReadonlyMap<string, string>;
  readonly panes: readonly Pane[];
}

export interface ScreenSession {
  readonly name: string;
  /** The session's SSH_AUTH_SOCK, what new windows get (`screen -X setenv` changes it); null when screen would not say. */
  readonly socket: string | undefined | null;
  readonly panes: readonly Pane[];
}

/**
 * Runs another program for its output. Its output is parsed, so it must not depend on the
 * locale: formats use no tabs (tmux prints a tab as "_" without a UTF-8 locale) and put the
 * field that cannot hold a space first.
 */
async function command(file: string, args: readonly string[]): Promise<string | undefined> {
  const run = await runProgram(file, args, { timeoutMs: TIMING.doctorProgramMs });
  return run.failure === undefined ? run.stdout : undefined;
}

/** The directory tmux keeps its sockets in for `uid`. */
function tmuxSocketDirectory(uid: number, env: NodeJS.ProcessEnv = process.env): string {
  return join(env.TMUX_TMPDIR || "/tmp", `tmux-${uid}`);
}

/** Every tmux server of this user that answers, with its environment and panes. */
export async function tmuxServers(uid: number): Promise<TmuxServer[]> {
  const directory = tmuxSocketDirectory(uid);
  const names = await readdir(directory).catch(() => [] as string[]);
  const servers: TmuxServer[] = [];
  for (const name of names) {
    const socket = join(directory, name);
    // Only a tmux server of the user's own is asked anything (a tmux client hands the server
    // its environment, SSH_AUTH_SOCK included).
    if ((await endpointState(socket, uid)) !== "ours") continue;
    const tmux = (...args: string[]) => command("tmux", ["-S", socket, ...args]);
    // "<pid> <session>:<window>.<pane>": the pid has no space, the rest is the name.
    const panesText = await tmux("list-panes", "-a", "-F", "#{pane_pid} #{session_name}:#{window_index}.#{pane_index}");
    if (panesText === undefined) continue; // a dead server's leftover socket
    const global = variableFrom(await tmux("show-environment", "-g", "SSH_AUTH_SOCK"));
    const globalPrefix = variableFrom(await tmux("show-environment", "-g", SCOPE_PREFIX_VARIABLE), SCOPE_PREFIX_VARIABLE);
    const sessions = new Map<string, string | undefined>();
    const sessionIds = new Map<string, string>();
    for (const line of (await tmux("list-sessions", "-F", "#{session_id} #{session_name}"))?.split("\n").filter(Boolean) ?? []) {
      const [id, session] = splitFirst(line);
      sessionIds.set(session, id);
      const value = await tmux("show-environment", "-t", id, "SSH_AUTH_SOCK");
      if (value !== undefined && !value.startsWith("-")) sessions.set(session, variableFrom(value));
    }
    const panes: Pane[] = [];
    for (const line of panesText.split("\n").filter(Boolean)) {
      const [pidText, where] = splitFirst(line);
      const pid = Number(pidText);
      if (!Number.isInteger(pid) || pid <= 0) continue;
      panes.push({ name: `tmux ${name} ${where}`, pid, command: (await processName(pid)) ?? "", socket: await environmentVariable(pid, "SSH_AUTH_SOCK") });
    }
    servers.push({ socket, global, globalPrefix, sessions, sessionIds, panes });
  }
  return servers;
}

function splitFirst(line: string): [string, string] {
  const space = line.indexOf(" ");
  return space === -1 ? [line, ""] : [line.slice(0, space), line.slice(space + 1)];
}

/** `SSH_AUTH_SOCK=/x` -> "/x"; "-SSH_AUTH_SOCK" (removed) or nothing -> undefined. */
function variableFrom(output: string | undefined, name = "SSH_AUTH_SOCK"): string | undefined {
  const line = output?.trim();
  return line?.startsWith(`${name}=`) ? line.slice(name.length + 1) : undefined;
}

/** Every GNU screen session of this user, with the SSH_AUTH_SOCK of each window's process. */
export async function screenSessions(): Promise<ScreenSession[]> {
  const listing = (await command("screen", ["-ls"])) ?? "";
  const sessions: ScreenSession[] = [];
  for (const match of listing.matchAll(/^\s+(\d+)\.(\S+)\s/gm)) {
    const serverPid = Number(match[1]);
    const name = `${match[1]}.${match[2]}`;
    const panes: Pane[] = [];
    for (const [index, pid] of (await childrenOf(serverPid)).entries()) {
      panes.push({ name: `screen ${name} window ${index}`, pid, command: (await processName(pid)) ?? "", socket: await environmentVariable(pid, "SSH_AUTH_SOCK") });
    }
    // screen expands $VARIABLE in a command from its own environment: what a new window gets.
    const echoed = await command("screen", ["-S", name, "-Q", "echo", "SSH_AUTH_SOCK=$SSH_AUTH_SOCK"]);
    const socket = echoed === undefined ? null : echoed.startsWith("SSH_AUTH_SOCK=") ? echoed.slice("SSH_AUTH_SOCK=".length).trimEnd() || undefined : null;
    sessions.push({ name, socket, panes });
  }
  return sessions;
}

/** Points a tmux server's global environment, and each session's, at `socket`. */
export async function fixTmux(server: TmuxServer, socket: string): Promise<boolean> {
  let ok = (await command("tmux", ["-S", server.socket, "set-environment", "-g", "SSH_AUTH_SOCK", socket])) !== undefined;
  for (const session of server.sessions.keys()) {
    const target = server.sessionIds.get(session) ?? session;
    ok = (await command("tmux", ["-S", server.socket, "set-environment", "-t", target, "SSH_AUTH_SOCK", socket])) !== undefined && ok;
  }
  return ok;
}

/** Makes new windows of a screen session start with `socket`. */
export async function fixScreen(session: ScreenSession, socket: string): Promise<boolean> {
  return (await command("screen", ["-S", session.name, "-X", "setenv", "SSH_AUTH_SOCK", socket])) !== undefined;
}
