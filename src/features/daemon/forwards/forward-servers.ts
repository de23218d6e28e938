import { mkdir, unlink } from "node:fs/promises";
import { dirname } from "node:path";
import { createServer, type Server, type Socket } from "node:net";
import { GPG_FORWARD, stableForwardPath } from "../../../shared/discovery/forwards.js";
import { gpgAgentSocketPath, gpgPathState, redirectText, scopedGpgTarget } from "../../../shared/discovery/gpg-path.js";
import { lstatOrUndefined, replaceOwnFile } from "../../../shared/core/trust.js";
import { boundFileAt, keptUnlessStopped, letGo, sameFile, type BoundFile } from "../bound-file.js";
import { SingleFlight } from "../../../shared/core/single-flight.js";
import { bindPrivately } from "../listener.js";
import { dial } from "../../../shared/core/dial.js";
import { TIMING } from "../../../shared/core/timing.js";

export interface ForwardServersOptions {
  /** The daemon's private directory (asked each time: the daemon may move). */
  readonly directory: () => string;
  readonly uid: number;
  readonly log: (message: string) => void;
  /** A client connected to the stable socket of forward `name` (of `scope`, when scoped). */
  readonly onConnection: (socket: Socket, name: string, scope: string | undefined) => void;
  /** gpg's agent socket path; default `gpgconf --list-dirs agent-socket` (tests pass theirs). */
  readonly gpgAgentSocket?: () => Promise<string | undefined>;
  /** Whether per-identity is on for the account: gpg's redirect then names each shell's scope. */
  readonly perIdentity?: () => Promise<boolean>;
}

interface Listening {
  readonly key: string;
  readonly name: string;
  readonly scope: string | undefined;
  readonly path: string;
  readonly server: Server;
  readonly bound: BoundFile | undefined;
}

/**
 * The forwards' stable sockets in the daemon's private directory: D/gpg.sock from the start
 * (so gpg, led there by the redirect, always finds someone who greets and never autostarts a
 * gpg-agent onto it), D/NAME.sock from the first time a forward NAME appears, each kept until
 * the daemon stops (a pane's path must outlive every login). The daemon holds the directory (its
 * lock and agent.sock), so a socket at one of these names is a leftover of its own, or a local
 * gpg-agent that gpg autostarted while no daemon ran: it is replaced (gpg-agent exits by itself
 * when its socket is gone).
 */
export class ForwardServers {
  readonly #options: ForwardServersOptions;
  readonly #listening = new Map<string, Listening>();
  /** Binds under way, by key: a second serve() of the same socket meanwhile waits for the
   * first (two at start once left a server nobody closed: the daemon outlived its SIGTERM). */
  readonly #binds = new SingleFlight<string | undefined>();
  #stopped = false;
  /** gpg's agent socket path, once asked (undefined: no gpgconf). */
  #gpgPath: Promise<string | undefined> | undefined;
  #toldGpgPath = "";
  /** The gpg redirect being written (ensureGpgRedirect), the next call queued behind it. */
  #redirecting: Promise<void> = Promise.resolve();

  constructor(options: ForwardServersOptions) {
    this.#options = options;
  }

  async start(): Promise<void> {
    await this.serve(GPG_FORWARD);
  }

  /** Serves the stable socket of `name` (and of `scope`'s), if not yet. */
  serve(name: string, scope?: string): Promise<string | undefined> {
    const key = `${scope ?? ""}/${name}`;
    const known = this.#listening.get(key);
    if (known || this.#stopped) return Promise.resolve(known?.path);
    return this.#binds.run(key, () => this.#bind(key, name, scope));
  }

  async #bind(key: string, name: string, scope: string | undefined): Promise<string | undefined> {
    const path = stableForwardPath(this.#options.directory(), name, scope);
    const server = createServer({ allowHalfOpen: true }, (socket) => this.#options.onConnection(socket, name, scope));
    try {
      await bindPrivately(server, path).catch(async (error: NodeJS.ErrnoException) => {
        if (error.code !== "EADDRINUSE") throw error;
        const stats = await lstatOrUndefined(path);
        if (!stats?.isSocket() || stats.uid !== this.#options.uid) throw error;
        this.#options.log(`${path} was left by an earlier run or taken by a local gpg-agent: replaced`);
        await unlink(path);
        await bindPrivately(server, path);
      });
    } catch (error) {
      this.#options.log(`cannot serve ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
      return undefined;
    }
    server.on("error", (error) => this.#options.log(`${path}: ${error.message}`));
    const bound = await keptUnlessStopped(server, path, () => this.#stopped);
    if (bound === "stopped") return undefined;
    this.#listening.set(key, { key, name, scope, path, server, bound });
    return path;
  }

  /** The stable paths served: name -> path (unscoped). */
  served(): Map<string, string> {
    return new Map([...this.#listening.values()].filter((l) => l.scope === undefined).map((l) => [l.name, l.path]));
  }

  /** Binds again every stable socket that was removed (a cleaner, `rm`). */
  async check(): Promise<void> {
    for (const listening of [...this.#listening.values()]) {
      if (this.#stopped) return;
      const here = dirname(listening.path) === this.#options.directory();
      if (here && sameFile(await boundFileAt(listening.path), listening.bound)) continue;
      this.#options.log(`${listening.path} was removed or replaced; listening again`);
      this.#listening.delete(listening.key);
      await letGo([listening.server], listening.path, listening.bound);
      await this.serve(listening.name, listening.scope);
    }
  }

  /** gpg's agent socket path (asked once). */
  gpgAgentSocket(): Promise<string | undefined> {
    this.#gpgPath ??= (this.#options.gpgAgentSocket ?? gpgAgentSocketPath)().catch(() => undefined);
    return this.#gpgPath;
  }

  /**
   * Makes gpg's agent socket path lead to D/gpg.sock (asked when a gpg forward is present): a
   * libassuan redirect file is put there when the path is free, holds a socket nobody listens
   * on, or an older redirect to a gpg.sock. A live socket there (a local gpg-agent, systemd's
   * gpg-agent.socket) is never taken: `doctor` says so and how to free it. Calls run one after
   * another: two at once would write the same temporary file beside the path.
   */
  ensureGpgRedirect(): Promise<void> {
    this.#redirecting = this.#redirecting
      .then(() => this.#ensureGpgRedirectNow())
      .catch((error: Error) => this.#options.log(`cannot lead gpg's agent socket to ssh-anchor: ${error.message}`));
    return this.#redirecting;
  }

  async #ensureGpgRedirectNow(): Promise<void> {
    const path = await this.gpgAgentSocket();
    const shared = this.#listening.get(`/${GPG_FORWARD}`)?.path;
    if (!path || !shared || this.#stopped) return;
    // On a per-identity account each shell's gpg reaches its own scope's socket (SCOPE_PREFIX_VARIABLE).
    const target = (await this.#options.perIdentity?.().catch(() => false)) ? scopedGpgTarget(shared) : shared;
    const state = await gpgPathState(path, this.#options.uid);
    let why: string | undefined;
    switch (state.kind) {
      case "redirect":
        if (state.target === target) return;
        if (!state.target.endsWith("/gpg.sock") && state.target !== scopedGpgTarget(shared)) why = `${path} redirects to ${state.target}, not ssh-anchor's: left alone`;
        break;
      case "socket":
        if (!state.own) why = `${path} is a socket that is not yours: left alone`;
        else if (state.live) {
          // A gpg-agent that gpg autostarted (an import, a verify) before the first forward came:
          // the forwarded one is what this user wants here. It is asked to exit (its passphrase
          // cache goes, its keys stay on disk) and its path is taken.
          this.#options.log(`a local gpg-agent held ${path}: asked to exit (KILLAGENT), the path now leads to the forwarded one`);
          await killLocalAgent(path);
        }
        break;
      case "other":
        why = `${path} ${state.reason}: left alone`;
        break;
      case "missing":
        break;
    }
    if (why) {
      if (this.#toldGpgPath !== why) this.#options.log(why);
      this.#toldGpgPath = why;
      return;
    }
    try {
      await mkdir(dirname(path), { mode: 0o700 }).catch(() => undefined);
      await replaceOwnFile(path, redirectText(target));
      this.#toldGpgPath = "";
      this.#options.log(`gpg's agent socket ${path} now leads to ${target}`);
    } catch (error) {
      this.#options.log(`cannot write the redirect at ${path}: ${(error as Error).message}`);
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const listening of [...this.#listening.values()]) await letGo([listening.server], listening.path, listening.bound);
    this.#listening.clear();
  }
}

/** Asks the gpg-agent listening at `path` to exit (Assuan KILLAGENT), bounded in time. */
async function killLocalAgent(path: string): Promise<void> {
  const dialed = await dial({ path }, TIMING.forwardGreetingMs);
  if (dialed.kind !== "connected") return;
  const socket = dialed.socket;
  socket.on("error", () => undefined);
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, TIMING.forwardGreetingMs);
    let lines = 0;
    socket.on("data", (chunk: Buffer) => {
      lines += chunk.toString("latin1").split("\n").length - 1;
      if (lines === 1) socket.write("KILLAGENT\n");
      if (lines >= 2) {
        clearTimeout(timer);
        resolve();
      }
    });
    socket.on("close", () => {
      clearTimeout(timer);
      resolve();
    });
  });
  socket.destroy();
}
