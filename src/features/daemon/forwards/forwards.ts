import type { Socket } from "node:net";
import { GPG_FORWARD, forwardsDirectory, stableForwardPath } from "../../../shared/discovery/forwards.js";
import type { AgentHealth } from "../../../shared/discovery/health.js";
import { stillTheSocket } from "../../../shared/core/trust.js";
import { TIMING } from "../../../shared/core/timing.js";
import type { ForwardReport } from "../../../shared/control/status.js";
import { ForwardBook, type Forward } from "./forward-book.js";
import { ForwardConnection } from "./forward-connection.js";
import { ForwardServers } from "./forward-servers.js";
import { forwardServesScope } from "../../../shared/scope/forward-token.js";
import { monotonicMs } from "../../../shared/core/clock.js";

export interface ForwardsOptions {
  readonly home: string;
  readonly uid: number;
  /** The daemon's private directory (asked each time: the daemon may move). */
  readonly directory: () => string;
  readonly log: (message: string) => void;
  readonly verbose: boolean;
  /** What the agent book knows of an agent socket (a login's agent: zombie, scope). */
  readonly agentHealth: (agentPath: string) => AgentHealth | undefined;
  /** The keys of a per-identity scope the daemon knows (undefined: not one it knows). */
  readonly scopeKeys: (scope: string) => readonly string[] | undefined;
  /** Whether per-identity is on for the account (perIdentityEvidence, the one rule). */
  readonly perIdentity: () => Promise<boolean>;
  readonly shortOfDescriptors: (what: string) => void;
  /** A client connected / all of them are gone (the idle exit). */
  readonly onBusy?: () => void;
  readonly onIdle?: () => void;
  /** gpg's agent socket path (tests); default gpgconf's. */
  readonly gpgAgentSocket?: () => Promise<string | undefined>;
}

/**
 * Everything forwarded beyond the agent (issue 20, docs/forwards.md): the forwarded sockets of
 * the user's logins (ForwardBook), the stable sockets (ForwardServers), gpg's redirect, and the
 * connections between them (ForwardConnection). The agent's own path (connection.ts) is not
 * touched: this is beside it, sharing its trust checks and its ranking (rankAgents).
 */
export class Forwards {
  readonly #options: ForwardsOptions;
  readonly book: ForwardBook;
  readonly #servers: ForwardServers;
  readonly #connections = new Set<ForwardConnection>();
  #scopes: readonly string[] = [];
  #perIdentityAnswer: { readonly at: number; readonly answer: Promise<boolean> } | undefined;
  /** Connections accepted whose admission is still being decided. */
  #pending = 0;

  constructor(options: ForwardsOptions) {
    this.#options = options;
    this.#servers = new ForwardServers({
      directory: options.directory,
      uid: options.uid,
      log: options.log,
      gpgAgentSocket: options.gpgAgentSocket,
      perIdentity: () => this.#perIdentity(),
      onConnection: (socket, name, scope) => this.#accept(socket, name, scope),
    });
    this.book = new ForwardBook({
      directory: forwardsDirectory(options.home),
      uid: options.uid,
      log: options.log,
      agentHealth: options.agentHealth,
      onNames: (names) => void this.#namesChanged(names),
    });
  }

  async start(): Promise<void> {
    await this.#servers.start();
    await this.book.start();
  }

  /** The per-identity scopes served: each gets its own stable sockets for every name. */
  async setScopes(scopes: readonly string[]): Promise<void> {
    this.#scopes = scopes;
    await this.#namesChanged(this.book.names());
  }

  /** Binds again what was removed; keeps gpg's redirect in place while a gpg forward is present. */
  async check(): Promise<void> {
    await this.book.check();
    await this.#servers.check();
    if (this.book.names().includes(GPG_FORWARD)) await this.#servers.ensureGpgRedirect();
  }

  async stop(): Promise<void> {
    this.book.stop();
    await this.#servers.stop();
    for (const connection of [...this.#connections]) connection.destroy();
  }

  get size(): number {
    return this.#connections.size;
  }

  /** What `status` shows: every forward name with its stable path and its logins' sockets. */
  async report(): Promise<ForwardReport[]> {
    await this.book.probeAll();
    const served = this.#servers.served();
    const names = [...new Set([...served.keys(), ...this.book.names()])].sort();
    return names.map((name) => {
      const ranked = this.book.ranked(name);
      return {
        name,
        stable: served.get(name) ?? stableForwardPath(this.#options.directory(), name),
        live: ranked.filter((forward) => forward.health === "live" || forward.health === "unknown").length,
        upstreams: this.book
          .all()
          .filter((forward) => forward.name === name)
          .map((forward) => ({
            path: forward.path,
            state: forward.health,
            reason: forward.reason,
            createdAt: new Date(forward.candidate.createdMs).toISOString(),
            rank: ranked.includes(forward) ? ranked.indexOf(forward) + 1 : null,
            login: forward.loginAgents[0] ?? null,
            restricted: forward.restricted ?? null,
            scope: forward.scope ?? null,
          })),
      };
    });
  }

  /** gpg's agent socket path, for status and doctor. */
  gpgAgentSocket(): Promise<string | undefined> {
    return this.#servers.gpgAgentSocket();
  }

  async #namesChanged(names: readonly string[]): Promise<void> {
    for (const name of names) {
      await this.#servers.serve(name);
      for (const scope of this.#scopes) await this.#servers.serve(name, scope);
    }
    for (const scope of this.#scopes) await this.#servers.serve(GPG_FORWARD, scope);
    if (names.includes(GPG_FORWARD)) await this.#servers.ensureGpgRedirect();
  }

  /**
   * Which forwards a connection to a stable socket may be paired with (docs/per-identity.md):
   * a scope's socket, only forwards whose token names that scope (or a scope holding all its
   * keys: forwardServesScope, the agent's rule); the unscoped socket, every forward, except on a
   * per-identity account, where it never reaches a person's (scoped) forward: only unscoped ones.
   * undefined: every forward.
   */
  async admission(scope: string | undefined): Promise<((forward: Forward) => boolean) | undefined> {
    if (scope !== undefined) return (forward) => forwardServesScope(forward.scope, scope, this.#options.scopeKeys);
    // Only a scoped forward makes the question matter (and it reads start-up files).
    if (!this.book.all().some((forward) => forward.scope !== undefined)) return undefined;
    return (await this.#perIdentity()) ? (forward) => forward.scope === undefined : undefined;
  }

  /** perIdentity, its answer kept for TIMING.perIdentityAnswerMs. */
  #perIdentity(): Promise<boolean> {
    const now = monotonicMs();
    if (!this.#perIdentityAnswer || now - this.#perIdentityAnswer.at > TIMING.perIdentityAnswerMs) {
      this.#perIdentityAnswer = { at: now, answer: this.#options.perIdentity() };
    }
    return this.#perIdentityAnswer.answer;
  }

  #accept(socket: Socket, name: string, scope: string | undefined): void {
    if (this.#connections.size === 0 && this.#pending === 0) this.#options.onBusy?.();
    this.#pending += 1;
    socket.on("error", () => undefined);
    void this.admission(scope)
      .catch(() => (forward: Forward) => forward.scope === undefined && scope === undefined)
      .then((accept) => {
        this.#pending -= 1;
        if (socket.destroyed) {
          if (this.#connections.size === 0 && this.#pending === 0) this.#options.onIdle?.();
          return;
        }
        this.#connect(socket, name, accept);
      });
  }

  #connect(socket: Socket, name: string, accept: ((forward: Forward) => boolean) | undefined): void {
    const { uid } = this.#options;
    const connection = new ForwardConnection(socket, {
      book: this.book,
      name,
      accept,
      verify: (forward) => stillTheSocket(forward.path, forward.candidate, uid),
      log: this.#options.log,
      verbose: this.#options.verbose,
      shortOfDescriptors: this.#options.shortOfDescriptors,
      release: (done) => {
        this.#connections.delete(done);
        if (this.#connections.size === 0 && this.#pending === 0) this.#options.onIdle?.();
      },
    });
    this.#connections.add(connection);
  }
}
