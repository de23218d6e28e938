import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, openSync, rmSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { connect as tcpConnect } from "node:net";
import { constants as osConstants, tmpdir } from "node:os";
import { join } from "node:path";
import { UserError } from "../core/errors.js";
import { Log } from "../core/log.js";
import { DEFAULT_ALIVE_COUNT_MAX, DEFAULT_ALIVE_INTERVAL, type ConnectRequest } from "./args.js";
import { Backoff } from "./backoff.js";
import { NetworkWatch, type NetworkEvent } from "./network-watch.js";
import { remoteCommand } from "./remote-command.js";
import type { SshSettings } from "../core/ssh-config.js";
import { effectiveSettings, isProxied } from "./ssh-config.js";
import { Terminal, type SessionEnd } from "./terminal.js";

const DEFAULT_CONNECT_TIMEOUT = 10;
/** Exit status when the user quits while waiting to reconnect (as for SIGINT). */
export const EXIT_INTERRUPTED = 130;
/** ssh's status for "the connection failed or was lost". */
const SSH_CONNECTION_ERROR = 255;
/** Signals that end connect (Ctrl-C while waiting is handled as a key, or as SIGINT when not a
 * terminal, by the waiting code itself). */
const STOP_SIGNALS: NodeJS.Signals[] = ["SIGHUP", "SIGTERM"];
/** While waiting, how often the host's port is tried, to reconnect the moment it answers. */
const REACHABILITY_PROBE_MS = 1000;

/** How one run of ssh ended. */
interface SshOutcome {
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

type WaitOutcome = "retry" | "quit";

/**
 * The laptop side: runs the system ssh attached to a remote tmux or screen session, notices a
 * dead connection (keepalives, and faster: address, route and sleep changes), and reconnects
 * with backoff until the session ends, the user detaches, or the user gives up.
 */
export class ConnectSession {
  readonly #request: ConnectRequest;
  readonly #terminal = new Terminal();
  readonly #log: Log | undefined;
  readonly #backoff = new Backoff();
  #settings: SshSettings = new Map();
  #markerDir = "";
  /** The ssh running now, if any. */
  #ssh: ChildProcess | undefined;
  /** Whether the host's port answered the last reachability probe (kept across waits). */
  #hostAnswered: boolean | undefined;
  /** When the current outage began (performance.now()), 0 while connected. */
  #lostAt = 0;
  #onNetwork: ((event: NetworkEvent, detail: string) => void) | undefined;
  readonly #network = new NetworkWatch((event, detail) => this.#onNetwork?.(event, detail));

  /** @throws {UserError} when the --log file cannot be written (a missing directory): at start, not never. */
  constructor(request: ConnectRequest) {
    this.#request = request;
    if (request.logFile) checkWritable(request.logFile);
    this.#log = request.logFile ? new Log({ file: request.logFile, maxBytes: 4 * 1024 * 1024 }) : undefined;
  }

  /** Runs until the session is over; resolves with the exit status for the process. */
  async run(): Promise<number> {
    this.#settings = await effectiveSettings(this.#request.sshOptions, this.#request.destination);
    this.#markerDir = await mkdtemp(join(tmpdir(), "ssh-anchor-connect-"));
    this.#network.start();
    // The terminal closed (SIGHUP) or someone asked us to stop: end ssh, put the terminal back,
    // leave nothing behind, and exit as a shell would (128 + the signal's number).
    const onSignal = (signal: NodeJS.Signals): void => {
      const running = this.#ssh !== undefined && this.#ssh.exitCode === null && this.#ssh.signalCode === null;
      this.#ssh?.kill("SIGTERM");
      // ssh killed under the remote program: its modes are left on, as for a cut connection.
      this.#terminal.restore(running ? this.#cutEnd() : "clean");
      rmSync(this.#markerDir, { recursive: true, force: true });
      this.#note(`stopped by ${signal}`);
      const exit = (): never => process.exit(128 + (osConstants.signals[signal] ?? 0));
      setTimeout(exit, 1000).unref();
      if (this.#log) this.#log.close(exit);
      else exit();
    };
    for (const signal of STOP_SIGNALS) process.on(signal, onSignal);
    // A terminal that went away fails every write (EIO): that must not crash the clean-up.
    process.stderr.on("error", () => undefined);
    try {
      return await this.#loop();
    } finally {
      for (const signal of STOP_SIGNALS) process.off(signal, onSignal);
      this.#network.stop();
      // Line settings only: each ssh run's screen modes were dealt with when it ended.
      this.#terminal.restore("clean");
      await rm(this.#markerDir, { recursive: true, force: true });
      this.#log?.close();
    }
  }

  async #loop(): Promise<number> {
    const { destination, maxAttempts, maxTimeSeconds } = this.#request;
    let everConnected = false;
    let failures = 0;
    for (let attempt = 1; ; attempt++) {
      const outcome = await this.#runSsh(attempt);
      this.#terminal.restore(this.#sessionEnd(outcome));
      if (outcome.connected) {
        everConnected = true;
        failures = 0;
        this.#backoff.connectionEnded(outcome.upMs);
      }
      if (!outcome.droppedFor && outcome.code !== null && outcome.code !== SSH_CONNECTION_ERROR) {
        // The remote command ended: detached, the session closed, or it failed on its own.
        this.#note(`ssh exited with status ${outcome.code}; done`);
        return outcome.code;
      }
      if (!everConnected) {
        this.#note(`the first connection failed (status ${outcome.code ?? outcome.signal}); not retrying`);
        process.stderr.write(`ssh-anchor: could not connect to ${destination}; fix the problem ssh reported above and run again\n`);
        return outcome.code ?? SSH_CONNECTION_ERROR;
      }
      const cause = outcome.droppedFor ?? (outcome.lastMessage || `ssh exited with status ${outcome.code ?? outcome.signal}`);
      if (outcome.connected) {
        this.#lostAt = performance.now();
        this.#note(`connection lost after ${Math.round(outcome.upMs / 1000)} s: ${cause}`);
      } else {
        failures += 1;
        this.#note(`attempt ${attempt} failed: ${cause}`);
      }
      if (maxAttempts !== undefined && failures >= maxAttempts) {
        process.stderr.write(`ssh-anchor: gave up after ${failures} failed attempts to reconnect to ${destination}\n`);
        return SSH_CONNECTION_ERROR;
      }
      if (maxTimeSeconds !== undefined && performance.now() - this.#lostAt > maxTimeSeconds * 1000) {
        process.stderr.write(`ssh-anchor: gave up reconnecting to ${destination} after ${maxTimeSeconds} s\n`);
        return SSH_CONNECTION_ERROR;
      }
      // The first retry after a lost connection is at once (Backoff); so is one after dropping
      // the connection because this machine's network changed: the new network is up.
      const next = this.#backoff.next();
      const delay = outcome.droppedFor && outcome.connected ? 0 : next;
      // The countdown names the attempt the way the log does ("attempt N: ssh host").
      if ((await this.#wait(delay, attempt + 1)) === "quit") {
        this.#note("the user quit while waiting to reconnect");
        return EXIT_INTERRUPTED;
      }
    }
  }

  /** What an ended ssh left on the terminal: nothing when the remote side ended the session. */
  #sessionEnd(outcome: SshOutcome): SessionEnd {
    const cut = outcome.droppedFor !== undefined || outcome.code === null || outcome.code === SSH_CONNECTION_ERROR;
    return cut && outcome.connected ? this.#cutEnd() : "clean";
  }

  /** A cut connection: tmux and screen had the alternate screen; a command may not have. */
  #cutEnd(): SessionEnd {
    return this.#request.command.length > 0 ? "cut" : "cut-in-alternate-screen";
  }

  /** Runs ssh once, dropping it early if the network under it changes. */
  #runSsh(attempt: number): Promise<SshOutcome> {
    const marker = join(this.#markerDir, `connected.${attempt}`);
    const started = performance.now();
    let connectedAt = 0;
    let droppedFor: string | undefined;
    let lastMessage = "";
    this.#note(`attempt ${attempt}: ssh ${this.#request.destination}`);
    const child = spawn("ssh", this.#sshArgs(marker), { stdio: ["inherit", "inherit", "pipe"] });
    this.#ssh = child;
    child.stderr?.on("data", (chunk: Buffer) => {
      process.stderr.write(chunk);
      const lines = chunk.toString("utf8").split(/\r?\n/).filter((line) => line.trim());
      if (lines.length) lastMessage = (lines[lines.length - 1] as string).trim();
    });
    const isConnected = (): boolean => {
      if (!connectedAt && existsSync(marker)) connectedAt = performance.now();
      return connectedAt > 0;
    };
    const drop = (reason: string): void => {
      if (droppedFor) return;
      droppedFor = reason;
      child.kill("SIGTERM");
      setTimeout(() => child.kill("SIGKILL"), 1000).unref();
    };
    this.#onNetwork = (event, detail) => {
      // A new address alone does not break an open connection; losing one, moving the default
      // route, or waking from sleep does.
      if (event === "address-added") return;
      this.#note(`network: ${event} (${detail})`);
      drop(`${event}: ${detail}`);
    };
    return new Promise((resolve) => {
      child.on("error", (error) => {
        lastMessage = `cannot run ssh: ${error.message}`;
      });
      child.on("close", (code, signal) => {
        this.#onNetwork = undefined;
        const connected = isConnected();
        resolve({
          code: droppedFor ? SSH_CONNECTION_ERROR : code,
          signal,
          connected,
          droppedFor,
          upMs: connected ? performance.now() - connectedAt : 0,
          lastMessage,
        });
      });
      const poll = setInterval(() => {
        if (isConnected()) {
          clearInterval(poll);
          this.#note(`attempt ${attempt}: connected in ${Math.round(connectedAt - started)} ms`);
          if (this.#lostAt > 0) this.#note(`re-attached ${Math.round(connectedAt - this.#lostAt)} ms after the connection was lost`);
          this.#lostAt = 0;
        }
      }, 50);
      child.on("close", () => clearInterval(poll));
    });
  }

  #sshArgs(marker: string): string[] {
    const { sshOptions, destination, aliveInterval, aliveCountMax } = this.#request;
    const configured = (key: string): number => {
      const value = Number(this.#settings.get(key));
      return Number.isFinite(value) && value > 0 ? value : Infinity;
    };
    // ssh takes the first value it is given, command line before config files: ssh-anchor's
    // marker comes first (running the user's own LocalCommand after it); the user's own -o
    // options come next and win over ours. A keepalive from the config is kept only when it is
    // the quicker one: a long one (Debian turns on 300 s with BatchMode) would leave a dead
    // connection unnoticed for minutes.
    const args = ["-t", "-o", "PermitLocalCommand=yes", "-o", `LocalCommand=${this.#localCommand(marker)}`, ...sshOptions];
    const interval = aliveInterval ?? DEFAULT_ALIVE_INTERVAL;
    if (aliveInterval !== undefined || configured("serveraliveinterval") > interval) {
      args.push("-o", `ServerAliveInterval=${interval}`);
      args.push("-o", `ServerAliveCountMax=${aliveCountMax ?? DEFAULT_ALIVE_COUNT_MAX}`);
    }
    if (configured("connecttimeout") === Infinity) args.push("-o", `ConnectTimeout=${DEFAULT_CONNECT_TIMEOUT}`);
    // A ControlMaster from the config would carry the session over its own connection, and a
    // master whose network died would stall every reconnect until its own keepalive gives up:
    // connect makes connections of its own (an explicit -S or -o ControlPath above still wins).
    args.push("-o", "ControlPath=none");
    args.push(destination, remoteCommand(this.#request));
    return args;
  }

  /** The marker, then the user's own LocalCommand when their settings run one. */
  #localCommand(marker: string): string {
    const own = this.#settings.get("permitlocalcommand") === "yes" ? this.#settings.get("localcommand") : undefined;
    const touch = `touch '${marker}'`;
    return own ? `${touch}; ${own}` : touch;
  }

  /**
   * Waits `delayMs` before the next attempt, showing a countdown. Ends early on Enter, on a
   * network change, or when the host's port starts answering again; Ctrl-C quits.
   */
  #wait(delayMs: number, attempt: number): Promise<WaitOutcome> {
    return new Promise((resolve) => {
      const deadline = performance.now() + delayMs;
      const timers: NodeJS.Timeout[] = [];
      let finished = false;
      const finish = (outcome: WaitOutcome, why?: string): void => {
        // A late probe or key must not touch the terminal once ssh owns it again.
        if (finished) return;
        finished = true;
        for (const timer of timers) clearInterval(timer);
        stopKeys();
        this.#onNetwork = undefined;
        this.#terminal.clearStatus();
        if (why) this.#note(`retrying now: ${why}`);
        resolve(outcome);
      };
      const show = (): void => {
        const seconds = Math.ceil((deadline - performance.now()) / 1000);
        if (seconds <= 0) return finish("retry");
        this.#terminal.status(
          `ssh-anchor: connection lost; reconnecting in ${seconds} s, attempt ${attempt}; Enter: retry now, Ctrl-C: quit`,
        );
      };
      const stopKeys = this.#terminal.readKeys(
        () => finish("retry", "Enter pressed"),
        () => finish("quit"),
      );
      this.#onNetwork = (event, detail) => finish("retry", `network: ${event} (${detail})`);
      if (delayMs <= 0) return finish("retry");
      show();
      timers.push(setInterval(show, 250));
      const probe = this.#reachabilityProbe(() => finish("retry", "the host answers again"));
      if (probe) timers.push(probe);
    });
  }

  /**
   * Tries the host's TCP port every second and calls `onBack` when it goes from silent to
   * answering, so that the end of an outage is noticed within a second even when no local
   * address or route changes. Not used through jump hosts or proxy commands.
   */
  #reachabilityProbe(onBack: () => void): NodeJS.Timeout | undefined {
    if (isProxied(this.#settings)) return undefined;
    const host = this.#settings.get("hostname") ?? this.#request.destination;
    const port = Number(this.#settings.get("port") ?? 22);
    const probe = (): void => {
      const socket = tcpConnect({ host, port, timeout: REACHABILITY_PROBE_MS });
      const done = (answered: boolean): void => {
        socket.destroy();
        // Only a change from silent to answering counts: a host that answers all along but
        // refuses the login must not be retried every second.
        const wasSilent = this.#hostAnswered === false;
        this.#hostAnswered = answered;
        if (answered && wasSilent) onBack();
      };
      socket.once("connect", () => done(true));
      socket.once("timeout", () => done(false));
      socket.once("error", () => done(false));
    };
    setImmediate(probe);
    return setInterval(probe, REACHABILITY_PROBE_MS);
  }

  #note(message: string): void {
    this.#log?.info(message);
  }
}

/** Opens (creating) the log file once, so that a path that cannot be written fails at start. */
function checkWritable(file: string): void {
  try {
    closeSync(openSync(file, "a", 0o600));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "its directory does not exist" : code === "EACCES" ? "permission denied" : code === "EISDIR" ? "it is a directory" : code;
    throw new UserError(`cannot write the log ${file}: ${why}; create the directory or give another --log`, 2);
  }
}
