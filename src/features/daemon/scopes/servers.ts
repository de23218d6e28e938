import { dirname } from "node:path";
import { createServer, type Server, type Socket } from "node:net";
import { listenExclusively } from "../listener.js";
import { boundFileAt, keptUnlessStopped, letGo, sameFile, type BoundFile } from "../bound-file.js";
import { ScopeRegistry, type Scope } from "./registry.js";
import type { Anchor } from "../../../shared/scope/rule.js";
import { scopedSocketPath } from "../../../shared/scope/socket-path.js";
import { SingleFlight } from "../../../shared/core/single-flight.js";

export interface ScopeServersOptions {
  /** The stable socket's private directory (daemonPaths(...).directory), already checked; asked
   * each time, because the daemon moves to its fallback directory when its own is taken. */
  readonly directory: () => string;
  /** Where the registry is kept (beside the stable socket). */
  readonly registryFile: () => string;
  /** The daemon's lock file: taking over a leftover socket is serialised with its own. */
  readonly lockFile: () => string;
  readonly uid: number;
  readonly log: (message: string) => void;
  /** A client connected to the scoped socket of `scope`. */
  readonly onConnection: (socket: Socket, scope: Scope) => void;
}

interface Listening {
  readonly scope: Scope;
  readonly path: string;
  readonly server: Server;
  /** The file bound at the path; undefined when it was gone at once (the next check binds again). */
  readonly bound: BoundFile | undefined;
}

/**
 * The scoped sockets: one listening socket per registered scope, bound like the stable socket
 * (0600 from the first moment, a live daemon's socket never taken, a dead one's replaced) and
 * bound again when a tmp cleaner removes it.
 */
export class ScopeServers {
  readonly #options: ScopeServersOptions;
  readonly #registry: ScopeRegistry;
  readonly #listening = new Map<string, Listening>();
  #stopped = false;
  readonly #binds = new SingleFlight<Listening>();
  /** Resolves once the registry was read: a login registered before that would be saved over
   * the scopes remembered (the control socket answers before the scopes are loaded). */
  readonly #loaded: Promise<void>;
  #resolveLoaded!: () => void;
  /** Resolves once every remembered scope's socket was bound (or failed to be): what `status`
   * reports must be there to connect to. */
  readonly #served: Promise<void>;
  #resolveServed!: () => void;

  constructor(options: ScopeServersOptions) {
    this.#options = options;
    this.#registry = new ScopeRegistry(options.registryFile, options.uid);
    this.#loaded = new Promise((resolve) => (this.#resolveLoaded = resolve));
    this.#served = new Promise((resolve) => (this.#resolveServed = resolve));
  }

  /** Serves every scope registered before (a restarted daemon: panes keep their paths). */
  async start(): Promise<void> {
    try {
      await this.#registry.load();
    } finally {
      this.#resolveLoaded();
    }
    try {
      for (const scope of this.#registry.all()) await this.#listen(scope).catch((error: Error) => this.#options.log(`scope ${scope.id}: ${error.message}`));
    } finally {
      this.#resolveServed();
    }
  }

  /** Resolves once the scopes remembered at start are served (at once after a stop). */
  served(): Promise<void> {
    return this.#served;
  }

  /** Registers a login of the scope of `anchor` and makes sure its socket is served. */
  async open(anchor: Anchor): Promise<{ scope: Scope; path: string }> {
    await this.#loaded;
    if (this.#stopped) throw new Error("the daemon is stopping");
    const { scope, forgotten } = await this.#registry.register(anchor);
    for (const old of forgotten) {
      this.#options.log(`scope ${old.id} forgotten: more than the limit of scopes`);
      await this.#close(old.id);
    }
    const listening = this.#listening.get(scope.id) ?? (await this.#listen(scope));
    return { scope, path: listening.path };
  }

  scopes(): Scope[] {
    return this.#registry.all();
  }

  pathOf(scope: Scope): string | undefined {
    return this.#listening.get(scope.id)?.path;
  }

  /** Binds again every scoped socket that was removed, or whose directory the daemon left. */
  async check(): Promise<void> {
    if (this.#stopped) return;
    let moved = false;
    for (const listening of [...this.#listening.values()]) {
      const now = await boundFileAt(listening.path);
      const here = dirname(listening.path) === this.#options.directory();
      if (here && sameFile(now, listening.bound)) continue;
      moved ||= !here;
      this.#options.log(`${listening.path} was removed or replaced, or the daemon moved; listening again`);
      await this.#close(listening.scope.id);
      if (this.#stopped) return;
      await this.#listen(listening.scope).catch((error: Error) => this.#options.log(`scope ${listening.scope.id}: ${error.message}`));
    }
    if (moved) await this.#registry.save().catch((error: Error) => this.#options.log(`cannot save the scopes: ${error.message}`));
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#resolveServed();
    for (const id of [...this.#listening.keys()]) await this.#close(id);
  }

  /** Binds the scope's socket; two logins of one scope at once share the one bind. */
  #listen(scope: Scope): Promise<Listening> {
    return this.#binds.run(scope.id, () => this.#bind(scope));
  }

  async #bind(scope: Scope): Promise<Listening> {
    const path = scopedSocketPath(this.#options.directory(), scope.id);
    const server = createServer({ allowHalfOpen: true }, (socket) => this.#options.onConnection(socket, scope));
    await listenExclusively(server, path, this.#options.lockFile(), this.#options.uid);
    server.on("error", (error) => this.#options.log(`${path}: ${error.message}`));
    const bound = await keptUnlessStopped(server, path, () => this.#stopped);
    if (bound === "stopped") throw new Error("the daemon is stopping");
    const listening: Listening = { scope, path, server, bound };
    this.#listening.set(scope.id, listening);
    return listening;
  }

  /** Stops listening, sparing a file someone else put at the path since (see letGo). */
  async #close(id: string): Promise<void> {
    const listening = this.#listening.get(id);
    if (!listening) return;
    this.#listening.delete(id);
    await letGo([listening.server], listening.path, listening.bound);
  }
}
