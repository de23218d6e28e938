import { watch, type FSWatcher } from "node:fs";
import { readdir, unlink } from "node:fs/promises";
import { join } from "node:path";
import type { Candidate } from "../../../shared/discovery/candidate.js";
import { rankAgents, type AgentHealth } from "../../../shared/discovery/health.js";
import { forwardKind, parseForwardFile, type ForwardKind } from "../../../shared/discovery/forwards.js";
import { loginSockets } from "../../../shared/discovery/login-sockets.js";
import { readListeners } from "../../../shared/discovery/unix-listeners.js";
import { dial, NOBODY_LISTENS } from "../../../shared/core/dial.js";
import { ensurePrivateDirectory } from "../../../shared/core/private-dir.js";
import { TIMING } from "../../../shared/core/timing.js";
import { createdMsOf, directoryRefusal, lstatOrUndefined, processPresence, socketRefusal, stillTheSocket } from "../../../shared/core/trust.js";
import { forwardTokenScope } from "../../../shared/scope/forward-token.js";
import { probeGpgAgent } from "./assuan.js";
import { monotonicMs } from "../../../shared/core/clock.js";

/** One forwarded socket of one login: U/NAME.TOKEN.sock. Ranked like an agent (rankAgents). */
export class Forward {
  readonly name: string;
  readonly token: string;
  /** The per-identity scope its token names (the laptop's claim: docs/per-identity.md), or undefined. */
  readonly scope: string | undefined;
  readonly kind: ForwardKind;
  readonly candidate: Candidate;
  health: AgentHealth = "unknown";
  reason = "not used yet";
  /** The sshd process of the login that listens on it (undefined: not found in /proc). */
  holder: number | undefined;
  /** The agent sockets the same sshd holds: the login's agent (zombies). */
  loginAgents: readonly string[] = [];
  /** gpg only: whether the laptop forwarded gpg-agent's restricted (extra) socket. */
  restricted: boolean | undefined;
  /** When it was last judged silent (a zombie), to probe it again later. */
  silentAt = 0;

  constructor(name: string, token: string, candidate: Candidate) {
    this.name = name;
    this.token = token;
    this.scope = forwardTokenScope(token);
    this.kind = forwardKind(name);
    this.candidate = candidate;
  }

  get path(): string {
    return this.candidate.path;
  }
}

export interface ForwardBookOptions {
  /** U: the forwards directory (created 0700 when missing). */
  readonly directory: string;
  readonly uid: number;
  readonly log: (message: string) => void;
  /** The names present changed (a stable socket to serve, gpg's redirect to make). */
  readonly onNames: (names: readonly string[]) => void;
  /** The health the agent book knows of an agent socket (undefined: not known). */
  readonly agentHealth?: (agentPath: string) => AgentHealth | undefined;
}

/** The sweep waits at least this many times as long as its last listing of the system's sockets
 * took: every user's sockets are in that listing, so another user decides what it costs (20,000
 * sockets with long names: hundreds of ms); the daemon then spends at most a twentieth of its
 * time on it, and a dead forward is still found within a few seconds. */
const SWEEP_LISTING_SHARE = 20;

/**
 * The forwarded sockets of the user's logins in the forwards directory, which is the user's
 * own and private: it is watched (cheap and safe, unlike /tmp), so a new login's forward is
 * known within milliseconds. A forward whose login ended refuses connections (sshd does not
 * remove it: that is StreamLocalBindUnlink's job, which needs root): its login's sshd is
 * watched, and the socket is removed within TIMING.forwardSweepMs of the login ending.
 */
export class ForwardBook {
  readonly #options: ForwardBookOptions;
  readonly #forwards = new Map<string, Forward>();
  readonly #ignored = new Map<string, string>();
  #watcher: FSWatcher | undefined;
  /** The directory watched (undefined: not yet; null: it could not be made or trusted). */
  #watched: { readonly dev: number; readonly ino: number } | null | undefined;
  #sweep: NodeJS.Timeout | undefined;
  #scan: Promise<void> | undefined;
  #scanAgain = false;
  #trusted = false;
  #stopped = false;
  #names = "";

  constructor(options: ForwardBookOptions) {
    this.#options = options;
  }

  get directory(): string {
    return this.#options.directory;
  }

  /** Makes the directory (0700), reads it and watches it; the sweep runs while it holds forwards. */
  async start(): Promise<void> {
    await this.#watchDirectory();
  }

  /**
   * Sweeps after `delayMs` while there are forwards to sweep: a daemon without any never wakes
   * for it (it was four times a second, a third of the idle daemon's garbage). One sweep at a
   * time (a slow one is never overlapped by the next), and never more often than its listing of
   * the system's sockets allows (see SWEEP_LISTING_SHARE). Started again by the read that finds
   * a forward.
   */
  #sweepWhileAny(delayMs: number = TIMING.forwardSweepMs): void {
    if (this.#stopped || this.#sweep !== undefined || this.#forwards.size === 0) return;
    this.#sweep = setTimeout(() => {
      const started = monotonicMs();
      void this.#sweepOnce()
        .catch(() => 0)
        .then((listingMs) => {
          this.#sweep = undefined;
          this.#sweepWhileAny(Math.max(TIMING.forwardSweepMs, listingMs * SWEEP_LISTING_SHARE, monotonicMs() - started));
        });
    }, delayMs);
    this.#sweep.unref();
  }

  /**
   * The directory removed or replaced since it was watched (`rm -rf ~/.ssh/anchor-forwards`; a
   * login's first-contact probe makes it again): made again if missing, watched again, read
   * again. Called with the daemon's socket checks.
   */
  async check(): Promise<void> {
    if (this.#stopped) return;
    const stats = await lstatOrUndefined(this.#options.directory);
    if (stats && this.#watched && stats.dev === this.#watched.dev && stats.ino === this.#watched.ino) {
      // Not watched (out of inotify watches): read at each check instead.
      if (this.#watcher === undefined) await this.rescan();
      return;
    }
    this.#watcher?.close();
    this.#watcher = undefined;
    await this.#watchDirectory();
  }

  async #watchDirectory(): Promise<void> {
    const { directory, uid } = this.#options;
    try {
      await ensurePrivateDirectory(directory, uid, { createParent: true });
      this.#trusted = true;
    } catch (error) {
      if (this.#watched !== null) this.#options.log(`forwards: ${directory} not used: ${(error as Error).message}`);
      this.#watched = null;
      return;
    }
    const stats = await lstatOrUndefined(directory);
    this.#watched = stats ? { dev: stats.dev, ino: stats.ino } : null;
    try {
      this.#watcher = watch(directory, { persistent: false }, () => void this.rescan());
      this.#watcher.on("error", () => undefined);
    } catch (error) {
      this.#options.log(`forwards: cannot watch ${directory}: ${(error as Error).message}; read every ${TIMING.socketCheckMs / 1000} s instead`);
    }
    await this.rescan();
  }

  stop(): void {
    this.#stopped = true;
    this.#watcher?.close();
    clearTimeout(this.#sweep);
  }

  /** Reads the directory again (coalesced: one read runs, one more follows if asked meanwhile). */
  rescan(): Promise<void> {
    if (this.#scan) {
      this.#scanAgain = true;
      return this.#scan;
    }
    this.#scan = (async () => {
      do {
        this.#scanAgain = false;
        await this.#read();
      } while (this.#scanAgain && !this.#stopped);
    })().finally(() => (this.#scan = undefined));
    return this.#scan;
  }

  all(): Forward[] {
    return [...this.#forwards.values()];
  }

  names(): string[] {
    return [...new Set(this.all().map((forward) => forward.name))].sort();
  }

  ignored(): { path: string; reason: string }[] {
    return [...this.#ignored].map(([path, reason]) => ({ path, reason }));
  }

  /**
   * The forwards of `name` in the order connections try them: live before zombies, newest
   * first (rankAgents, the agents' order). A named forward (no protocol to probe) counts as a
   * zombie when its login's agent or gpg forward is one.
   */
  ranked(name: string, accept?: (forward: Forward) => boolean): Forward[] {
    const mine = this.all().filter((forward) => forward.name === name && (!accept || accept(forward)));
    const seen = mine.map((forward) => ({ candidate: forward.candidate, health: this.#healthOf(forward), forward }));
    return rankAgents(seen).map((entry) => entry.forward);
  }

  next(name: string, tried: ReadonlySet<Forward>, accept?: (forward: Forward) => boolean): Forward | undefined {
    return this.ranked(name, accept).find((forward) => !tried.has(forward));
  }

  markLive(forward: Forward, reason: string): void {
    forward.health = "live";
    forward.reason = reason;
  }

  markZombie(forward: Forward, reason: string): void {
    if (forward.health !== "zombie") this.#options.log(`forward ${forward.path} is silent (${reason}): tried last`);
    forward.health = "zombie";
    forward.reason = reason;
    forward.silentAt = monotonicMs();
  }

  /** Connecting failed with `code`: a socket nobody listens on is removed (its login ended). */
  async refused(forward: Forward, code: string): Promise<void> {
    if (!NOBODY_LISTENS.has(code)) return;
    forward.health = "dead";
    forward.reason = `connect failed: ${code}`;
    await this.#remove(forward);
  }

  /** Probes every forward (status): gpg with its greeting, a named one with a connect. */
  async probeAll(): Promise<void> {
    await Promise.all(this.all().map((forward) => this.#probe(forward)));
  }

  async #probe(forward: Forward): Promise<void> {
    if (forward.kind === "gpg") {
      const probe = await probeGpgAgent(forward.path, TIMING.forwardGreetingMs);
      if (probe.kind === "answered") {
        this.markLive(forward, `greeted in ${probe.millis.toFixed(0)} ms`);
        if (probe.restricted !== undefined) forward.restricted = probe.restricted;
      } else if (probe.kind === "silent") this.markZombie(forward, probe.reason);
      else if (probe.refused) await this.refused(forward, "ECONNREFUSED");
      return;
    }
    const dialed = await dial({ path: forward.path }, TIMING.forwardGreetingMs);
    if (dialed.kind === "connected") dialed.socket.destroy();
    else if (dialed.kind === "failed") await this.refused(forward, dialed.code);
  }

  #healthOf(forward: Forward): AgentHealth {
    if (forward.kind === "gpg" || forward.health === "dead") return forward.health;
    const agent = forward.loginAgents.length > 0 && forward.loginAgents.every((path) => this.#options.agentHealth?.(path) === "zombie") ? "zombie" : undefined;
    // The same login's gpg forward: the same token (one per ssh connection), or the same sshd.
    const sameLogin = (other: Forward) => other.token === forward.token || (forward.holder !== undefined && other.holder === forward.holder);
    const gpgSilent = this.all().some((other) => sameLogin(other) && other.kind === "gpg" && other.health === "zombie");
    return agent === "zombie" || gpgSilent ? "zombie" : forward.health;
  }

  async #read(): Promise<void> {
    const { directory, uid } = this.#options;
    const refusal = directoryRefusal(await lstatOrUndefined(directory), uid);
    let entries: string[] = [];
    if (refusal) {
      if (this.#trusted) this.#options.log(`forwards: ${directory} ${refusal}: its forwards are not used`);
      this.#trusted = false;
    } else {
      this.#trusted = true;
      entries = await readdir(directory).catch(() => []);
    }
    const present = new Set<string>();
    const fresh: Forward[] = [];
    for (const entry of entries) {
      const parsed = parseForwardFile(entry);
      if (!parsed) continue;
      const path = join(directory, entry);
      const stats = await lstatOrUndefined(path);
      const bad = socketRefusal(stats, { uid }, path);
      if (bad || !stats) {
        this.#ignored.set(path, bad ?? "cannot be read");
        continue;
      }
      this.#ignored.delete(path);
      present.add(path);
      const known = this.#forwards.get(path);
      if (known && known.candidate.dev === stats.dev && known.candidate.ino === stats.ino) continue;
      const forward = new Forward(parsed.name, parsed.token, { path, kind: "forwarded", createdMs: createdMsOf(stats), dev: stats.dev, ino: stats.ino });
      this.#forwards.set(path, forward);
      fresh.push(forward);
    }
    for (const path of [...this.#forwards.keys()]) if (!present.has(path)) this.#forwards.delete(path);
    for (const path of [...this.#ignored.keys()]) if (!entries.includes(path.slice(directory.length + 1))) this.#ignored.delete(path);
    this.#sweepWhileAny();
    if (fresh.length > 0) await this.#learnHolders();
    const names = this.names().join(" ");
    if (names !== this.#names) {
      this.#names = names;
      this.#options.onNames(this.names());
    }
  }

  /** Which login (sshd process) listens on each forward whose login is not known yet. */
  async #learnHolders(): Promise<void> {
    const held = await loginSockets(this.#options.uid);
    const prefix = `${this.#options.directory}/`;
    for (const forward of this.all()) {
      if (forward.holder !== undefined) continue;
      forward.holder = held.get(forward.path);
      if (forward.holder === undefined) continue;
      forward.loginAgents = [...held].filter(([path, pid]) => pid === forward.holder && !path.startsWith(prefix)).map(([path]) => path);
    }
  }

  /**
   * Every TIMING.forwardSweepMs: a forward whose login's sshd is gone (or, when that process is
   * not known, that no longer listens) is confirmed with a connect and removed; zombies are
   * probed again now and then (a laptop that wakes is used again).
   */
  async #sweepOnce(): Promise<number> {
    if (this.#stopped || this.#forwards.size === 0) return 0;
    let listening: Set<string> | null | undefined;
    let listingMs = 0;
    for (const forward of this.all()) {
      let gone: boolean;
      if (forward.holder !== undefined) gone = processPresence(forward.holder) === undefined;
      else {
        if (listening === undefined) {
          const started = monotonicMs();
          const listeners = await readListeners();
          listingMs = monotonicMs() - started;
          listening = listeners ? new Set(listeners.values()) : null;
        }
        // No listing (past its bound: another user's thousands of sockets): such a forward is
        // found dead when a connection to it is refused, as without the sweep.
        gone = listening !== null && !listening.has(forward.path);
      }
      if (gone) {
        const dialed = await dial({ path: forward.path }, TIMING.forwardGreetingMs);
        if (dialed.kind === "connected") dialed.socket.destroy();
        else if (dialed.kind === "failed") await this.refused(forward, dialed.code);
      } else if (forward.health === "zombie" && monotonicMs() - forward.silentAt > TIMING.forwardRecheckMs) {
        forward.silentAt = monotonicMs();
        void this.#probe(forward);
      }
    }
    return listingMs;
  }

  /** Removes a dead forward's socket file, if it is still that very socket of the user's. */
  async #remove(forward: Forward): Promise<void> {
    if (this.#forwards.get(forward.path) !== forward) return;
    this.#forwards.delete(forward.path);
    if (await stillTheSocket(forward.path, forward.candidate, this.#options.uid)) {
      await unlink(forward.path).catch(() => undefined);
      this.#options.log(`forwards: removed ${forward.path} (its login ended: nobody listens on it)`);
    }
    const names = this.names().join(" ");
    if (names !== this.#names) {
      this.#names = names;
      this.#options.onNames(this.names());
    }
  }
}
