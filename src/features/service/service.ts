import { mkdir, readFile, unlink } from "node:fs/promises";
import { homedir, userInfo } from "node:os";
import { join } from "node:path";
import { UserError } from "../../shared/core/errors.js";
import { runProgram, type ProgramRun } from "../../shared/core/exec.js";
import { TIMING } from "../../shared/core/timing.js";
import { CLI_ENTRY, DAEMON_ENTRY } from "../../shared/core/package-root.js";
import { DAEMON_ENV, DAEMON_NODE_FLAGS, stopDaemon } from "../../shared/control/lifecycle.js";
import { configHome, daemonPaths } from "../../shared/core/location.js";
import { currentUid, replaceOwnFile } from "../../shared/core/trust.js";
import { UNIT_NAME, unitFiles } from "./units.js";

export interface ServiceOptions {
  /** The stable socket (--socket); $SSH_ANCHOR_SOCKET and the default apply when absent. */
  readonly socket?: string;
  /** Seconds without a client before the daemon exits (default TIMING.serviceIdleExitSeconds); 0: never. */
  readonly idleExitSeconds?: number;
  readonly agentDirs?: readonly string[];
  readonly tmpDir?: string;
  readonly verbose?: boolean;
  /** Write the units but do not tell systemd (no daemon-reload, no enable). */
  readonly noStart?: boolean;
  readonly home?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly uid?: number;
}

export interface PlannedUnit {
  readonly path: string;
  readonly text: string;
}

export interface ServicePlan {
  readonly directory: string;
  readonly socket: string;
  readonly units: readonly PlannedUnit[];
}

export interface InstallResult extends ServicePlan {
  /** systemd was told: the socket unit is enabled and listening. */
  readonly started: boolean;
  /** A daemon started by the rc line was serving the socket and was stopped to hand it over. */
  readonly stoppedDaemon: boolean;
  /** loginctl's Linger for this user, when it could be read. */
  readonly linger: boolean | undefined;
}

export interface ServiceStatus {
  readonly directory: string;
  readonly socket: string;
  readonly installed: boolean;
  /** `systemctl --user is-enabled/is-active` answers, or undefined when systemd could not be asked. */
  readonly socketEnabled: string | undefined;
  readonly socketActive: string | undefined;
  readonly serviceActive: string | undefined;
  readonly linger: boolean | undefined;
}

const SOCKET_UNIT = `${UNIT_NAME}.socket`;
const SERVICE_UNIT = `${UNIT_NAME}.service`;

/** Where systemd looks for a user's own units: $XDG_CONFIG_HOME/systemd/user. */
function unitDirectory(env: NodeJS.ProcessEnv = process.env, home = homedir()): string {
  return join(configHome(home, env), "systemd", "user");
}

/**
 * The daemon's command line up to `run`: this Node with the daemon's memory flags and the
 * installed daemon entry point (dist/daemon.js), or the single executable itself (whose entry
 * point is the executable).
 */
function daemonCommand(): string[] {
  return CLI_ENTRY === process.execPath ? [process.execPath] : [process.execPath, ...DAEMON_NODE_FLAGS, DAEMON_ENTRY];
}

/** The unit files `install` would write. Changes nothing. */
export function planService(options: ServiceOptions = {}): ServicePlan {
  const env = options.env ?? process.env;
  const { socket } = daemonPaths(options.socket, { uid: options.uid ?? currentUid(), env, home: options.home });
  const directory = unitDirectory(env, options.home ?? homedir());
  const extraArgs: string[] = [];
  for (const dir of options.agentDirs ?? []) extraArgs.push("--agent-dir", dir);
  if (options.tmpDir) extraArgs.push("--tmp-dir", options.tmpDir);
  if (options.verbose) extraArgs.push("--verbose");
  const { socketUnit, serviceUnit } = unitFiles({
    socket,
    command: daemonCommand(),
    idleExitSeconds: options.idleExitSeconds ?? TIMING.serviceIdleExitSeconds,
    extraArgs,
    environment: DAEMON_ENV,
  });
  return {
    directory,
    socket,
    units: [
      { path: join(directory, SOCKET_UNIT), text: socketUnit },
      { path: join(directory, SERVICE_UNIT), text: serviceUnit },
    ],
  };
}

function execute(command: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<ProgramRun> {
  return runProgram(command, args, { env, timeoutMs: TIMING.systemctlMs });
}

function systemctl(args: readonly string[], env: NodeJS.ProcessEnv): Promise<ProgramRun> {
  return execute("systemctl", ["--user", ...args], env);
}

function firstLine(text: string): string {
  return text.trim().split("\n")[0] ?? "";
}

/** Runs systemctl --user, turning a missing systemctl or an unreachable user manager into one line. */
async function systemctlOrFail(args: readonly string[], env: NodeJS.ProcessEnv, directory: string): Promise<ProgramRun> {
  const outcome = await systemctl(args, env);
  if (outcome.missing) {
    throw new UserError(`systemctl is not installed: the units are in ${directory}, but this host needs the rc line instead (ssh-anchor setup)`);
  }
  if (outcome.code !== 0) {
    throw new UserError(
      `systemctl --user ${args.join(" ")} failed: ${firstLine(outcome.stderr) || outcome.failure}` +
        ` (the units are in ${directory}; is there a systemd user instance? log in again, or use --no-start)`,
    );
  }
  return outcome;
}

/** Whether systemd keeps this user's manager (and so the socket) after the last logout. */
async function lingerEnabled(env: NodeJS.ProcessEnv = process.env): Promise<boolean | undefined> {
  const user = env.USER || userInfo().username;
  const outcome = await execute("loginctl", ["show-user", user, "--property=Linger", "--value"], env);
  if (outcome.code !== 0) return undefined;
  const value = outcome.stdout.trim();
  return value === "yes" ? true : value === "no" ? false : undefined;
}

/**
 * Writes the units and (unless noStart) enables and starts the socket unit. A daemon started by
 * the rc line is stopped first, so that systemd can bind the same path; from then on the rc
 * line's `start` sees the socket answering and does nothing.
 * @throws {UserError} when systemd cannot be reached (the units are written by then).
 */
export async function installService(options: ServiceOptions = {}): Promise<InstallResult> {
  const env = options.env ?? process.env;
  const plan = planService(options);
  await mkdir(plan.directory, { recursive: true, mode: 0o755 });
  for (const unit of plan.units) await replaceOwnFile(unit.path, unit.text, 0o644);
  if (options.noStart) return { ...plan, started: false, stoppedDaemon: false, linger: await lingerEnabled(env) };

  await systemctlOrFail(["daemon-reload"], env, plan.directory);
  let stoppedDaemon = false;
  const socketActive = (await systemctl(["is-active", SOCKET_UNIT], env)).stdout.trim() === "active";
  if (socketActive) {
    // Already systemd's socket: stop the running daemon, if any, so that the next connection
    // starts the new command line.
    await systemctl(["stop", SERVICE_UNIT], env);
  } else {
    stoppedDaemon = await stopDaemon({ socket: plan.socket, uid: options.uid });
  }
  await systemctlOrFail(["enable", "--now", SOCKET_UNIT], env, plan.directory);
  return { ...plan, started: true, stoppedDaemon, linger: await lingerEnabled(env) };
}

/**
 * Stops and disables the units (when systemd can be reached) and removes their files.
 * @returns the files removed.
 */
export async function uninstallService(options: ServiceOptions = {}): Promise<string[]> {
  const env = options.env ?? process.env;
  const plan = planService(options);
  if (!options.noStart) {
    const disabled = await systemctl(["disable", "--now", SOCKET_UNIT], env);
    if (!disabled.missing) await systemctl(["stop", SERVICE_UNIT], env);
  }
  const removed: string[] = [];
  for (const unit of plan.units) {
    const text = await readFile(unit.path, "utf8").catch(() => undefined);
    if (text === undefined) continue;
    if (!text.includes("ssh-anchor service install")) {
      throw new UserError(`${unit.path} was not written by ssh-anchor service install; remove it yourself`);
    }
    await unlink(unit.path);
    removed.push(unit.path);
  }
  if (!options.noStart && removed.length > 0) await systemctl(["daemon-reload"], env);
  return removed;
}

/** What is installed and what systemd says about it. */
export async function serviceStatus(options: ServiceOptions = {}): Promise<ServiceStatus> {
  const env = options.env ?? process.env;
  const plan = planService(options);
  const present = await Promise.all(plan.units.map((unit) => readFile(unit.path, "utf8").then(() => true, () => false)));
  const ask = async (args: string[]): Promise<string | undefined> => {
    const outcome = await systemctl(args, env);
    // is-enabled and is-active answer on stdout with a non-zero status for "disabled", "inactive".
    const answer = outcome.stdout.trim();
    return outcome.missing || !answer ? undefined : answer;
  };
  return {
    directory: plan.directory,
    socket: plan.socket,
    installed: present.every(Boolean),
    socketEnabled: await ask(["is-enabled", SOCKET_UNIT]),
    socketActive: await ask(["is-active", SOCKET_UNIT]),
    serviceActive: await ask(["is-active", SERVICE_UNIT]),
    linger: await lingerEnabled(env),
  };
}
