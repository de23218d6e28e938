import { printable } from "../../shared/core/text.js";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { TIMING } from "../../shared/core/timing.js";
import { monotonicMs } from "../../shared/core/clock.js";

/** ssh's status for "the connection failed or was lost". */
export const SSH_CONNECTION_ERROR = 255;

/** How one run of ssh ended. */
export interface SshOutcome {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** ssh authenticated (its LocalCommand ran): this was a session, not a failed attempt. */
  readonly connected: boolean;
  /** Why ssh-anchor ended it, if it did. */
  readonly droppedFor: string | undefined;
  readonly upMs: number;
  /** The last thing ssh said on stderr, for the log. */
  readonly lastMessage: string;
}

/** An ssh that is running (or has just ended). */
export interface RunningSsh {
  /** Settles once ssh has exited, never rejects (an ssh that cannot be run ends with its reason). */
  readonly ended: Promise<SshOutcome>;
  /** Whether ssh has not exited yet. */
  readonly running: () => boolean;
  /** Ends it (SIGTERM, then SIGKILL if it lingers), recording why; only the first reason counts. */
  readonly drop: (reason: string) => void;
}

/**
 * Runs ssh once on the terminal (its stderr passed through and remembered), and tells the
 * moment it authenticated: `marker` is the file ssh's LocalCommand touches then, which
 * `onConnected` is called for with the time it took.
 *
 * @example
 * const ssh = startSsh(sshArgs(request, settings, marker), marker, (ms) => log.info(`connected in ${ms} ms`));
 * const outcome = await ssh.ended;
 */
export function startSsh(args: readonly string[], marker: string, onConnected: (tookMs: number, at: number) => void): RunningSsh {
  const started = monotonicMs();
  let connectedAt = 0;
  let droppedFor: string | undefined;
  let lastMessage = "";
  const child = spawn("ssh", args, { stdio: ["inherit", "inherit", "pipe"] });
  child.stderr?.on("data", (chunk: Buffer) => {
    process.stderr.write(chunk);
    const lines = chunk.toString("utf8").split(/\r?\n/).filter((line) => line.trim());
    // Made printable where it is built: it is ssh's (or the remote's) text, shown again later.
    if (lines.length) lastMessage = printable((lines[lines.length - 1] as string).trim());
  });
  const isConnected = (): boolean => {
    if (!connectedAt && existsSync(marker)) connectedAt = monotonicMs();
    return connectedAt > 0;
  };
  const drop = (reason: string): void => {
    if (droppedFor) return;
    droppedFor = reason;
    child.kill("SIGTERM");
    setTimeout(() => child.kill("SIGKILL"), TIMING.sshKillGraceMs).unref();
  };
  const ended = new Promise<SshOutcome>((resolve) => {
    child.on("error", (error) => {
      lastMessage = `cannot run ssh: ${error.message}`;
    });
    child.on("close", (code, signal) => {
      const connected = isConnected();
      resolve({
        code: droppedFor ? SSH_CONNECTION_ERROR : code,
        signal,
        connected,
        droppedFor,
        upMs: connected ? monotonicMs() - connectedAt : 0,
        lastMessage,
      });
    });
    const poll = setInterval(() => {
      if (!isConnected()) return;
      clearInterval(poll);
      onConnected(Math.round(connectedAt - started), connectedAt);
    }, TIMING.connectedPollMs);
    child.on("close", () => clearInterval(poll));
  });
  return { ended, drop, running: () => child.exitCode === null && child.signalCode === null };
}
