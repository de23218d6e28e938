import { spawn } from "node:child_process";
import { dirname } from "node:path";
import { DAEMON_ENTRY } from "../core/package-root.js";
import { UserError } from "../core/errors.js";
import { daemonPaths, type DaemonPaths } from "../core/location.js";
import { checkPrivateDirectory, ensurePrivateDirectory } from "../core/private-dir.js";
import { currentUid, endpointState, lstatOrUndefined, ownProcessFromPidFile, processName, readOwnFile } from "../core/trust.js";
import { dial, socketAcceptsConnections } from "../core/dial.js";
import { TIMING } from "../core/timing.js";
import { askDaemon } from "./client.js";
import { EXIT_ALREADY_RUNNING } from "./protocol.js";
import { parseStatusReport, type StatusReport } from "./status.js";

export interface LifecycleOptions {
  readonly socket?: string;
  readonly agentDirs?: readonly string[];
  readonly tmpDir?: string;
  readonly verbose?: boolean;
  readonly uid?: number;
}

export interface StartResult {
  readonly paths: DaemonPaths;
  readonly pid: number;
  readonly alreadyRunning: boolean;
}

/**
 * V8 flags for the daemon: a 1 MiB young generation and garbage collection on the main thread
 * only keep its private memory near Node's own floor (under 10 MB idle, about 2 MB more after
 * 100,000 requests, instead of 20 growing towards 40). gc() exposed for the memory keeper, which
 * would otherwise make a context of its own to reach it (src/features/daemon/memory-keeper.ts).
 * bin/ssh-anchor passes the same to `run`. The cost, measured: any such flag keeps V8's memory
 * reducer from running after start-up, 0.3 MB of idle memory; the young generation's bound
 * (command line only) saves 1.6 MB after every burst (docs/benchmarks.md, "Eighth pass").
 * The last two do part of what that reducer would (docs/benchmarks.md, "Ninth pass"): bytecode
 * of functions not run since the last full collection let go (0.2 to 0.3 MB: start-up's code,
 * compiled again if ever run again), and old pages compacted at each full collection, which
 * the daemon's few-MiB heap makes a matter of milliseconds (0.3 MB with the minified bundle).
 * Not `--no-sparkplug` (0.13 MB more): new connections read 0.07 to 0.13 slower with it.
 */
export const DAEMON_NODE_FLAGS = ["--max-semi-space-size=1", "--single-threaded-gc", "--expose-gc", "--bytecode-old-age=1", "--compact-on-every-full-gc"];
/** One malloc arena: the daemon is single-threaded, and each extra arena keeps freed memory. */
export const DAEMON_ENV = { MALLOC_ARENA_MAX: "1" };

function uidOf(options: LifecycleOptions): number {
  return options.uid ?? currentUid();
}

function pathsOf(options: LifecycleOptions): DaemonPaths {
  return daemonPaths(options.socket, { uid: uidOf(options) });
}

/** The daemon's pid from its pid file, when that file and that process are the user's own. */
async function pidOf(paths: DaemonPaths, uid: number): Promise<number> {
  return (await ownProcessFromPidFile(paths.pidFile, uid)) ?? 0;
}

/**
 * Whether a daemon of the user's own serves `paths.socket`: the socket and its directory must
 * pass the trust checks before anything connects to it (a socket of someone else's that accepts
 * connections is not "already running": it is refused).
 * @throws {UserError} when the path is someone else's.
 */
async function ownDaemonServes(paths: DaemonPaths, uid: number, timeoutMs?: number): Promise<boolean> {
  const state = await endpointState(paths.socket, uid);
  if (state === "missing") return false;
  if (state === "ours") return socketAcceptsConnections(paths.socket, timeoutMs ?? TIMING.aliveCheckMs);
  const advice = (await anotherUsersAt(paths.socket, uid))
    ? "someone else may be trying to intercept your agent"
    : "give --socket a path in a directory of your own";
  throw new UserError(`refusing to use ${paths.socket}: ${state}; ${advice}`);
}

/** Whether the socket's place, or its directory, is another user's (root's shared directories,
 * such as /tmp, and files of the user's own are only the wrong place, not a threat). */
async function anotherUsersAt(socket: string, uid: number): Promise<boolean> {
  for (const path of [dirname(socket), socket]) {
    const stats = await lstatOrUndefined(path);
    if (stats && stats.uid !== uid && stats.uid !== 0) return true;
  }
  return false;
}

/**
 * Starts the daemon in the background, fully detached (own session, no inherited stdio: an
 * `ssh host cmd` or a logout never waits for it), and returns once it serves its socket.
 * A no-op when a daemon already serves it.
 * @throws {UserError} with the daemon's own explanation when it cannot start.
 */
/**
 * Set in the environment of the shells doctor starts (see shell-runs.ts): their init line's
 * `start` then only says where it would serve, starting and making nothing. doctor without
 * --fix changes nothing, and reports the state it found.
 */
export const DRY_START_ENV = "SSH_ANCHOR_DRY_START";

/** Where start would serve, with the refusals start would make, starting and making nothing. */
export async function dryStart(options: LifecycleOptions = {}): Promise<DaemonPaths> {
  const paths = pathsOf(options);
  await checkPrivateDirectory(paths.directory, uidOf(options), { createParent: paths.inHome });
  return paths;
}

export async function startInBackground(options: LifecycleOptions = {}): Promise<StartResult> {
  const uid = uidOf(options);
  const paths = pathsOf(options);
  // The log file lives beside the socket: its directory must be safe before anything is written
  // or connected to.
  await ensurePrivateDirectory(paths.directory, uid, { createParent: paths.inHome });
  if (await ownDaemonServes(paths, uid)) {
    const pid = await daemonBehind(paths, uid);
    await untilReady(paths);
    return { paths, pid, alreadyRunning: true };
  }
  // --socket only when the user chose it: otherwise `run` makes the same choice, and may move to
  // the fallback directory by itself if its own is taken from it later.
  const args = [DAEMON_ENTRY, "run", ...(options.socket ? ["--socket", paths.socket] : []), "--log-file", paths.logFile];
  for (const dir of options.agentDirs ?? []) args.push("--agent-dir", dir);
  if (options.tmpDir) args.push("--tmp-dir", options.tmpDir);
  if (options.verbose) args.push("--verbose");
  const child = spawn(process.execPath, [...DAEMON_NODE_FLAGS, ...args], {
    detached: true,
    stdio: "ignore",
    env: { ...process.env, ...DAEMON_ENV },
  });
  let exitCode: number | null = null;
  child.on("exit", (code, signal) => (exitCode = code ?? (signal ? 128 : 1)));
  child.unref();
  const deadline = Date.now() + TIMING.daemonStartMs;
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, TIMING.lifecyclePollMs));
    if (exitCode === EXIT_ALREADY_RUNNING) {
      await untilReady(paths);
      return { paths, pid: await pidOf(paths, uid), alreadyRunning: true };
    }
    if (exitCode !== null) throw new UserError(`the daemon did not start: ${await lastLogLine(paths.logFile, uid)}`);
    if ((await pidOf(paths, uid)) === child.pid && (await ownDaemonServes(paths, uid, TIMING.lifecycleAliveCheckMs))) {
      await untilReady(paths);
      return { paths, pid: child.pid, alreadyRunning: false };
    }
  }
  child.kill();
  throw new UserError(`the daemon did not start within ${TIMING.daemonStartMs / 1000} s; see ${paths.logFile}`);
}

/**
 * The pid of the daemon behind a stable socket that accepts connections. Usually it is running
 * (its pid file names it). Under socket activation, while the daemon is idle (exited), systemd
 * holds the socket alone: no pid file, no control socket, no scoped sockets. The connection that
 * found the socket accepting has started the daemon; wait for it, bounded, with a connection held
 * open so that it does not exit idle before this login has asked for what it came for (its
 * scope). A daemon of ours that is starting right now (another shell started it) is waited for
 * the same way.
 * @throws {UserError} when nothing comes up behind the socket in time.
 */
async function daemonBehind(paths: DaemonPaths, uid: number): Promise<number> {
  const pid = await pidOf(paths, uid);
  if (pid !== 0 || (await endpointState(paths.control, uid)) !== "missing") return pid;
  const held = await dial({ path: paths.socket }, TIMING.aliveCheckMs);
  if (held.kind === "connected") held.socket.on("error", () => undefined);
  try {
    const deadline = Date.now() + TIMING.daemonStartMs;
    while (Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, TIMING.lifecyclePollMs));
      const started = await pidOf(paths, uid);
      if (started !== 0 && (await endpointState(paths.control, uid)) === "ours") return started;
    }
  } finally {
    if (held.kind === "connected") held.socket.destroy();
  }
  throw new UserError(
    `${paths.socket} accepts connections but no daemon came up behind it within ${TIMING.daemonStartMs / 1000} s ` +
      "(socket activation: see ssh-anchor service status)",
  );
}

/**
 * Waits, bounded, until the daemon has bound every socket it serves from start-up: its pid file
 * and control socket come first, the scoped sockets panes hold a moment later, and a pane's shell
 * runs `start` when its scoped socket is missing (a restart, an idle exit under socket
 * activation) and uses it right after. A daemon of an older version does not know the question;
 * a late answer is not an error either: start has done what it can.
 */
async function untilReady(paths: DaemonPaths): Promise<void> {
  await askDaemon(paths.control, "ready", TIMING.daemonStartMs).catch(() => undefined);
}

async function lastLogLine(logFile: string, uid: number): Promise<string> {
  const text = (await readOwnFile(logFile, uid)) ?? "";
  const line = text.trimEnd().split("\n").pop() ?? "";
  // Drop the timestamp: the user wants the reason.
  return line.replace(/^\S+Z /, "") || `no reason was logged; see ${logFile}`;
}

/**
 * Stops the daemon serving the socket and waits until it has let go of it.
 * @returns false when no daemon was running.
 */
export async function stopDaemon(options: LifecycleOptions = {}): Promise<boolean> {
  const uid = uidOf(options);
  const paths = pathsOf(options);
  if (!(await ownDaemonServes(paths, uid))) return false;
  try {
    if ((await endpointState(paths.control, uid)) !== "ours") throw new Error("no control socket of ours");
    await askDaemon(paths.control, "stop", TIMING.controlStopMs);
  } catch {
    // No control socket (removed, or an unresponsive daemon): fall back to its pid, but only a
    // process of the user's own that is named ssh-anchor is ever signalled.
    const pid = await pidOf(paths, uid);
    const name = pid ? await processName(pid) : undefined;
    if (!pid || (name !== undefined && !name.startsWith("ssh-anchor"))) {
      throw new UserError(`a process serves ${paths.socket} but it is not known to be ssh-anchor; find it with: fuser ${paths.socket}`);
    }
    process.kill(pid, "SIGTERM");
  }
  const deadline = Date.now() + TIMING.daemonStopMs;
  while (Date.now() < deadline) {
    if (!(await ownDaemonServes(paths, uid, TIMING.lifecycleAliveCheckMs).catch(() => false))) return true;
    await new Promise((resolve) => setTimeout(resolve, TIMING.lifecyclePollMs));
  }
  throw new UserError(`the daemon serving ${paths.socket} did not stop within ${TIMING.daemonStopMs / 1000} s`);
}

/** The running daemon's report, or undefined when none serves the socket. */
export async function readStatus(options: LifecycleOptions = {}): Promise<{ paths: DaemonPaths; report?: StatusReport }> {
  const uid = uidOf(options);
  const paths = pathsOf(options);
  // Only a control socket of the user's own is asked, and only a well-formed answer is believed.
  if ((await endpointState(paths.control, uid)) !== "ours") return { paths };
  try {
    return { paths, report: parseStatusReport(await askDaemon<unknown>(paths.control, "status")) };
  } catch {
    return { paths };
  }
}
