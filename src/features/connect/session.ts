import { printable } from "../../shared/core/text.js";
import { mkdtemp, rm } from "node:fs/promises";
import { rmSync } from "node:fs";
import { constants as osConstants, tmpdir } from "node:os";
import { join } from "node:path";
import type { Log } from "../../shared/core/log.js";
import type { SshSettings } from "../../shared/core/ssh-config.js";
import { TIMING } from "../../shared/core/timing.js";
import type { ConnectRequest } from "./args.js";
import { Backoff } from "./backoff.js";
import { newForwardToken } from "../../shared/core/forwards.js";
import { currentUid } from "../../shared/core/trust.js";
import { agentScope, forwardedAgentPath, scopedForwardToken } from "../../shared/scope/forward-token.js";
import { planForwards, type ForwardPlan } from "./forwards.js";
import { countdown, type WaitOutcome } from "./countdown.js";
import { openConnectLog } from "./log-file.js";
import { NetworkWatch, type NetworkEvent } from "./network-watch.js";
import { Reachability } from "./reachability.js";
import { sshArgs } from "./ssh-args.js";
import { effectiveSettings } from "./ssh-config.js";
import { SSH_CONNECTION_ERROR, startSsh, type RunningSsh, type SshOutcome } from "./ssh-process.js";
import { Terminal, type SessionEnd } from "./terminal.js";
import { monotonicMs } from "../../shared/core/clock.js";

/** Exit status when the user quits while waiting to reconnect (as for SIGINT). */
const EXIT_INTERRUPTED = 130;
/** Signals that end connect (Ctrl-C while waiting is handled as a key, or as SIGINT when not a
 * terminal, by the waiting code itself). */
const STOP_SIGNALS: NodeJS.Signals[] = ["SIGHUP", "SIGTERM"];

/**
 * The laptop side: runs the system ssh attached to a remote tmux or screen session, notices a
 * dead connection (keepalives, and faster: address, route and sleep changes), and reconnects
 * with backoff until the session ends, the user detaches, or the user gives up.
 *
 * @example
 * const status = await new ConnectSession(parseConnectArgs(["-A", "me@devbox"])).run();
 * process.exitCode = status;
 */
export class ConnectSession {
  readonly #request: ConnectRequest;
  readonly #terminal = new Terminal();
  readonly #log: Log | undefined;
  readonly #backoff = new Backoff();
  #settings: SshSettings = new Map();
  #forwards: ForwardPlan | undefined;
  #reachability: Reachability | undefined;
  #markerDir = "";
  /** The ssh running now, if any. */
  #ssh: RunningSsh | undefined;
  /** Whether an attempt got through: the host's notes (no ssh-anchor there, a login it cannot
   * scope) were said then, and later attempts keep quiet. */
  #connectedOnce = false;
  /** When the current outage began (monotonicMs()), 0 while connected. */
  #lostAt = 0;
  #onNetwork: ((event: NetworkEvent, detail: string) => void) | undefined;
  readonly #network = new NetworkWatch((event, detail) => this.#onNetwork?.(event, detail));

  /** @throws {UserError} when the --log file cannot be written (a missing directory): at start, not never. */
  constructor(request: ConnectRequest) {
    this.#request = request;
    this.#log = openConnectLog(request.logFile);
  }

  /** Runs until the session is over; resolves with the exit status for the process. */
  async run(): Promise<number> {
    this.#settings = await effectiveSettings(this.#request.sshOptions, this.#request.destination);
    this.#reachability = Reachability.of(this.#settings, this.#request.destination);
    this.#forwards = await planForwards(this.#request, this.#settings, {
      uid: currentUid(),
      note: (line, terminal) => {
        this.#note(line);
        if (terminal) process.stderr.write(`ssh-anchor: ${printable(line)}\n`);
      },
    });
    if (this.#forwards) this.#note(`forwards: ${this.#forwards.forwards.map((forward) => `${forward.name}=${forward.local}`).join(" ")} (to ${this.#forwards.home}, a new token each connection)`);
    this.#markerDir = await mkdtemp(join(tmpdir(), "ssh-anchor-connect-"));
    this.#network.start();
    // The terminal closed (SIGHUP) or someone asked us to stop: end ssh, put the terminal back,
    // leave nothing behind, and exit as a shell would (128 + the signal's number).
    const onSignal = (signal: NodeJS.Signals): void => {
      const running = this.#ssh?.running() ?? false;
      this.#ssh?.drop(`stopped by ${signal}`);
      // ssh killed under the remote program: its modes are left on, as for a cut connection.
      this.#terminal.restore(running ? this.#cutEnd() : "clean");
      rmSync(this.#markerDir, { recursive: true, force: true });
      this.#note(`stopped by ${signal}`);
      const exit = (): never => process.exit(128 + (osConstants.signals[signal] ?? 0));
      setTimeout(exit, TIMING.connectExitMs).unref();
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
        process.stderr.write(`ssh-anchor: ${printable(`could not connect to ${destination}; fix the problem ssh reported above and run again`)}\n`);
        return outcome.code ?? SSH_CONNECTION_ERROR;
      }
      const cause = outcome.droppedFor ?? (outcome.lastMessage || `ssh exited with status ${outcome.code ?? outcome.signal}`);
      if (outcome.connected) {
        this.#lostAt = monotonicMs();
        this.#note(`connection lost after ${Math.round(outcome.upMs / 1000)} s: ${cause}`);
      } else {
        failures += 1;
        this.#note(`attempt ${attempt} failed: ${cause}`);
      }
      if (maxAttempts !== undefined && failures >= maxAttempts) {
        process.stderr.write(`ssh-anchor: ${printable(`gave up after ${failures} failed attempts to reconnect to ${destination}`)}\n`);
        return SSH_CONNECTION_ERROR;
      }
      if (maxTimeSeconds !== undefined && monotonicMs() - this.#lostAt > maxTimeSeconds * 1000) {
        process.stderr.write(`ssh-anchor: ${printable(`gave up reconnecting to ${destination} after ${maxTimeSeconds} s`)}\n`);
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
  async #runSsh(attempt: number): Promise<SshOutcome> {
    const marker = join(this.#markerDir, `connected.${attempt}`);
    this.#note(`attempt ${attempt}: ssh ${this.#request.destination}`);
    // A reconnect says it is under way (a blocked port keeps ssh silent until its timeout); the
    // first attempt is ssh's own, as with plain ssh.
    if (attempt > 1) this.#terminal.line(`ssh-anchor: reconnecting to ${this.#request.destination} (attempt ${attempt})...`);
    // What the remote side has to say (no ssh-anchor there, a login it cannot scope) is said once.
    // A new token each connection: the old login's socket file (a zombie's, still bound) never
    // blocks this one's, and two laptops never share a path.
    // The token names the person's per-identity scope (the keys of the agent ssh forwards, asked
    // again each time: keys change), so that on a shared account their forwards reach only their
    // own panes (docs/per-identity.md).
    const scope = this.#forwards && (await this.#forwardScope());
    const forwarding = this.#forwards && { ...this.#forwards, token: scopedForwardToken(scope, newForwardToken()) };
    if (forwarding) this.#note(`attempt ${attempt}: forwards with token ${forwarding.token}${scope ? ` (scope ${scope})` : " (unscoped: no agent keys to name a scope)"}`);
    const ssh = startSsh(sshArgs(this.#request, this.#settings, marker, { quiet: this.#connectedOnce }, forwarding), marker, (tookMs, at) => {
      this.#connectedOnce = true;
      this.#note(`attempt ${attempt}: connected in ${tookMs} ms`);
      if (this.#lostAt > 0) this.#note(`re-attached ${Math.round(at - this.#lostAt)} ms after the connection was lost`);
      this.#lostAt = 0;
    });
    this.#ssh = ssh;
    this.#onNetwork = (event, detail) => {
      // A new address alone does not break an open connection; losing one, moving the default
      // route, or waking from sleep does.
      if (event === "address-added") return;
      this.#note(`network: ${event} (${detail})`);
      ssh.drop(`${event}: ${detail}`);
    };
    const outcome = await ssh.ended;
    this.#onNetwork = undefined;
    return outcome;
  }

  /** The scope id of the agent ssh forwards (undefined: none, no keys, or no answer). */
  async #forwardScope(): Promise<string | undefined> {
    const agent = forwardedAgentPath(this.#settings, process.env);
    return agent === undefined ? undefined : agentScope(agent, TIMING.laptopAgentScopeMs);
  }

  /** The countdown before the next attempt, cut short by a network change or the host answering. */
  #wait(delayMs: number, attempt: number): Promise<WaitOutcome> {
    return countdown({
      terminal: this.#terminal,
      delayMs,
      attempt,
      note: (message) => this.#note(message),
      earlyRetry: (retryNow) => {
        this.#onNetwork = (event, detail) => retryNow(`network: ${event} (${detail})`);
        const stopProbe = this.#reachability?.watch(() => retryNow("the host answers again"));
        return () => {
          this.#onNetwork = undefined;
          stopProbe?.();
        };
      },
    });
  }

  #note(message: string): void {
    this.#log?.info(message);
  }
}
