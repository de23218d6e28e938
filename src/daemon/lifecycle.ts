import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { CLI_ENTRY } from "../package-root.js";
import { UserError } from "../errors.js";
import { askDaemon } from "./control.js";
import { EXIT_ALREADY_RUNNING, processExists, socketAcceptsConnections } from "./listener.js";
import { daemonPaths, type DaemonPaths } from "./paths.js";
import { ensurePrivateDirectory } from "./private-dir.js";
import type { StatusReport } from "./status.js";

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

/** How long a background daemon may take to start serving. */
const START_TIMEOUT_MS = 5000;
/** How long a stopping daemon may take to let go of its socket. */
const STOP_TIMEOUT_MS = 5000;


/**
 * V8 flags for the daemon: a 1 MiB young generation and garbage collection on the main thread
 * only keep its private memory near Node's own floor (under 10 MB idle, about 2 MB more after
 * 100,000 requests, instead of 20 growing towards 40). bin/ssh-anchor passes the same to `run`.
 */
export const DAEMON_NODE_FLAGS = ["--max-semi-space-size=1", "--single-threaded-gc"];
/** One malloc arena: the daemon is single-threaded, and each extra arena keeps freed memory. */
export const DAEMON_ENV = { MALLOC_ARENA_MAX: "1" };

function uidOf(options: LifecycleOptions): number {
  return options.uid ?? process.getuid?.() ?? 0;
}

async function pidOf(paths: DaemonPaths): Promise<number> {
  return Number.parseInt(await readFile(paths.pidFile, "utf8").catch(() => ""), 10);
}

/**
 * Starts the daemon in the background, fully detached (own session, no inherited stdio: an
 * `ssh host cmd` or a logout never waits for it), and returns once it serves its socket.
 * A no-op when a daemon already serves it.
 * @throws {UserError} with the daemon's own explanation when it cannot start.
 */
export async function startInBackground(options: LifecycleOptions = {}): Promise<StartResult> {
  const paths = daemonPaths(options.socket, uidOf(options));
  if (await socketAcceptsConnections(paths.socket)) {
    return { paths, pid: await pidOf(paths), alreadyRunning: true };
  }
  // The log file lives beside the socket: its directory must be safe before anything is written.
  await ensurePrivateDirectory(paths.directory, uidOf(options));
  const args = [CLI_ENTRY, "run", "--socket", paths.socket, "--log-file", paths.logFile];
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
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 25));
    if (exitCode === EXIT_ALREADY_RUNNING) return { paths, pid: await pidOf(paths), alreadyRunning: true };
    if (exitCode !== null) throw new UserError(`the daemon did not start: ${await lastLogLine(paths.logFile)}`);
    if ((await pidOf(paths)) === child.pid && (await socketAcceptsConnections(paths.socket, 500))) {
      return { paths, pid: child.pid, alreadyRunning: false };
    }
  }
  child.kill();
  throw new UserError(`the daemon did not start within ${START_TIMEOUT_MS / 1000} s; see ${paths.logFile}`);
}

async function lastLogLine(logFile: string): Promise<string> {
  const text = await readFile(logFile, "utf8").catch(() => "");
  const line = text.trimEnd().split("\n").pop() ?? "";
  // Drop the timestamp: the user wants the reason.
  return line.replace(/^\S+Z /, "") || `no reason was logged; see ${logFile}`;
}

/**
 * Stops the daemon serving the socket and waits until it has let go of it.
 * @returns false when no daemon was running.
 */
export async function stopDaemon(options: LifecycleOptions = {}): Promise<boolean> {
  const paths = daemonPaths(options.socket, uidOf(options));
  if (!(await socketAcceptsConnections(paths.socket))) return false;
  try {
    await askDaemon(paths.control, "stop", 2000);
  } catch {
    // No control socket (removed, or an unresponsive daemon): fall back to its pid.
    const pid = await pidOf(paths);
    if (!processExists(pid)) throw new UserError(`a process serves ${paths.socket} but its pid is unknown; find it with: fuser ${paths.socket}`);
    process.kill(pid, "SIGTERM");
  }
  const deadline = Date.now() + STOP_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (!(await socketAcceptsConnections(paths.socket, 500))) return true;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new UserError(`the daemon serving ${paths.socket} did not stop within ${STOP_TIMEOUT_MS / 1000} s`);
}

/** The running daemon's report, or undefined when none serves the socket. */
export async function readStatus(options: LifecycleOptions = {}): Promise<{ paths: DaemonPaths; report?: StatusReport }> {
  const paths = daemonPaths(options.socket, uidOf(options));
  try {
    return { paths, report: await askDaemon<StatusReport>(paths.control, "status") };
  } catch {
    return { paths };
  }
}

/** Asks the running daemon to read every agent directory again. */
export async function requestRescan(options: LifecycleOptions = {}): Promise<StatusReport> {
  const paths = daemonPaths(options.socket, uidOf(options));
  return askDaemon<StatusReport>(paths.control, "rescan");
}
