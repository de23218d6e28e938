import { homedir } from "node:os";
import { resolve } from "node:path";
import { AgentDiscovery } from "../../shared/discovery/discovery.js";
import { localHostHash } from "../../shared/discovery/host-hash.js";
import { AgentBook, type Agent } from "./agent-book.js";
import type { ConnectionContext } from "./connection.js";
import { ConnectionSet } from "./connection-set.js";
import { dispatchControl, type ControlTarget } from "./control-dispatch.js";
import { DescriptorShortage } from "./descriptor-shortage.js";
import { MemoryKeeper } from "./memory-keeper.js";
import { occasionalLog } from "./occasional-log.js";
import { OwnedSocket } from "./owned-socket.js";
import { Upkeep } from "./upkeep.js";
import { IdleExit } from "./socket-activation.js";
import { statusReport } from "./status-report.js";
import { Log } from "../../shared/core/log.js";
import type { DaemonPaths } from "../../shared/core/location.js";
import { TIMING } from "../../shared/core/timing.js";
import { currentUid, stillTheSocket, stillTheSocketNow } from "../../shared/core/trust.js";
import type { Counters, StatusReport } from "../../shared/control/status.js";
import { ScopeServers } from "./scopes/servers.js";
import { learnKeys, scopedContext } from "./scopes/routing.js";
import { Forwards } from "./forwards/forwards.js";
import { scopeForLogin } from "./scopes/request.js";
import { perIdentityEvidence } from "../../shared/scope/account.js";
import { homeAgentDirectory, SSHD_TMP_ROOT } from "../../shared/discovery/layouts.js";
import { withinMs } from "../../shared/core/bounded.js";

export interface DaemonOptions {
  /** --socket; $SSH_ANCHOR_SOCKET and the default apply when absent. */
  readonly socket?: string;
  /** Extra directories holding agent sockets (--agent-dir). */
  readonly agentDirs?: readonly string[];
  /** Log to this file instead of stderr. */
  readonly logFile?: string;
  readonly verbose?: boolean;
  /** A request unanswered this long gets its agent probed (default TIMING.replyTimeoutMs). */
  readonly replyTimeoutMs?: number;
  /** A probe unanswered this long marks the agent a zombie (default TIMING.probeTimeoutMs). */
  readonly probeTimeoutMs?: number;
  /** No request waits on an unresponsive agent longer than this (default TIMING.maxWaitMs). */
  readonly maxWaitMs?: number;
  readonly version?: string;
  /** Where sshd's `ssh-*` session directories are looked for (default /tmp). */
  readonly tmpRoot?: string;
  readonly uid?: number;
  readonly home?: string;
  /** Socket-activated only: exit after this long with no client connection (systemd keeps the
   * socket and starts the daemon again on the next one). Ignored otherwise. */
  readonly idleExitMs?: number;
}

/**
 * The switcher: serves one stable socket and pairs every client connection with a live agent
 * of the same user. This class wires the parts: OwnedSocket for the socket and the files beside
 * it, ConnectionSet and ProxiedConnection for the connections, AgentBook for the order of the
 * agents, AgentDiscovery for finding them, ScopeServers for the per-identity sockets.
 *
 * @example
 * const daemon = await Daemon.start({ socket: "/home/me/.ssh/anchor-devbox/agent.sock" });
 * process.on("SIGTERM", () => daemon.stop().then(() => process.exit(0)));
 */
export class Daemon {
  readonly log: Log;
  readonly #options: DaemonOptions;
  readonly #uid: number;
  /** The tmp root with a trailing slash: sockets under it are on a local file system. */
  readonly #tmpRoot: string;
  readonly #book: AgentBook;
  readonly #discovery: AgentDiscovery;
  readonly #owned: OwnedSocket;
  readonly #counters: Counters = { served: 0, requests: 0, active: 0, failovers: 0, answeredEmpty: 0, rejected: 0, shed: 0, deadTriedMax: 0 };
  readonly #shortage: DescriptorShortage;
  readonly #connections: ConnectionSet;
  readonly #context: ConnectionContext;
  /** Per-identity sockets (init --per-identity), beside the stable one. */
  readonly #scopes: ScopeServers;
  /** gpg-agent and named forwards (docs/forwards.md), beside the agent's path. */
  readonly #forwards: Forwards;
  readonly #startedAt = new Date();
  readonly #upkeep: Upkeep;
  #idleExit: IdleExit | undefined;
  /** Control commands being answered (a login's scope request): no idle exit meanwhile. */
  #answeringControl = 0;
  /** The idle exit found scoped sockets to keep serving, and said so (once). */
  #toldStayingUp = false;
  /** The first full scan while it runs (the socket already answers). */
  #firstScan: Promise<void> | undefined;
  /** Says (now and then) that a look for new logins ran past its bound. */
  readonly #lookCutShort: (message: string) => void;
  #stopping = false;
  #stopped: Promise<void> | undefined;
  #resolveStopped!: () => void;
  /** Resolves when the daemon has stopped, whoever stopped it. */
  readonly done: Promise<void>;

  private constructor(options: DaemonOptions) {
    this.#options = options;
    this.#uid = options.uid ?? currentUid();
    this.log = new Log({ file: options.logFile, verbose: options.verbose });
    this.done = new Promise((resolve) => (this.#resolveStopped = resolve));
    const info = (message: string): void => this.log.info(message);
    const control: ControlTarget = {
      status: () => this.status(),
      rescan: () => this.rescan(),
      stop: () => this.stop(),
      ready: () => this.#scopes.served(),
      scope: (agentPath) =>
        scopeForLogin(agentPath, { book: this.#book, servers: this.#scopes, rescan: () => this.rescan(), probeTimeoutMs: this.#probeTimeoutMs }),
    };
    this.#owned = new OwnedSocket({
      socket: options.socket,
      home: options.home,
      uid: this.#uid,
      logFile: options.logFile,
      log: this.log,
      onConnection: (socket) => this.#connections.accept(socket, this.#context),
      onControl: (command) => this.#answering(() => dispatchControl(command, control)),
      onShortage: (what) => this.#shortOfDescriptors(what),
      onBound: (own) => this.#discovery.setOwnSocket(own),
    });
    this.#shortage = new DescriptorShortage(info);
    this.#connections = new ConnectionSet({
      counters: this.#counters,
      shortage: this.#shortage,
      onBusy: () => this.#idleExit?.busy(),
      onIdle: () => this.#idleExit?.idle(),
    });
    this.#book = new AgentBook({
      probeTimeoutMs: this.#probeTimeoutMs,
      replyTimeoutMs: options.replyTimeoutMs ?? TIMING.replyTimeoutMs,
      log: info,
      onDead: (agent) => this.#discovery.recheck(agent.path),
      uid: this.#uid,
    });
    this.#tmpRoot = `${resolve(options.tmpRoot ?? SSHD_TMP_ROOT)}/`;
    this.#discovery = new AgentDiscovery({
      uid: this.#uid,
      home: options.home ?? homedir(),
      tmpRoot: resolve(options.tmpRoot ?? SSHD_TMP_ROOT),
      extraDirs: (options.agentDirs ?? []).map((dir) => resolve(dir)),
      hostHash: localHostHash,
      onChange: () => this.#book.sync(this.#discovery.candidates()),
      log: info,
    });
    const noAgent = occasionalLog(info);
    // Apart from the no-agent line, which a client polling between logins would keep taken.
    this.#lookCutShort = occasionalLog(info);
    this.#context = {
      book: this.#book,
      log: this.log,
      counters: this.#counters,
      maxWaitMs: options.maxWaitMs ?? TIMING.maxWaitMs,
      findAgents: () => this.#findAgents(),
      freshen: () => this.#freshen(),
      // Under the tmp root (a local file system) at once, without a promise; elsewhere (a home
      // on NFS may block) through the thread pool.
      verifyUpstream: (agent) =>
        agent.path.startsWith(this.#tmpRoot) ? stillTheSocketNow(agent.path, agent.candidate, this.#uid) : stillTheSocket(agent.path, agent.candidate, this.#uid),
      shortOfDescriptors: (what) => this.#shortOfDescriptors(what),
      noAgent: (reason) => noAgent(`answering as an agent with no keys: ${reason}`),
      release: (connection) => this.#connections.release(connection),
    };
    this.#upkeep = new Upkeep({
      rescan: () => this.rescan(),
      shortOfDescriptors: () => this.#shortage.now(),
      // The stable socket only when it is the daemon's own (under socket activation it is
      // systemd's); the scoped sockets always: they are the daemon's in every mode.
      checkSockets: async () => {
        if (!this.#owned.activated) await this.#owned.check().catch(() => undefined);
        await this.#scopes.check();
        await this.#forwards.setScopes(this.#scopes.scopes().map((scope) => scope.id));
        await this.#forwards.check();
      },
      memory: new MemoryKeeper(
        () => this.#counters.served + this.#counters.requests,
        (before, after, ms) =>
          this.log.detail(`memory: collected garbage in ${ms.toFixed(1)} ms, resident ${before >> 10} KiB -> ${after >> 10} KiB`),
      ),
    });
    this.#forwards = new Forwards({
      home: options.home ?? homedir(),
      uid: this.#uid,
      directory: () => this.paths.directory,
      log: info,
      verbose: options.verbose ?? false,
      agentHealth: (path) => this.#book.all().find((agent) => agent.path === path)?.health,
      scopeKeys: (id) => this.#scopes.scopes().find((known) => known.id === id)?.keys,
      // A remembered scope answers at once; otherwise the start-up files (the one rule).
      perIdentity: async () =>
        this.#scopes.scopes().length > 0 || (await perIdentityEvidence({ uid: this.#uid, home: options.home ?? homedir(), socket: options.socket })) !== undefined,
      shortOfDescriptors: (what) => this.#shortOfDescriptors(what),
      onBusy: () => this.#idleExit?.busy(),
      onIdle: () => {
        if (this.#connections.size === 0) this.#idleExit?.idle();
      },
    });
    this.#scopes = new ScopeServers({
      directory: () => this.paths.directory,
      registryFile: () => this.paths.scopes,
      lockFile: () => this.paths.lockFile,
      uid: this.#uid,
      log: info,
      // Keys first: an agent is admitted to a scope only once the daemon knows what it offers.
      onConnection: (socket, scope) =>
        void learnKeys(this.#book).then(() => {
          if (!socket.destroyed) this.#connections.accept(socket, scopedContext(this.#context, scope));
        }),
    });
  }

  /**
   * Takes the socket (replacing a dead daemon's, never a live one's), finds the agents, and
   * starts serving.
   * @throws {UserError} when the socket cannot be taken (exitCode 3: another daemon serves it).
   */
  static async start(options: DaemonOptions = {}): Promise<Daemon> {
    const daemon = new Daemon(options);
    // Listen while the first scan runs (a /tmp full of other users' directories can take
    // seconds): a client that comes meanwhile waits for the scan, as on any miss, and is routed.
    daemon.#discovery.setOwnSocket({ path: daemon.paths.socket, dev: -1, ino: -1 });
    const scanning = daemon.#discovery.start();
    daemon.#firstScan = scanning.catch(() => undefined).finally(() => (daemon.#firstScan = undefined));
    try {
      await daemon.#owned.open();
    } catch (error) {
      scanning.catch(() => undefined);
      daemon.#discovery.stop();
      daemon.#book.stop();
      await daemon.#owned.release();
      throw error;
    }
    // The scoped sockets too while the scan runs: a start that found the daemon's pid file and
    // control socket (a pane's `ssh-anchor start` after a restart) finds them a moment later.
    await daemon.#scopes.start();
    await daemon.#forwards.start();
    await daemon.#forwards.setScopes(daemon.#scopes.scopes().map((scope) => scope.id));
    await scanning.catch(async (error: unknown) => {
      daemon.#discovery.stop();
      daemon.#book.stop();
      await daemon.#scopes.stop();
      await daemon.#forwards.stop();
      await daemon.#owned.release();
      throw error;
    });
    daemon.#upkeep.start();
    daemon.#startIdleExit();
    daemon.#book.onRouteChange((agent) => daemon.#logRoute(agent));
    daemon.log.info(`ssh-anchor ${options.version ?? ""} serving ${daemon.paths.socket} (pid ${process.pid})`.replace("  ", " "));
    daemon.#logRoute(daemon.#book.ranked()[0]);
    return daemon;
  }

  /** Where the daemon serves: it moves to the fallback directory if its own is taken from it. */
  get paths(): DaemonPaths {
    return this.#owned.paths;
  }

  /** Reads every agent directory again (SIGHUP, the `rescan` control command). */
  rescan(): Promise<void> {
    return this.#discovery.rescan();
  }

  /** Stops listening, removes the socket and the files beside it, and closes every connection. */
  stop(): Promise<void> {
    this.#stopped ??= this.#shutdown();
    return this.#stopped;
  }

  /** What `ssh-anchor status` shows: the agents (each probed first), counters and memory. A
   * login that appeared since the last look is looked for first, as a connection would, and the
   * remembered scopes' sockets are bound before they are reported. */
  async status(): Promise<StatusReport> {
    await this.#freshen();
    await this.#scopes.served();
    const [forwards, gpgAgentSocket] = await Promise.all([this.#forwards.report(), this.#forwards.gpgAgentSocket()]);
    const report = await statusReport({
      version: this.#options.version ?? "",
      socket: this.paths.socket,
      logFile: this.#options.logFile ?? null,
      startedAt: this.#startedAt,
      counters: this.#counters,
      book: this.#book,
      discovery: this.#discovery,
      scopes: this.#scopes,
      homeAgentDirectory: homeAgentDirectory(this.#options.home ?? homedir()),
    });
    return { ...report, forwards, gpgAgentSocket: gpgAgentSocket ?? null };
  }

  get #probeTimeoutMs(): number {
    return this.#options.probeTimeoutMs ?? TIMING.probeTimeoutMs;
  }

  /**
   * --idle-exit: only a socket-activated daemon may exit when idle (systemd holds its socket), and
   * only while it serves no scoped socket. systemd holds the stable socket but not the scoped ones
   * (their names come and go with the people who log in, and Node cannot hand a descriptor to
   * systemd's descriptor store); panes hold those paths, and an exit would leave them with "No
   * such file or directory". So a daemon that has a scope registered stays up, idle or not.
   */
  #startIdleExit(): void {
    const ms = this.#options.idleExitMs;
    if (ms === undefined) return;
    if (!this.#owned.activated) {
      this.log.info("--idle-exit applies only under socket activation: staying up");
      return;
    }
    this.#idleExit = new IdleExit(ms, () => {
      if (this.#connections.size > 0 || this.#forwards.size > 0 || this.#answeringControl > 0 || this.#stopping) return;
      const scopes = this.#scopes.scopes().length;
      if (scopes > 0) {
        if (!this.#toldStayingUp) {
          this.log.info(
            `no connection for ${ms / 1000} s, but staying up: ${scopes} per-identity socket${scopes === 1 ? "" : "s"} ` +
              "would be gone with the daemon (systemd holds only the stable socket)",
          );
        }
        this.#toldStayingUp = true;
        return;
      }
      // Stop accepting now, synchronously: whoever connects from here on waits in the listening
      // socket, which systemd keeps, and is served by the next start. Nothing accepted is dropped.
      this.#owned.stopAccepting();
      this.log.info(`no connection for ${ms / 1000} s: exiting; systemd starts the daemon again on the next one`);
      void this.stop();
    });
    this.#idleExit.idle();
  }

  /** Answers a control command; the idle exit waits for it (it may register a scope). */
  async #answering<T>(answer: () => Promise<T>): Promise<T> {
    this.#answeringControl += 1;
    this.#idleExit?.busy();
    try {
      return await answer();
    } finally {
      this.#answeringControl -= 1;
      if (this.#answeringControl === 0 && this.#connections.size === 0 && !this.#stopping) this.#idleExit?.idle();
    }
  }

  /** A connection found no agent: a fresh, bounded look (a login may have just appeared),
   * however recently a full scan finished. Not while out of descriptors: directories that
   * cannot be read would look empty. */
  async #findAgents(): Promise<boolean> {
    if (this.#shortage.now()) return true;
    // A client that came while the first scan runs waits for it: it is the complete look.
    const finished = this.#firstScan ? await this.#firstScan.then(() => true) : await this.#discovery.lookAgain(TIMING.lookAgainMs, true);
    if (!finished) this.#lookCutShort(`a look for new logins was still running after ${TIMING.lookAgainMs} ms (a slow file system, or a machine under heavy load): a connection that found no agent was answered without it`);
    await this.#book.triaged();
    // A new login's socket found between its bind and its listen refused once: asked again now.
    await withinMs(this.#book.recheckRefusedNow(), TIMING.lookAgainMs);
    return finished;
  }

  /**
   * Before a connection is routed: when the session directories' root changed since its last
   * listing, or a watched directory's change is still to be read (a login may have just
   * appeared in either), the same bounded look as on a miss. The
   * root is not watched (another user's churn in /tmp would wake the daemon at every change):
   * this one lstat per connection is what a fresh login's first command is found by. Then, if
   * new candidates are being sorted by the listening sockets, that (bounded) wait too.
   */
  #freshen(): Promise<unknown> | undefined {
    if (this.#firstScan || this.#shortage.now()) return undefined;
    if (!this.#discovery.mayHaveUnseenLogin()) return this.#book.triaged();
    return this.#discovery.lookAgain(TIMING.freshenLookMs).then(() => this.#book.triaged());
  }

  /** Out of file descriptors: shed new connections for a moment, log it now and then. */
  #shortOfDescriptors(what: string): void {
    this.#shortage.report(what, this.#connections.size);
  }

  #logRoute(agent: Agent | undefined): void {
    if (agent) this.log.info(`new connections go to ${agent.path} (${agent.candidate.kind}, ${agent.health})`);
    else this.log.info("no usable agent: new connections get an empty key list until a login with agent forwarding appears");
  }

  async #shutdown(): Promise<void> {
    this.#stopping = true;
    this.#upkeep.stop();
    this.#idleExit?.busy();
    this.#connections.stopSweeping();
    this.#discovery.stop();
    this.#book.stop();
    await this.#owned.close();
    await this.#scopes.stop();
    await this.#forwards.stop();
    await this.#owned.removePidFile();
    this.#connections.destroyAll();
    this.log.info("stopped");
    this.log.close();
    this.#resolveStopped();
  }
}
