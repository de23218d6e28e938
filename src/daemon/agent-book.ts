import type { Candidate } from "../discovery/candidate.js";
import { listIdentities, type AgentAnswer } from "../protocol/agent-client.js";
import { anchorOf } from "../scope/rule.js";
import { describeAnswer, healthOf, rankAgents, type AgentHealth } from "./policy.js";

/** Everything known about one candidate agent. */
export class Agent {
  health: AgentHealth = "unknown";
  /** Why it has its health, in words for `status` and the log. */
  reason = "not used yet";
  /** Keys it offered at its last probe. */
  keys: number | undefined;
  /** Fingerprints of the plain keys (not certificates) it offered at its last answered probe,
   * sorted: what per-identity scopes are decided by (src/scope/rule.ts). */
  fingerprints: readonly string[] | undefined;
  /** When a zombie is next probed, and the pause after that one. */
  nextProbeAt = 0;
  probeBackoffMs = 0;
  #probe: Promise<AgentHealth> | undefined;
  #probeStartedAt = -Infinity;

  constructor(readonly candidate: Candidate) {}

  get path(): string {
    return this.candidate.path;
  }

  /**
   * One probe at a time per agent: callers share the probe under way, and a verdict from a
   * probe started at or after `notBefore` is reused instead of probing again.
   */
  probe(timeoutMs: number, notBefore: number, onVerdict: (answer: AgentAnswer) => void): Promise<AgentHealth> {
    if (this.#probe) return this.#probe;
    if (this.#probeStartedAt >= notBefore) return Promise.resolve(this.health);
    this.#probeStartedAt = performance.now();
    this.#probe = listIdentities(this.path, timeoutMs).then((answer) => {
      this.#probe = undefined;
      onVerdict(answer);
      return this.health;
    });
    return this.#probe;
  }
}

export interface AgentBookOptions {
  /** How long a probe may take before the agent counts as a zombie. */
  readonly probeTimeoutMs: number;
  readonly log: (message: string) => void;
  /** Called when an agent is found dead, so that its directory is read again. */
  readonly onDead?: (agent: Agent) => void;
}

/** First re-probe of a zombie after this long, doubling up to the cap. */
const ZOMBIE_RETRY_FIRST_MS = 5_000;
const ZOMBIE_RETRY_MAX_MS = 60_000;

/**
 * The candidates with what the daemon has learnt about each, and the order in which new
 * connections try them. The order is recomputed when something changes, never per connection.
 */
export class AgentBook {
  readonly #options: AgentBookOptions;
  #agents = new Map<string, Agent>();
  #ranked: Agent[] = [];
  #zombieTimer: NodeJS.Timeout | undefined;
  #onRouteChange: ((route: Agent | undefined) => void) | undefined;

  constructor(options: AgentBookOptions) {
    this.#options = options;
  }

  /** Called whenever the agent new connections go to changes. */
  onRouteChange(listener: (route: Agent | undefined) => void): void {
    this.#onRouteChange = listener;
  }

  /** Replaces the candidate set, keeping what is known about sockets seen before. */
  sync(candidates: readonly Candidate[]): void {
    const next = new Map<string, Agent>();
    for (const candidate of candidates) {
      const known = this.#agents.get(candidate.path);
      const same = known && known.candidate.ino === candidate.ino && known.candidate.dev === candidate.dev;
      next.set(candidate.path, same ? known : new Agent(candidate));
    }
    this.#agents = next;
    this.#rerank();
  }

  all(): Agent[] {
    return [...this.#agents.values()];
  }

  /** Agents in the order new connections try them (dead ones left out). */
  ranked(): readonly Agent[] {
    return this.#ranked;
  }

  /** The first ranked agent not in `tried` (and, for a scoped socket, that `accept` admits). */
  next(tried: ReadonlySet<Agent>, accept?: (agent: Agent) => boolean): Agent | undefined {
    for (const agent of this.#ranked) if (!tried.has(agent) && (!accept || accept(agent))) return agent;
    return undefined;
  }

  markLive(agent: Agent, reason: string): void {
    if (agent.health === "live") return;
    this.#setHealth(agent, "live", reason);
  }

  markDead(agent: Agent, reason: string): void {
    if (agent.health === "dead") return;
    this.#setHealth(agent, "dead", reason);
  }

  /**
   * Probes `agent` on a separate connection and records the verdict. A verdict from a probe
   * that started at or after `notBefore` (a performance.now() time) is reused.
   */
  probe(agent: Agent, notBefore: number = performance.now()): Promise<AgentHealth> {
    return agent.probe(this.#options.probeTimeoutMs, notBefore, (answer) => this.#record(agent, answer));
  }

  /** Probes every agent that is not known dead (for `status`). */
  async probeAll(): Promise<void> {
    const now = performance.now();
    await Promise.all(this.all().filter((agent) => agent.health !== "dead").map((agent) => this.probe(agent, now)));
  }

  stop(): void {
    clearInterval(this.#zombieTimer);
    this.#zombieTimer = undefined;
  }

  #record(agent: Agent, answer: AgentAnswer): void {
    if (answer.kind === "answered") {
      agent.keys = answer.identities.length;
      agent.fingerprints = anchorOf(answer.identities).keys;
    }
    this.#setHealth(agent, healthOf(answer), describeAnswer(answer));
  }

  #setHealth(agent: Agent, health: AgentHealth, reason: string): void {
    const changed = agent.health !== health;
    agent.reason = reason;
    if (!changed) return;
    agent.health = health;
    if (health === "zombie") {
      agent.probeBackoffMs = ZOMBIE_RETRY_FIRST_MS;
      agent.nextProbeAt = performance.now() + agent.probeBackoffMs;
    }
    if (health !== "unknown") this.#options.log(`${agent.path}: ${health} (${reason})`);
    this.#rerank();
    if (health === "dead") this.#options.onDead?.(agent);
  }

  #rerank(): void {
    const previous = this.#ranked[0];
    this.#ranked = rankAgents(this.all());
    this.#scheduleZombieProbes();
    if (this.#ranked[0] !== previous) this.#onRouteChange?.(this.#ranked[0]);
  }

  /** Zombies are re-probed with growing pauses, so one that wakes up is used again. */
  #scheduleZombieProbes(): void {
    const hasZombies = this.#ranked.some((agent) => agent.health === "zombie");
    if (hasZombies && !this.#zombieTimer) {
      this.#zombieTimer = setInterval(() => this.#probeDueZombies(), 1000);
      this.#zombieTimer.unref();
    } else if (!hasZombies && this.#zombieTimer) {
      clearInterval(this.#zombieTimer);
      this.#zombieTimer = undefined;
    }
  }

  #probeDueZombies(): void {
    const now = performance.now();
    for (const agent of this.#ranked) {
      if (agent.health !== "zombie" || agent.nextProbeAt > now) continue;
      agent.probeBackoffMs = Math.min(agent.probeBackoffMs * 2, ZOMBIE_RETRY_MAX_MS);
      agent.nextProbeAt = now + agent.probeBackoffMs;
      void this.probe(agent);
    }
  }
}
