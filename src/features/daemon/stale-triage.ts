import { dial, NOBODY_LISTENS } from "../../shared/core/dial.js";
import { TIMING } from "../../shared/core/timing.js";
import { likelyStale } from "../../shared/discovery/stale-sockets.js";
import { readListeners } from "../../shared/discovery/unix-listeners.js";
import type { Agent } from "./agent-book.js";
import { LIMITS } from "./policy.js";

/** What the triage needs of the book. */
export interface TriageBook {
  /** The suspects' flags changed: order again. */
  rerank(): void;
  /** These refused a connection: dead, in one step (one re-ranking, one log line). */
  refused(agents: readonly Agent[], reason: string): void;
}

/**
 * Sorts out dead logins' sockets (they refuse connections) without a client request waiting on
 * each one in turn: thousands can pile up in ~/.ssh/agent, and in /tmp after sshd was killed.
 *
 * - New candidates that are likely stale (nobody listens on their path; or, without that
 *   knowledge, their sshd's pid is gone: see stale-sockets.ts) are flagged `suspect` (tried after every other candidate) and
 *   then connected to in the background, LIMITS.staleChecksInFlight at a time: one that refuses
 *   is dead, one that accepts loses its flag (the connection is closed at once, nothing is sent).
 * - A request that has already met LIMITS.deadTriedPerRequest dead candidates in turn asks
 *   `ahead`: the next candidates are checked the same way, a batch at a time, until one
 *   accepts; the request then goes on with that one.
 *
 * A check is made once per socket (a new socket at the path is a new agent), so a refused path
 * is not tried again until it changes; only a young one (a login caught between bind and
 * listen) is checked again a few times (`again`, from the book).
 */
export class StaleTriage {
  readonly #book: TriageBook;
  readonly #checks = new WeakMap<Agent, Promise<boolean>>();
  #inFlight = 0;
  /** Checks waiting for a place, in the order they go (a request's checks move to the front). */
  readonly #waiting: Array<{ readonly agent: Agent; readonly go: () => void }> = [];
  /** Sockets found refusing by a check, since the start. */
  refusedCount = 0;
  #reading: Promise<void> | undefined;

  constructor(book: TriageBook) {
    this.#book = book;
  }

  /**
   * Flags newly found agents that are likely stale and checks them in the background (in the
   * order given: newest first). At once, by what needs no listing (a /tmp socket whose sshd is
   * gone: the caller orders them next, before any request is routed); then by the listening
   * sockets, read off the event loop (another user can make that read slow: unix-listeners.ts).
   * A request routed meanwhile meets at most LIMITS.deadTriedPerRequest unflagged dead ones
   * before the candidates ahead are checked a batch at a time (`ahead`).
   */
  triage(fresh: readonly Agent[]): void {
    const unknown = fresh.filter((agent) => !agent.answered && agent.health === "unknown");
    if (unknown.length === 0) return;
    this.#flag(unknown.filter((agent) => likelyStale(agent.path, undefined)));
    const reading = readListeners()
      .then((listeners) => {
        if (!listeners) return;
        const listening = new Set(listeners.values());
        const suspects = unknown.filter((agent) => !agent.suspect && !agent.answered && agent.health === "unknown" && likelyStale(agent.path, listening));
        this.#flag(suspects);
        if (suspects.length > 0) this.#book.rerank();
      })
      .catch(() => undefined);
    const all = this.#reading ? Promise.all([this.#reading, reading]).then(() => undefined) : reading;
    this.#reading = all;
    void all.finally(() => {
      if (this.#reading === all) this.#reading = undefined;
    });
  }

  /** The listing new candidates are being flagged by, while it is read: a request waits for it
   * (bounded: AgentBook.triaged) rather than meet the dead sockets it would put last. */
  get reading(): Promise<void> | undefined {
    return this.#reading;
  }

  #flag(suspects: readonly Agent[]): void {
    if (suspects.length === 0) return;
    for (const agent of suspects) agent.suspect = true;
    void this.#checkSuspects(suspects);
  }

  async #checkSuspects(suspects: readonly Agent[]): Promise<void> {
    const verdicts = await Promise.all(suspects.map((agent) => this.check(agent)));
    const refused = suspects.filter((agent, i) => !verdicts[i] && agent.health !== "dead");
    // One that accepted: the hint was wrong (a listener the listening set does not show).
    if (suspects.some((agent) => agent.acceptedCheck && agent.suspect)) {
      for (const agent of suspects) if (agent.acceptedCheck) agent.suspect = false;
      this.#book.rerank();
    }
    if (refused.length > 0) this.#book.refused(refused, "refused a connection: nothing listens there any more (a login or an agent that ended)");
  }

  /**
   * Checks the candidates `ahead()` gives (the order of now: suspects flagged meanwhile have
   * moved back) a batch at a time until one accepts a connection; refused ones are marked dead.
   * Resolves when one accepts or none is left unchecked.
   */
  async ahead(ahead: () => readonly Agent[]): Promise<void> {
    for (;;) {
      const batch = ahead().slice(0, LIMITS.staleChecksInFlight);
      if (batch.length === 0) return;
      const verdicts = await Promise.all(batch.map((agent) => this.check(agent, true)));
      const refused = batch.filter((agent, i) => !verdicts[i] && agent.health !== "dead");
      if (refused.length > 0) this.#book.refused(refused, "refused a connection");
      if (verdicts.some(Boolean)) return;
    }
  }

  /** Whether `agent` accepts a connection (true when a connect does not say: a timeout, a
   * shortage of ours). One check per agent, shared; at most LIMITS.staleChecksInFlight at once.
   * A shortage of ours says nothing about the agent: that check is not kept. */
  check(agent: Agent, urgent = false): Promise<boolean> {
    let check = this.#checks.get(agent);
    // A request waits on it: ahead of the background's checks.
    if (check && urgent) this.#promote(agent);
    if (!check) {
      check = this.#connect(agent, urgent).then((verdict) => {
        if (verdict === "short") this.#checks.delete(agent);
        return verdict !== "refused";
      });
      this.#checks.set(agent, check);
    }
    return check;
  }

  /** What one connect to `agent` says. */
  async #connect(agent: Agent, urgent: boolean): Promise<"refused" | "accepts" | "short"> {
    // A slot is handed from a finished check straight to a waiting one; a request's go first.
    if (this.#inFlight >= LIMITS.staleChecksInFlight) {
      await new Promise<void>((go) => (urgent ? this.#waiting.unshift({ agent, go }) : this.#waiting.push({ agent, go })));
    } else this.#inFlight += 1;
    try {
      const dialed = await dial({ path: agent.path }, TIMING.aliveCheckMs);
      if (dialed.kind === "connected") dialed.socket.destroy();
      if (dialed.kind === "failed" && dialed.local) return "short";
      if (dialed.kind === "failed" && NOBODY_LISTENS.has(dialed.code)) {
        this.refusedCount += 1;
        return "refused";
      }
      // Accepted, or the connect did not say (a timeout): a request may try it.
      agent.acceptedCheck = true;
      return "accepts";
    } finally {
      const next = this.#waiting.shift();
      if (next) next.go();
      else this.#inFlight -= 1;
    }
  }

  /**
   * Checks `agents` again after `pauseMs` (found refusing a moment ago, but young: a login may
   * have been caught between bind and listen); resolves with those that accept now.
   */
  async again(agents: readonly Agent[], pauseMs: number): Promise<Agent[]> {
    await new Promise((resolve) => setTimeout(resolve, pauseMs).unref());
    for (const agent of agents) this.#checks.delete(agent);
    const verdicts = await Promise.all(agents.map((agent) => this.check(agent)));
    return agents.filter((agent, i) => verdicts[i] && agent.acceptedCheck);
  }

  /** Moves `agent`'s waiting check to the front. */
  #promote(agent: Agent): void {
    const at = this.#waiting.findIndex((waiter) => waiter.agent === agent);
    if (at > 0) this.#waiting.unshift(...this.#waiting.splice(at, 1));
  }
}
