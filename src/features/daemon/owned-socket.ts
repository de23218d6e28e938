import { unlink } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import { LOCAL_SHORTAGE } from "../../shared/core/dial.js";
import { UserError } from "../../shared/core/errors.js";
import type { Log } from "../../shared/core/log.js";
import { daemonPaths, squatOf, type DaemonPaths } from "../../shared/core/location.js";
import { ensurePrivateDirectory } from "../../shared/core/private-dir.js";
import { TIMING } from "../../shared/core/timing.js";
import { readOwnFile, replaceOwnFile } from "../../shared/core/trust.js";
import type { ControlCommand } from "../../shared/control/protocol.js";
import { createControlServer } from "./control-server.js";
import { DirectoryGuard } from "./directory-guard.js";
import { listenExclusively } from "./listener.js";
import { activationDescriptor, listenOnDescriptor } from "./socket-activation.js";
import { boundFileAt, letGo, sameFile, type BoundFile } from "./bound-file.js";

export interface OwnedSocketOptions {
  /** --socket; $SSH_ANCHOR_SOCKET and the default apply when absent. */
  readonly socket: string | undefined;
  readonly home: string | undefined;
  readonly uid: number;
  /** The log file the daemon was given: when it is the one beside the socket, it moves along. */
  readonly logFile: string | undefined;
  readonly log: Log;
  /** A client connected to the stable socket. */
  readonly onConnection: (socket: Socket) => void;
  readonly onControl: (command: ControlCommand) => Promise<unknown>;
  /** accept() failed for want of descriptors. */
  readonly onShortage: (what: string) => void;
  /** The stable socket was bound (again): discovery must never take it for an agent. */
  readonly onBound: (own: { path: string; dev: number; ino: number }) => void;
}

/**
 * The files the daemon owns in its private directory: the stable socket, the control socket
 * beside it, the pid file and (through listenExclusively) the lock file. Binds them, binds
 * them again when a tmp cleaner or `rm -rf` removes them, moves to the fallback directory when
 * another user takes the directory, and removes them when the daemon stops. Under socket
 * activation the stable socket is systemd's: it is only served, never bound or looked after.
 *
 * @example
 * const owned = new OwnedSocket({ socket: undefined, home, uid, logFile: undefined, log, onConnection, onControl, onShortage, onBound });
 * await owned.open();
 * owned.paths.socket // -> "/home/me/.ssh/anchor-devbox/agent.sock"
 */
export class OwnedSocket {
  readonly #options: OwnedSocketOptions;
  #paths: DaemonPaths;
  /** The listening socket systemd passed, when socket-activated: then the socket file is its. */
  readonly #activation = activationDescriptor();
  #agentServer: Server | undefined;
  #controlServer: Server | undefined;
  #bound: BoundFile | undefined;
  /** The socket is gone and not yet taken back. */
  #lost = false;
  /** Keeps the socket directory's name ours when someone removes it. */
  #guard: DirectoryGuard | undefined;
  #recovering: Promise<void> | undefined;
  /** The binding under way (a start's, or a recovery's), which close() lets finish first. */
  #opening: Promise<void> | undefined;
  #stopping = false;

  constructor(options: OwnedSocketOptions) {
    this.#options = options;
    this.#paths = this.#locate();
  }

  /** Where the daemon serves: it moves to the fallback directory if its own is taken from it. */
  get paths(): DaemonPaths {
    return this.#paths;
  }

  /** Whether systemd passed the listening socket (and looks after its file). */
  get activated(): boolean {
    return this.#activation !== undefined;
  }

  /** Binds the stable socket (or serves systemd's), the control socket and the pid file. */
  open(): Promise<void> {
    const opening = this.#openNow();
    this.#opening = opening;
    return opening.finally(() => {
      if (this.#opening === opening) this.#opening = undefined;
    });
  }

  async #openNow(): Promise<void> {
    const { paths } = this;
    const { uid } = this.#options;
    await ensurePrivateDirectory(paths.directory, uid, { createParent: paths.inHome });
    // Closing a listening Unix socket makes libuv unlink its path: let go of the old endpoints
    // (after their files were removed) before new files take those paths.
    await this.release();
    const agentServer = createServer({ allowHalfOpen: true }, (socket) => this.#options.onConnection(socket));
    if (this.#activation === undefined) await listenExclusively(agentServer, paths.socket, paths.lockFile, uid);
    else await listenOnDescriptor(agentServer, this.#activation);
    this.#reportErrors(agentServer, "accepting", "agent socket");
    this.#agentServer = agentServer;
    const bound = await boundFileAt(paths.socket);
    if (!bound) {
      throw new UserError(`socket-activated, but nothing is at ${paths.socket}: give run the same --socket as ListenStream=`);
    }
    this.#bound = bound;
    this.#options.onBound({ path: paths.socket, ...bound });

    // The agent socket is ours now, so whatever sits at the control path is a leftover.
    await unlink(paths.control).catch(() => undefined);
    const controlServer = createControlServer(this.#options.onControl);
    await listenExclusively(controlServer, paths.control, paths.lockFile, uid);
    this.#reportErrors(controlServer, "accepting a control connection", "control socket");
    this.#controlServer = controlServer;

    await replaceOwnFile(paths.pidFile, `${process.pid}\n`);
    this.#watchDirectory();
  }

  /** Stops accepting on the stable socket at once, synchronously (the idle exit). */
  stopAccepting(): void {
    this.#agentServer?.close();
  }

  /**
   * Stops listening. When the socket path still holds our socket, closing removes it (and the
   * control socket); when someone else's file took the path, both are abandoned (see letGo).
   */
  async release(): Promise<void> {
    const agentServer = this.#agentServer;
    const controlServer = this.#controlServer;
    this.#agentServer = undefined;
    this.#controlServer = undefined;
    // Either may be missing: an open() that failed half way (its directory removed under it)
    // has bound the agent socket alone.
    const servers = [agentServer, controlServer].filter((server) => server !== undefined);
    if (servers.length > 0) await letGo(servers, this.paths.socket, this.#bound);
  }

  /** The daemon is stopping: no more taking the socket back, and the sockets are let go of. */
  async close(): Promise<void> {
    this.#stopping = true;
    // A binding under way (a recovery when the directory is removed as the daemon stops: a
    // logout removing XDG_RUNTIME_DIR; or the start's own) finishes first, and what it bound is
    // let go of here. Released before it finished, its servers would keep the daemon running
    // after "stopped".
    await this.#recovering?.catch(() => undefined);
    await this.#opening?.catch(() => undefined);
    this.#guard?.stop();
    await this.release();
  }

  /** Removes the pid file if it is still ours (closing the servers removed the sockets). */
  async removePidFile(): Promise<void> {
    const { paths } = this;
    const pid = (await readOwnFile(paths.pidFile, this.#options.uid)) ?? "";
    if (pid.trim() === String(process.pid)) await unlink(paths.pidFile).catch(() => undefined);
  }

  /**
   * Someone (a tmp cleaner, rm -rf) removed or replaced the socket or its directory: take the
   * path back at once, or, when another user got the directory first, move to the fallback
   * directory (where the shell code looks next). Never stops the daemon: if neither works now,
   * the next check tries again.
   */
  check(): Promise<void> {
    this.#recovering ??= this.#recover().finally(() => (this.#recovering = undefined));
    return this.#recovering;
  }

  /** What the location rule says now (it skips a directory another user took). */
  #locate(): DaemonPaths {
    return daemonPaths(this.#options.socket, { uid: this.#options.uid, home: this.#options.home });
  }

  #reportErrors(server: Server, accepting: string, what: string): void {
    server.on("error", (error: NodeJS.ErrnoException) => {
      // accept() failing for want of descriptors: libuv has closed that connection already.
      if (LOCAL_SHORTAGE.has(error.code ?? "")) this.#options.onShortage(`${accepting}: ${error.code}`);
      else this.#options.log.info(`${what} error: ${error.message}`);
    });
  }

  /** A tmp cleaner's `rm -rf` of the directory is answered at once (see DirectoryGuard). */
  #watchDirectory(): void {
    this.#guard?.stop();
    if (this.#activation !== undefined) return;
    const { paths } = this;
    this.#guard = new DirectoryGuard({
      directory: paths.directory,
      uid: this.#options.uid,
      files: [paths.socket, paths.control, paths.pidFile],
      onLoss: () => void this.check(),
    });
    this.#guard.start();
  }

  async #recover(): Promise<void> {
    if (this.#stopping) return;
    if (sameFile(await boundFileAt(this.paths.socket), this.#bound)) return;
    if (this.#stopping) return;
    const { log } = this.#options;
    // Said once per loss: a directory whose parent is gone for a while (XDG_RUNTIME_DIR between
    // logins) is tried again every few seconds, quietly.
    const first = !this.#lost;
    this.#lost = true;
    if (first) log.info(`${this.paths.socket} was removed or replaced; listening on it again`);
    const logBeside = this.#options.logFile === this.paths.logFile;
    try {
      await this.open();
    } catch (error) {
      const squat = squatOf(this.paths.directory, this.#options.uid);
      if (first) log.info(`cannot take ${this.paths.socket} back: ${(error as Error).message}`);
      // Gone, not taken: the same path again at the next check. Taken: never used again.
      if (!squat || !(await this.#moveAway(squat))) return;
    }
    // The log file went with the directory: a new one there.
    if (logBeside) log.moveTo(this.paths.logFile);
    this.#lost = false;
  }

  /** Someone else took the directory: serve where the location rule says instead. */
  async #moveAway(squat: string): Promise<boolean> {
    const { log } = this.#options;
    let moved: DaemonPaths;
    try {
      moved = this.#locate();
    } catch (error) {
      log.info(`${squat}, and there is no other place: ${(error as Error).message}`);
      return false;
    }
    if (moved.socket === this.paths.socket) return false;
    this.#paths = moved;
    try {
      await this.open();
    } catch (error) {
      log.info(`cannot serve ${moved.socket} either: ${(error as Error).message}; trying again in ${TIMING.socketCheckMs / 1000} s`);
      return false;
    }
    log.info(`${squat}: serving ${moved.socket} instead`);
    return true;
  }
}
