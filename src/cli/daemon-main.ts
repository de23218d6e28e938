import { TIMING } from "../shared/core/timing.js";
import { SSHD_TMP_ROOT } from "../shared/discovery/layouts.js";
import { collect, positiveInteger } from "./options.js";
import { runCommand } from "./output.js";

/**
 * `ssh-anchor run` without the rest of the command line: the daemon's own entry point
 * (dist/daemon.js, which bin/ssh-anchor, `start` and the service units run). The daemon lives
 * for weeks in every login's host; loading commander and every command for it cost about
 * 1 MB of resident memory for as long as it runs (docs/benchmarks.md, "The relay near its
 * floor"). The words after `run` are read here only in the plain forms (`--socket P`,
 * `--socket=P`, `-s P`, `-sP`, `-v`); anything else (--help, an unknown or malformed option, a
 * value that is not a positive whole number, a value that starts with "-") goes to the whole
 * command line, which answers it as it always did. What both read is the same: RunFlags, with
 * the same defaults (test/unit/daemon-entry.test.ts compares them).
 */

export interface RunFlags {
  socket?: string;
  agentDir?: string[];
  tmpDir?: string;
  logFile?: string;
  verbose?: boolean;
  replyTimeout?: number;
  probeTimeout?: number;
  maxWait?: number;
  idleExit?: number;
}

/** `run`'s defaults, as commander gives them (src/cli/commands/daemon.ts declares them from here). */
export const RUN_DEFAULTS = {
  tmpDir: SSHD_TMP_ROOT,
  replyTimeout: TIMING.replyTimeoutMs,
  probeTimeout: TIMING.probeTimeoutMs,
  maxWait: TIMING.maxWaitMs / 1000,
} as const;

type Reader = (flags: RunFlags, value: string) => void;
const number = (name: string, set: (flags: RunFlags, n: number) => void): Reader => {
  const parse = positiveInteger(name);
  return (flags, value) => set(flags, parse(value));
};
/** The options that take a value, by every name they answer to. */
const VALUED: Record<string, Reader> = {
  "--socket": (f, v) => (f.socket = v),
  "--agent-dir": (f, v) => (f.agentDir = collect(v, f.agentDir)),
  "--tmp-dir": (f, v) => (f.tmpDir = v),
  "--log-file": (f, v) => (f.logFile = v),
  "--reply-timeout": number("--reply-timeout", (f, n) => (f.replyTimeout = n)),
  "--probe-timeout": number("--probe-timeout", (f, n) => (f.probeTimeout = n)),
  "--max-wait": number("--max-wait", (f, n) => (f.maxWait = n)),
  "--idle-exit": number("--idle-exit", (f, n) => (f.idleExit = n)),
};
const SHORT: Record<string, string> = { "-s": "--socket", "-a": "--agent-dir" };

/**
 * The flags of `run ARGS` in the plain forms, or undefined for anything else (the whole command
 * line answers that).
 * @example parseRunArgs(["--socket", "/run/user/1000/ssh-anchor/agent.sock", "-v"])
 */
export function parseRunArgs(args: readonly string[]): RunFlags | undefined {
  const flags: RunFlags = { ...RUN_DEFAULTS };
  try {
    for (let i = 0; i < args.length; i++) {
      const word = args[i] as string;
      if (word === "-v" || word === "--verbose") {
        flags.verbose = true;
        continue;
      }
      let name: string;
      let value: string | undefined;
      const equals = word.indexOf("=");
      if (word.startsWith("--") && equals > 2) {
        name = word.slice(0, equals);
        value = word.slice(equals + 1);
      } else if (SHORT[word.slice(0, 2)] !== undefined && word.length > 2) {
        name = SHORT[word.slice(0, 2)] as string;
        value = word.slice(2);
      } else {
        name = SHORT[word] ?? word;
        value = args[++i];
        if (value === undefined || value.startsWith("-")) return undefined;
      }
      const read = Object.hasOwn(VALUED, name) ? VALUED[name] : undefined;
      if (!read) return undefined;
      read(flags, value);
    }
  } catch {
    return undefined;
  }
  return flags;
}

/** Runs the daemon in the foreground with `flags` (`ssh-anchor run`), its exit status set. */
export function runForeground(flags: RunFlags, version: string): Promise<void> {
  return runCommand(async () => {
    const { runDaemonProcess } = await import("../features/daemon/process-policy.js");
    return runDaemonProcess({
      socket: flags.socket,
      agentDirs: flags.agentDir,
      tmpRoot: flags.tmpDir,
      logFile: flags.logFile,
      verbose: flags.verbose,
      replyTimeoutMs: flags.replyTimeout,
      probeTimeoutMs: flags.probeTimeout,
      maxWaitMs: flags.maxWait === undefined ? undefined : flags.maxWait * 1000,
      idleExitMs: flags.idleExit === undefined ? undefined : flags.idleExit * 1000,
      version,
    });
  });
}

/**
 * `ssh-anchor ARGS` when ARGS are `run` in plain forms: the daemon, here; anything else goes to
 * `whole` (the whole command line, which reads process.argv itself).
 */
export async function runDaemonEntry(args: readonly string[], version: () => string, whole: () => Promise<unknown>): Promise<void> {
  const flags = args[0] === "run" ? parseRunArgs(args.slice(1)) : undefined;
  if (!flags) {
    await whole();
    return;
  }
  await runForeground(flags, version());
}
