import { readFileSync } from "node:fs";
import { lstat, unlink } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import { homedir } from "node:os";
import { resolve } from "node:path";
import { AgentDiscovery } from "../discovery/discovery.js";
import { localHostHash } from "../discovery/host-hash.js";
import { UserError } from "../core/errors.js";
import { AgentBook, type Agent } from "./agent-book.js";
import { ProxiedConnection, type ConnectionContext } from "./connection.js";
import { createControlServer } from "./control-server.js";
import type { ControlCommand } from "../control/protocol.js";
import { DirectoryGuard } from "./directory-guard.js";
import { listenExclusively } from "./listener.js";
import { MemoryKeeper } from "./memory-keeper.js";
import { activationDescriptor, IdleExit, listenOnDescriptor } from "./socket-activation.js";
import { Log } from "../core/log.js";
import { daemonPaths, squatOf, type DaemonPaths } from "../core/location.js";
import { ensurePrivateDirectory } from "../core/private-dir.js";
import { TIMING } from "../core/timing.js";
import { readOwnFile, replaceOwnFile, stillTheSocket } from "../core/trust.js";
import type { Counters, StatusReport } from "../control/status.js";
import { ScopeServers } from "./scopes/servers.js";
import { learnKeys, scopedContext } from "./scopes/routing.js";
import { scopeForLogin } from "./scopes/request.js";
import { scopeReports } from "./scopes/reports.js";

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

function memoryKiB(): StatusReport["memoryKiB"] {
  let usage: NodeJS.MemoryUsage;
  try {
    usage = process.memoryUsage();
  } catch {
    // Out of descriptors (it reads /proc/self/stat): status still answers.
    return { private: 0, privateSource: "rss", rss: 0, heapUsed: 0, external: 0 };
  }
  const kib = (bytes: number) => Math.round(bytes / 1024);
  // Private memory (Linux: RssAnon), what this daemon costs the machine; resident memory also
  // counts the node binary's pages, shared with every other node process. Elsewhere: rss.
  let status = "";
  try {
    status = readFileSync("/proc/self/status", "utf8");
  } catch {
    // No /proc: resident memory is the best there is.
  }
  const anon = /^RssAnon:\s+(\d+) kB$/m.exec(status)?.[1];
  return {
    private: anon !== undefined ? Number(anon) : kib(usage.rss),
    privateSource: anon !== undefined ? "RssAnon" : "rss",
    rss: kib(usage.rss),
    heapUsed: kib(usage.heapUsed),
    external: kib(usage.external + usage.arrayBuffers),
  };
}

/**
 * The switcher: serves one stable socket and pairs every client connection with a live agent
 * of the same user. See ProxiedConnection for the routing of one connection, AgentBook for the
 * order, AgentDiscovery for finding candidates.
 *
 * @example
 * const daemon = await Daemon.start({ socket: "/home/me/.ssh/anchor-devbox/agent.sock" });
 * process.on("SIGTERM", () => daemon.stop().then(() => process.exit(0)));
 */
export class Daemon {
  #paths: DaemonPaths;
  readonly log: Log;
  readonly #options: DaemonOptions;
  readonly #uid: number;
  /** The tmp root with a trailing slash: sockets under it are on a local file system. */
  readonly #tmpRoot: string;
  readonly #book: AgentBook;
  readonly #discovery: AgentDiscovery;
  readonly #connections = new Set<ProxiedConnection>();
  readonly #counters: Counters = { served: 0, requests: 0, active: 0, failovers: 0, answeredEmpty: 0, rejected: 0, shed: 0 };
  readonly #context: ConnectionContext;
  /** Per-identity sockets (init --per-identity), beside the stable one. */
  readonly #scopes: ScopeServers;
  readonly #startedAt = new Date();
  readonly #memory = new MemoryKeeper(
    () => this.#counters.served + this.#counters.requests,
    (before, after, ms) =>
      this.log.detail(`memory: collected garbage in ${ms.toFixed(1)} ms, resident ${before >> 10} KiB -> ${after >> 10} KiB`),
  );
  /** The listening socket systemd passed, when socket-activated: then the socket file is its. */
  readonly #activation = activationDescriptor();
  #idleExit: IdleExit | undefined;
  #agentServer: Server | undefined;
  #controlServer: Server | undefined;
  #socketId: { dev: number; ino: number } | undefined;
  /** The socket is gone and not yet taken back. */
  #lost = false;
  /** The first full scan while it runs (the socket already answers). */
  #firstScan: Promise<void> | undefined;
  /** Keeps the socket directory's name ours when someone removes it. */
  #guard: DirectoryGuard | undefined;
  #recovering: Promise<void> | undefined;
  #sweepTimer: NodeJS.Timeout | undefined;
  #timers: NodeJS.Timeout[] = [];
  #lastNoAgentLog = -Infinity;
  /** New connections are shed until then (performance.now()): out of file descriptors. */
  #shedUntil = -Infinity;
  #lastShortageLog = -Infinity;
  #stopping = false;
  #stopped: Promise<void> | undefined;
  #resolveStopped!: () => void;
  /** Resolves when the daemon has stopped, whoever stopped it. */
  readonly done: Promise<void>;

  private constructor(options: DaemonOptions) {
    this.#options = options;
    this.#uid = options.uid ?? process.getuid?.() ?? 0;
    this.#paths = daemonPaths(options.socket, { uid: this.#uid, home: options.home });
    this.log = new Log({ file: options.logFile, verbose: options.verbose });
    this.done = new Promise((resolve) => (this.#resolveStopped = resolve));
    this.#book = new AgentBook({
      probeTimeoutMs: options.probeTimeoutMs ?? TIMING.probeTimeoutMs,
      replyTimeoutMs: options.replyTimeoutMs ?? TIMING.replyTimeoutMs,
      log: (message) => this.log.info(message),
      onDead: (agent) => this.#discovery.recheck(agent.path),
    });
    this.#tmpRoot = `${resolve(options.tmpRoot ?? "/tmp")}/`;
    this.#discovery = new AgentDiscovery({
      uid: this.#uid,
      home: options.home ?? homedir(),
      tmpRoot: resolve(options.tmpRoot ?? "/tmp"),
      extraDirs: (options.agentDirs ?? []).map((dir) => resolve(dir)),
      hostHash: localHostHash,
      onChange: () => this.#book.sync(this.#discovery.candidates()),
      log: (message) => this.log.info(message),
    });
    this.#context = {
      book: this.#book,
      log: this.log,
      counters: this.#counters,
      maxWaitMs: options.maxWaitMs ?? TIMING.maxWaitMs,
      findAgents: () => this.#findAgents(),
      verifyUpstream: (agent) => stillTheSocket(agent.path, agent.candidate, this.#uid, { local: agent.path.startsWith(this.#tmpRoot) }),
      shortOfDescriptors: (what) => this.#shortOfDescriptors(what),
      noAgent: (reason) => this.#noAgent(reason),
      release: (connection) => this.#release(connection),
    };
    this.#scopes = new ScopeServers({
      directory: () => this.paths.directory,
      registryFile: () => `${this.paths.socket}.scopes`,
      lockFile: () => this.paths.lockFile,
      uid: this.#uid,
      log: (message) => this.log.info(message),
      // Keys first: an agent is admitted to a scope only once the daemon knows what it offers.
      onConnection: (socket, scope) =>
        void learnKeys(this.#book).then(() => {
          if (!socket.destroyed) this.#accept(socket, scopedContext(this.#context, scope));
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
      await daemon.#openEndpoints();
      await scanning;
    } catch (error) {
      scanning.catch(() => undefined);
      daemon.#discovery.stop();
      daemon.#book.stop();
      await daemon.#releaseEndpoints();
      throw error;
    }
    await daemon.#scopes.start();
    daemon.#startTimers();
    daemon.#startIdleExit();
    daemon.#book.onRouteChange((agent) => daemon.#logRoute(agent));
    daemon.log.info(`ssh-anchor ${options.version ?? ""} serving ${daemon.paths.socket} (pid ${process.pid})`.replace("  ", " "));
    daemon.#logRoute(daemon.#book.ranked()[0]);
    return daemon;
  }

  /** Where the daemon serves: it moves to the fallback directory if its own is taken from it. */
  get paths(): DaemonPaths {
    return this.#paths;
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

  async status(): Promise<StatusReport> {
    await this.#book.probeAll();
    const ranked = this.#book.ranked();
    return {
      running: true,
      version: this.#options.version ?? "",
      pid: process.pid,
      socket: this.paths.socket,
      logFile: this.#options.logFile ?? null,
      startedAt: this.#startedAt.toISOString(),
      uptimeSeconds: Math.round((Date.now() - this.#startedAt.getTime()) / 1000),
      route: ranked[0]?.path ?? null,
      connections: { ...this.#counters },
      memoryKiB: memoryKiB(),
      agents: this.#book.all().map((agent) => ({
        path: agent.path,
        kind: agent.candidate.kind,
        state: agent.health,
        reason: agent.reason,
        keys: agent.keys ?? null,
        fingerprints: agent.fingerprints ?? null,
        createdAt: new Date(agent.candidate.createdMs).toISOString(),
        rank: ranked.includes(agent) ? ranked.indexOf(agent) + 1 : null,
      })),
      ignored: [...this.#discovery.ignored()],
      scopes: scopeReports(this.#scopes, this.#book),
    };
  }

  async #openEndpoints(): Promise<void> {
    const { paths } = this;
    await ensurePrivateDirectory(paths.directory, this.#uid, { createParent: paths.inHome });
    // Closing a listening Unix socket makes libuv unlink its path: let go of the old endpoints
    // (after their files were removed) before new files take those paths.
    await this.#releaseEndpoints();
    const agentServer = createServer({ allowHalfOpen: true }, (socket) => this.#accept(socket));
    if (this.#activation === undefined) await listenExclusively(agentServer, paths.socket, paths.lockFile, this.#uid);
    else await listenOnDescriptor(agentServer, this.#activation);
    agentServer.on("error", (error: NodeJS.ErrnoException) => {
      // accept() failing for want of descriptors: libuv has closed that connection already.
      if (error.code === "EMFILE" || error.code === "ENFILE") this.#shortOfDescriptors(`accepting: ${error.code}`);
      else this.log.info(`agent socket error: ${error.message}`);
    });
    this.#agentServer = agentServer;
    const stats = await lstat(paths.socket).catch(() => undefined);
    if (!stats) {
      throw new UserError(`socket-activated, but nothing is at ${paths.socket}: give run the same --socket as ListenStream=`);
    }
    this.#socketId = { dev: stats.dev, ino: stats.ino };
    this.#discovery.setOwnSocket({ path: paths.socket, dev: stats.dev, ino: stats.ino });

    // The agent socket is ours now, so whatever sits at the control path is a leftover.
    await unlink(paths.control).catch(() => undefined);
    const controlServer = createControlServer((command) => this.#control(command));
    await listenExclusively(controlServer, paths.control, paths.lockFile, this.#uid);
    controlServer.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "EMFILE" || error.code === "ENFILE") this.#shortOfDescriptors(`accepting a control connection: ${error.code}`);
      else this.log.info(`control socket error: ${error.message}`);
    });
    this.#controlServer = controlServer;

    await replaceOwnFile(paths.pidFile, `${process.pid}\n`);
    this.#watchDirectory();
  }

  /** A tmp cleaner's `rm -rf` of the directory is answered at once (see DirectoryGuard). */
  #watchDirectory(): void {
    this.#guard?.stop();
    if (this.#activation !== undefined) return;
    const { paths } = this;
    this.#guard = new DirectoryGuard({
      directory: paths.directory,
      uid: this.#uid,
      files: [paths.socket, paths.control, paths.pidFile],
      onLoss: () => void this.#checkSocketFile(),
    });
    this.#guard.start();
  }

  /**
   * Stops listening. When the socket path still holds our socket, closing removes it (and the
   * control socket); when someone else's file took the path, the servers are abandoned instead,
   * because closing them would unlink that file.
   */
  async #releaseEndpoints(): Promise<void> {
    const agentServer = this.#agentServer;
    const controlServer = this.#controlServer;
    this.#agentServer = undefined;
    this.#controlServer = undefined;
    if (!agentServer || !controlServer) return;
    if (await this.#pathIsOurs()) {
      agentServer.close();
      controlServer.close();
    } else {
      agentServer.unref();
      controlServer.unref();
    }
  }

  /** True when the socket path is missing or still holds the socket this daemon bound. */
  async #pathIsOurs(): Promise<boolean> {
    const stats = await lstat(this.paths.socket).catch(() => undefined);
    return !stats || (stats.dev === this.#socketId?.dev && stats.ino === this.#socketId.ino);
  }

  #accept(socket: Socket, context: ConnectionContext = this.#context): void {
    if (performance.now() < this.#shedUntil) {
      // Out of descriptors a moment ago: this one would need an upstream descriptor too.
      // Closing it at once keeps the open connections served and the client not waiting.
      this.#counters.shed += 1;
      socket.on("error", () => undefined);
      socket.destroy();
      return;
    }
    this.#counters.served += 1;
    this.#counters.active += 1;
    const connection = new ProxiedConnection(socket, context);
    this.#connections.add(connection);
    this.#idleExit?.busy();
    this.#sweepTimer ??= setInterval(() => this.#sweep(), TIMING.sweepMs);
  }

  #release(connection: ProxiedConnection): void {
    if (!this.#connections.delete(connection)) return;
    this.#counters.active -= 1;
    // Its descriptors are free again: the next connection may be served.
    this.#shedUntil = -Infinity;
    if (this.#connections.size === 0) {
      clearInterval(this.#sweepTimer);
      this.#sweepTimer = undefined;
      this.#idleExit?.idle();
    }
  }

  /** --idle-exit: only a socket-activated daemon may exit when idle (systemd holds its socket). */
  #startIdleExit(): void {
    const ms = this.#options.idleExitMs;
    if (ms === undefined) return;
    if (this.#activation === undefined) {
      this.log.info("--idle-exit applies only under socket activation: staying up");
      return;
    }
    this.#idleExit = new IdleExit(ms, () => {
      if (this.#connections.size > 0 || this.#stopping) return;
      // Stop accepting now, synchronously: whoever connects from here on waits in the listening
      // socket, which systemd keeps, and is served by the next start. Nothing accepted is dropped.
      this.#agentServer?.close();
      this.log.info(`no connection for ${ms / 1000} s: exiting; systemd starts the daemon again on the next one`);
      void this.stop();
    });
    this.#idleExit.idle();
  }

  #sweep(): void {
    const now = performance.now();
    for (const connection of this.#connections) {
      if (connection.outstanding > 0) void connection.checkLate(now);
    }
  }

  /** A connection found no agent: a fresh, bounded look (a login may have just appeared),
   * however recently a full scan finished. Not while out of descriptors: directories that
   * cannot be read would look empty. */
  async #findAgents(): Promise<void> {
    if (this.#shortNow()) return;
    // A client that came while the first scan runs waits for it: it is the complete look.
    if (this.#firstScan) return this.#firstScan;
    await this.#discovery.lookAgain(TIMING.lookAgainMs);
  }

  #shortNow(): boolean {
    return performance.now() < this.#shedUntil;
  }

  /** Out of file descriptors: shed new connections for a moment, log it now and then. */
  #shortOfDescriptors(what: string): void {
    const now = performance.now();
    this.#shedUntil = now + TIMING.shedMs;
    if (now - this.#lastShortageLog < TIMING.repeatedLogMs) return;
    this.#lastShortageLog = now;
    this.log.info(`out of file descriptors (${what}; ${this.#connections.size} connections open): closing new connections until some are free`);
  }

  #noAgent(reason: string): void {
    const now = performance.now();
    if (now - this.#lastNoAgentLog < TIMING.repeatedLogMs) return;
    this.#lastNoAgentLog = now;
    this.log.info(`answering as an agent with no keys: ${reason}`);
  }

  #logRoute(agent: Agent | undefined): void {
    if (agent) this.log.info(`new connections go to ${agent.path} (${agent.candidate.kind}, ${agent.health})`);
    else this.log.info("no usable agent: new connections get an empty key list until a login with agent forwarding appears");
  }

  async #control(command: ControlCommand): Promise<unknown> {
    switch (command) {
      case "status":
        return this.status();
      case "rescan":
        await this.rescan();
        return this.status();
      case "stop":
        setImmediate(() => void this.stop());
        return { stopping: true, pid: process.pid };
      default:
        return scopeForLogin(command.slice("scope ".length), {
          book: this.#book,
          servers: this.#scopes,
          rescan: () => this.rescan(),
          probeTimeoutMs: this.#options.probeTimeoutMs ?? TIMING.probeTimeoutMs,
        });
    }
  }

  #startTimers(): void {
    const rescan = setInterval(() => {
      // Directories that cannot be read for want of descriptors would look empty: wait.
      if (!this.#shortNow()) void this.rescan().catch(() => undefined);
    }, TIMING.rescanMs);
    // The listening server keeps the process alive; timers must not.
    rescan.unref();
    this.#timers = [rescan];
    // A socket-activated daemon's socket file is systemd's to look after.
    if (this.#activation === undefined) {
      const socketCheck = setInterval(
        () => void this.#checkSocketFile().catch(() => undefined).then(() => this.#scopes.check()).catch(() => undefined),
        TIMING.socketCheckMs,
      );
      socketCheck.unref();
      this.#timers.push(socketCheck);
    }
    this.#memory.start();
  }

  /**
   * Someone (a tmp cleaner, rm -rf) removed or replaced the socket or its directory: take the
   * path back at once, or, when another user got the directory first, move to the fallback
   * directory (where the shell code looks next). Never stops the daemon: if neither works now,
   * the next check tries again.
   */
  #checkSocketFile(): Promise<void> {
    this.#recovering ??= this.#recover().finally(() => (this.#recovering = undefined));
    return this.#recovering;
  }

  async #recover(): Promise<void> {
    if (this.#stopping) return;
    const stats = await lstat(this.paths.socket).catch(() => undefined);
    if (stats && stats.dev === this.#socketId?.dev && stats.ino === this.#socketId.ino) return;
    if (this.#stopping) return;
    // Said once per loss: a directory whose parent is gone for a while (XDG_RUNTIME_DIR between
    // logins) is tried again every few seconds, quietly.
    const first = !this.#lost;
    this.#lost = true;
    if (first) this.log.info(`${this.paths.socket} was removed or replaced; listening on it again`);
    const logBeside = this.#options.logFile === this.paths.logFile;
    try {
      await this.#openEndpoints();
    } catch (error) {
      const squat = squatOf(this.paths.directory, this.#uid);
      if (first) this.log.info(`cannot take ${this.paths.socket} back: ${(error as Error).message}`);
      // Gone, not taken: the same path again at the next check. Taken: never used again.
      if (!squat || !(await this.#moveAway(squat))) return;
    }
    // The log file went with the directory: a new one there.
    if (logBeside) this.log.moveTo(this.paths.logFile);
    this.#lost = false;
  }

  /** Someone else took the directory: serve where the location rule says instead. */
  async #moveAway(squat: string): Promise<boolean> {
    let moved: DaemonPaths;
    try {
      moved = daemonPaths(this.#options.socket, { uid: this.#uid, home: this.#options.home });
    } catch (error) {
      this.log.info(`${squat}, and there is no other place: ${(error as Error).message}`);
      return false;
    }
    if (moved.socket === this.paths.socket) return false;
    this.#paths = moved;
    try {
      await this.#openEndpoints();
    } catch (error) {
      this.log.info(`cannot serve ${moved.socket} either: ${(error as Error).message}; trying again in ${TIMING.socketCheckMs / 1000} s`);
      return false;
    }
    this.log.info(`${squat}: serving ${moved.socket} instead`);
    return true;
  }

  async #shutdown(): Promise<void> {
    this.#stopping = true;
    for (const timer of this.#timers) clearInterval(timer);
    this.#memory.stop();
    this.#idleExit?.busy();
    clearInterval(this.#sweepTimer);
    this.#discovery.stop();
    this.#book.stop();
    this.#guard?.stop();
    await this.#releaseEndpoints();
    await this.#scopes.stop();
    await this.#removeOwnFiles();
    for (const connection of [...this.#connections]) connection.destroy();
    this.log.info("stopped");
    this.log.close();
    this.#resolveStopped();
  }

  /** Removes the pid file if it is still ours (closing the servers removed the sockets). */
  async #removeOwnFiles(): Promise<void> {
    const { paths } = this;
    const pid = (await readOwnFile(paths.pidFile, this.#uid)) ?? "";
    if (pid.trim() === String(process.pid)) await unlink(paths.pidFile).catch(() => undefined);
  }
}
