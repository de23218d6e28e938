import type { Candidate } from "../../shared/discovery/candidate.js";
import { listIdentities, type AgentAnswer } from "../../shared/protocol/agent-client.js";
import { fingerprintsOf, plainKeyBlobs } from "../../shared/scope/rule.js";
import type { Identity } from "../../shared/protocol/identities.js";
import { TIMING } from "../../shared/core/timing.js";
import { describeAnswer, healthOf, rankAgents, routeReason, type AgentHealth } from "../../shared/discovery/health.js";
import { lastInputNow, loginTerminals, terminalsOf } from "../../shared/discovery/presence.js";
import { LIMITS, probeVerdictDeadline, replyDeadline } from "./policy.js";
import { StaleTriage } from "./stale-triage.js";
import { mapBounded, withinMs } from "../../shared/core/bounded.js";
import { monotonicMs } from "../../shared/core/clock.js";

/** Everything known about one candidate agent. */
export class Agent {
  health: AgentHealth = "unknown";
  /** Why it has its health, in words for `status` and the log. */
  reason = "not used yet";
  /** Keys it offered at its last probe. */
  keys: number | undefined;
  /** When a zombie is next probed, and the pause after that one. */
  nextProbeAt = 0;
  probeBackoffMs = 0;
  /** Whether it ever answered a probe (a socket that never did may just not listen yet). */
  answered = false;
  /** The pause before the next look at a new socket that refused (0: none planned). */
  refusedRecheckMs = 0;
  /** Round trips of its latest successful probes (ms), newest last: what "overdue" means for
   * this agent. */
  readonly rtts: number[] = [];
  /** Its login: the user's own sshd process that made it (discovery/presence.ts), undefined
   * when not found (not looked for yet, a local agent, a stale socket). */
  login: number | undefined;
  /** The terminals that login holds, each with its change time when found (a pty number given
   * to another login later has another); possibly none. */
  terminals: readonly { readonly path: string; readonly ctimeMs: number }[] = [];
  /** When its login's terminal last had keyboard input (ms since the epoch): what it is ranked
   * by when later than its start. Undefined: no terminal known. */
  lastInputMs: number | undefined;
  /** Whether its login was looked for (first when it first answered). */
  loginLooked = false;
  /** The pause before its login or terminal is looked for again (0: none planned): a login's
   * shell (and pty) come a moment after its agent socket. */
  lookPauseMs = 0;
  terminalReading = false;
  /** Likely a dead login's socket (stale-triage.ts): tried after every other candidate. */
  suspect = false;
  /** A check found it not refusing connections (stale-triage.ts). */
  acceptedCheck = false;
  /** The plain keys (not certificates) it offered at its last answered probe, copied out of the
   * answer. Kept as blobs and hashed only when asked for: hashing loads node:crypto, 0.4 MiB of
   * idle memory that a daemon without scopes needs for `status` alone. */
  #plainKeys: readonly Uint8Array[] | undefined;
  #fingerprints: readonly string[] | undefined;
  #probe: Promise<AgentHealth> | undefined;
  #probeStartedAt = -Infinity;
  /** A probe judged silent still listening for a late answer. */
  #lingering = false;

  constructor(readonly candidate: Candidate) {}

  get path(): string {
    return this.candidate.path;
  }

  /** Fingerprints of the plain keys it offered at its last answered probe, sorted (undefined
   * before one): what per-identity scopes are decided by (src/shared/scope/rule.ts). */
  get fingerprints(): readonly string[] | undefined {
    if (this.#plainKeys === undefined) return undefined;
    this.#fingerprints ??= fingerprintsOf(this.#plainKeys);
    return this.#fingerprints;
  }

  /** Records the keys of an answered probe. */
  learnKeys(identities: readonly Identity[]): void {
    this.keys = identities.length;
    this.#plainKeys = plainKeyBlobs(identities).map((blob) => new Uint8Array(blob));
    this.#fingerprints = undefined;
  }

  /**
   * One probe at a time per agent: callers share the probe under way, and a verdict from a
   * probe started at or after `notBefore` is reused instead of probing again.
   *
   * The verdict "silent" comes after `verdictMs` (from this agent's own round-trip history),
   * but the probe's connection stays open until `lingerMs`: an answer arriving late is still
   * reported (`onVerdict` again), so a slow agent is judged live again at once.
   */
  probe(verdictMs: number, lingerMs: number, notBefore: number, onVerdict: (answer: AgentAnswer) => void): Promise<AgentHealth> {
    if (this.#probe) return this.#probe;
    if (this.#probeStartedAt >= notBefore || this.#lingering) return Promise.resolve(this.health);
    this.#probeStartedAt = monotonicMs();
    this.#lingering = true;
    const answer = listIdentities(this.path, Math.max(verdictMs, lingerMs));
    this.#probe = new Promise<AgentHealth>((resolve) => {
      let decided = false;
      const decide = (verdict: AgentAnswer): void => {
        decided = true;
        this.#probe = undefined;
        onVerdict(verdict);
        resolve(this.health);
      };
      const timer =
        verdictMs < lingerMs
          ? setTimeout(() => decide({ kind: "silent", reason: `did not answer a probe within ${verdictMs} ms (its recent probes took at most ${Math.round(Math.max(0, ...this.rtts))} ms)` }), verdictMs)
          : undefined;
      void answer.then((result) => {
        this.#lingering = false;
        clearTimeout(timer);
        if (result.kind === "answered") {
          this.rtts.push(result.millis);
          if (this.rtts.length > TIMING.rttHistory) this.rtts.shift();
        }
        if (!decided) decide(result);
        // Judged silent too early: it is slow, not asleep.
        else if (result.kind === "answered") onVerdict(result);
      });
    });
    return this.#probe;
  }
}

export interface AgentBookOptions {
  /** How long a probe may take before the agent counts as a zombie (at most: agents with a
   * history of fast probes are judged sooner, see probeVerdictDeadline). */
  readonly probeTimeoutMs: number;
  /** A request unanswered this long gets its agent probed (at most: see replyDeadline). */
  readonly replyTimeoutMs: number;
  readonly log: (message: string) => void;
  /** Called when an agent is found dead, so that its directory is read again. */
  readonly onDead?: (agent: Agent) => void;
  /** Probe every newly found agent at once (default true). */
  readonly probeNewAgents?: boolean;
  /** The user's uid: each live agent's login and terminal are looked for (discovery/presence.ts)
   * and it is ranked by its terminal's last input; absent: by its start only. */
  readonly uid?: number;
}

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
  readonly #triage = new StaleTriage({ rerank: () => this.#rerank(), refused: (agents, reason) => this.#refused(agents, reason) });

  constructor(options: AgentBookOptions) {
    this.#options = options;
  }

  /** Sockets found refusing connections by the stale triage since the start. */
  get staleRefused(): number {
    return this.#triage.refusedCount;
  }

  /**
   * Before a request is routed: the listening sockets new candidates are being flagged by, while
   * they are read (off the event loop: another user can make that read slow), waited for at most
   * TIMING.triageWaitMs; undefined when nothing is being read (every request but those right
   * after new candidates appeared).
   */
  triaged(): Promise<boolean> | undefined {
    const reading = this.#triage.reading;
    return reading && withinMs(reading, TIMING.triageWaitMs);
  }

  /**
   * A request met LIMITS.deadTriedPerRequest dead candidates in turn: the candidates it would try
   * next (not in `tried`, admitted by `accept`, never answered) are checked a batch at a time
   * until one accepts connections (stale-triage.ts).
   */
  checkAhead(tried: ReadonlySet<Agent>, accept?: (agent: Agent) => boolean): Promise<void> {
    return this.#triage.ahead(() => {
      const ahead = this.#ranked.filter((agent) => !tried.has(agent) && agent.health !== "dead" && (!accept || accept(agent)));
      // Up to the first one known to accept connections (a zombie does too): the request goes
      // there anyway.
      const known = ahead.findIndex((agent) => agent.answered || agent.acceptedCheck || agent.health === "zombie");
      return known === -1 ? ahead : ahead.slice(0, known);
    });
  }

  /** Called whenever the agent new connections go to changes. */
  onRouteChange(listener: (route: Agent | undefined) => void): void {
    this.#onRouteChange = listener;
  }

  /** Replaces the candidate set, keeping what is known about sockets seen before. */
  sync(candidates: readonly Candidate[]): void {
    const next = new Map<string, Agent>();
    const fresh: Agent[] = [];
    for (const candidate of candidates) {
      const known = this.#agents.get(candidate.path);
      const same = known && known.candidate.ino === candidate.ino && known.candidate.dev === candidate.dev;
      if (same) {
        next.set(candidate.path, known);
        continue;
      }
      const agent = new Agent(candidate);
      next.set(candidate.path, agent);
      fresh.push(agent);
    }
    this.#agents = next;
    // Likely dead logins' sockets among the new ones are flagged before the ranking.
    if (fresh.length > 0) this.#triage.triage(rankAgents(fresh));
    this.#rerank();
    // A login that appears is probed once at once: the probe gives its round-trip history
    // (what "overdue" means for it) before the first client needs it. One forwarded channel
    // and one identities answer per login.
    // At most a few at once, newest first (a start among thousands of stale sockets must not
    // open thousands of connections).
    if (this.#options.probeNewAgents === false || fresh.length === 0) return;
    const isFresh = new Set(fresh);
    let probes = 0;
    for (const agent of this.#ranked) {
      if (probes >= LIMITS.probesOnAppearance) break;
      if (!isFresh.has(agent)) continue;
      probes += 1;
      void this.probe(agent);
    }
  }

  /** How long a request to `agent` may go unanswered before the agent is probed. */
  replyDeadline(agent: Agent): number {
    return replyDeadline(agent.rtts, this.#options.replyTimeoutMs);
  }

  all(): Agent[] {
    return [...this.#agents.values()];
  }

  /** Agents in the order new connections try them (dead ones left out). */
  ranked(): readonly Agent[] {
    return this.#ranked;
  }

  /** The first ranked agent not in `tried` (and, for a scoped socket, that `accept` admits).
   * A connection's first pick reads the logins' terminals first (refreshPresence). */
  next(tried: ReadonlySet<Agent>, accept?: (agent: Agent) => boolean): Agent | undefined {
    if (tried.size === 0) this.refreshPresence();
    for (const agent of this.#ranked) if (!tried.has(agent) && (!accept || accept(agent))) return agent;
    return undefined;
  }

  /**
   * Reads the last keyboard input of every routable login's terminal (one stat of a /dev/pts
   * entry each, synchronous: kernel memory) and re-ranks when it moved: what makes a request
   * reach the device the person is typing at. At most once per TIMING.presenceFreshMs unless
   * `force`d, and only when there are two agents to choose between. No /proc read here: a login
   * and its terminal are looked for when its agent first answers (and again, on a timer with
   * growing pauses, while not found); a terminal that changed is read again.
   */
  refreshPresence(force = false): void {
    if (this.#options.uid === undefined) return;
    const now = monotonicMs();
    if (!force && (this.#ranked.length < 2 || now - this.#presenceReadAt < TIMING.presenceFreshMs)) return;
    this.#presenceReadAt = now;
    let moved = false;
    for (const agent of this.#ranked) {
      if (agent.login === undefined) continue;
      let latest: number | undefined;
      let changed = false;
      for (const terminal of agent.terminals) {
        const stats = lastInputNow(terminal.path, this.#options.uid);
        if (!stats || stats.ctimeMs !== terminal.ctimeMs) changed = true;
        else latest = Math.max(latest ?? -Infinity, stats.atimeMs);
      }
      if (changed && !agent.terminalReading) void this.#readTerminals(agent);
      if (latest !== agent.lastInputMs) {
        agent.lastInputMs = latest;
        moved = true;
      }
    }
    if (moved) this.#rerank();
  }

  /** Why the first ranked agent is where a request goes now (one line, for status and doctor). */
  routeReason(): string {
    return routeReason(this.#ranked, (agent) => agent.terminals[0]?.path, Date.now());
  }

  markLive(agent: Agent, reason: string): void {
    this.#learnLogin(agent);
    if (agent.health === "live") return;
    this.#setHealth(agent, "live", reason);
  }

  markDead(agent: Agent, reason: string): void {
    if (agent.health === "dead") return;
    this.#setHealth(agent, "dead", reason);
  }

  /**
   * Probes `agent` on a separate connection and records the verdict. A verdict from a probe
   * that started at or after `notBefore` (a monotonicMs() time) is reused.
   */
  probe(agent: Agent, notBefore: number = monotonicMs()): Promise<AgentHealth> {
    const verdictMs = probeVerdictDeadline(agent.rtts, this.#options.probeTimeoutMs);
    return agent.probe(verdictMs, this.#options.probeTimeoutMs, notBefore, (answer) => this.#record(agent, answer));
  }

  /**
   * Probes again, at once, the new sockets that refused and never answered (a login caught
   * between its bind and its listen; #recheckRefused looks again on a timer). Asked by a
   * connection that found no agent before it answers empty: a new login's own first command
   * can come before the timed look (a loaded CI run: a probe at the login's start marked its
   * socket dead, and the login's own `ssh-add -l` got no keys).
   */
  async recheckRefusedNow(): Promise<void> {
    const young = this.all().filter((agent) => agent.health === "dead" && !agent.answered && Date.now() - agent.candidate.createdMs <= TIMING.staleSocketAgeMs);
    await mapBounded(young, LIMITS.probesInFlight, (agent) => this.probe(agent));
  }

  /** Probes every agent that is not known dead (for `status`). */
  async probeAll(): Promise<void> {
    const now = monotonicMs();
    await mapBounded(
      this.all().filter((agent) => agent.health !== "dead"),
      LIMITS.probesInFlight,
      (agent) => this.probe(agent, now),
    );
  }

  stop(): void {
    clearInterval(this.#zombieTimer);
    this.#zombieTimer = undefined;
    for (const timer of this.#recheckTimers) clearTimeout(timer);
    this.#recheckTimers.clear();
  }

  readonly #recheckTimers = new Set<NodeJS.Timeout>();
  #presenceReadAt = -Infinity;
  readonly #loginsToLearn = new Set<Agent>();
  #learningLogins: Promise<void> | undefined;

  /** A forwarded agent answered for the first time: its login and terminals are looked for
   * (batched: one look at /proc for every agent that answered meanwhile). */
  #learnLogin(agent: Agent): void {
    if (this.#options.uid === undefined || agent.loginLooked || agent.candidate.kind === "local") return;
    agent.loginLooked = true;
    this.#loginsToLearn.add(agent);
    this.#learningLogins ??= this.#learnLogins(this.#options.uid).finally(() => (this.#learningLogins = undefined));
  }

  async #learnLogins(uid: number): Promise<void> {
    while (this.#loginsToLearn.size > 0) {
      const batch = [...this.#loginsToLearn];
      this.#loginsToLearn.clear();
      const found = await loginTerminals(
        batch.map((agent) => agent.path),
        uid,
      ).catch(() => new Map<string, { pid: number; terminals: readonly string[] }>());
      for (const agent of batch) {
        if (this.#agents.get(agent.path) !== agent) continue;
        const login = found.get(agent.path);
        if (!login) {
          this.#lookAgainLater(agent, () => {
            this.#loginsToLearn.add(agent);
            this.#learningLogins ??= this.#learnLogins(uid).finally(() => (this.#learningLogins = undefined));
          });
          continue;
        }
        agent.login = login.pid;
        this.#setTerminals(agent, login.terminals);
      }
      this.refreshPresence(true);
    }
  }

  /** Reads the login's terminals again (its pty came after its agent socket, or changed). */
  async #readTerminals(agent: Agent): Promise<void> {
    const uid = this.#options.uid;
    if (uid === undefined || agent.login === undefined) return;
    agent.terminalReading = true;
    try {
      this.#setTerminals(agent, await terminalsOf(agent.login, uid).catch(() => []));
    } finally {
      agent.terminalReading = false;
    }
    this.refreshPresence(true);
  }

  #setTerminals(agent: Agent, paths: readonly string[]): void {
    const terminals: { path: string; ctimeMs: number }[] = [];
    for (const path of paths) {
      const stats = lastInputNow(path, this.#options.uid);
      if (stats) terminals.push({ path, ctimeMs: stats.ctimeMs });
    }
    agent.terminals = terminals;
    if (terminals.length > 0) agent.lookPauseMs = 0;
    else this.#lookAgainLater(agent, () => void this.#readTerminals(agent));
  }

  /**
   * A live agent's login or terminal was not found (yet): looked for again after
   * TIMING.terminalRetryFirstMs, the pause doubling; given up once it passes terminalRetryMaxMs
   * (a login without a pty, an agent no sshd made: it ranks by its start).
   */
  #lookAgainLater(agent: Agent, look: () => void): void {
    agent.lookPauseMs = agent.lookPauseMs === 0 ? TIMING.terminalRetryFirstMs : agent.lookPauseMs * 2;
    if (agent.lookPauseMs > TIMING.terminalRetryMaxMs) return;
    const timer = setTimeout(() => {
      this.#recheckTimers.delete(timer);
      if (this.#agents.get(agent.path) === agent && agent.health !== "dead") look();
    }, agent.lookPauseMs);
    timer.unref();
    this.#recheckTimers.add(timer);
  }

  /**
   * A socket that never answered and was found dead may be one bound but not yet listening
   * (a login being made): it is probed again a few times, with growing pauses, while it is
   * still the same socket in the book.
   */
  #recheckRefused(agent: Agent): void {
    if (agent.answered) return;
    agent.refusedRecheckMs = agent.refusedRecheckMs === 0 ? TIMING.refusedNewSocketFirstMs : agent.refusedRecheckMs * 2;
    if (agent.refusedRecheckMs > TIMING.refusedNewSocketMaxMs) return;
    const timer = setTimeout(() => {
      this.#recheckTimers.delete(timer);
      if (this.#agents.get(agent.path) !== agent || agent.health !== "dead") return;
      void this.probe(agent).then((health) => {
        if (health === "dead") this.#recheckRefused(agent);
      });
    }, agent.refusedRecheckMs);
    timer.unref();
    this.#recheckTimers.add(timer);
  }

  #record(agent: Agent, answer: AgentAnswer): void {
    // Out of descriptors here says nothing about the agent.
    if (answer.kind === "unreachable" && answer.local) return;
    if (answer.kind === "answered") {
      agent.answered = true;
      this.#learnLogin(agent);
      agent.learnKeys(answer.identities);
    }
    this.#setHealth(agent, healthOf(answer), describeAnswer(answer));
  }

  #setHealth(agent: Agent, health: AgentHealth, reason: string): void {
    const changed = agent.health !== health;
    agent.reason = reason;
    if (!changed) return;
    // It answered: whatever made it look stale (a login caught between bind and listen) is past.
    if (health === "live") agent.suspect = false;
    agent.health = health;
    if (health === "zombie") {
      agent.probeBackoffMs = TIMING.zombieReprobeFirstMs;
      agent.nextProbeAt = monotonicMs() + agent.probeBackoffMs;
    }
    if (health !== "unknown") this.#options.log(`${agent.path}: ${health} (${reason})`);
    this.#rerank();
    if (health === "dead") this.#afterDeath(agent);
  }

  /** A dead agent's directory is read again, and a new socket that refused is looked at again;
   * not a socket that never answered and is old: a dead login's, nothing will change there. */
  #afterDeath(agent: Agent): void {
    if (!agent.answered && Date.now() - agent.candidate.createdMs > TIMING.staleSocketAgeMs) return;
    this.#options.onDead?.(agent);
    if (agent.refusedRecheckMs === 0) this.#recheckRefused(agent);
  }

  /** Many agents refused at once (the stale triage): one re-ranking, one log line. */
  #refused(agents: readonly Agent[], reason: string): void {
    const dead = agents.filter((agent) => agent.health !== "dead" && this.#agents.get(agent.path) === agent);
    if (dead.length === 0) return;
    for (const agent of dead) {
      agent.health = "dead";
      agent.reason = reason;
    }
    this.#options.log(`${dead.length} socket${dead.length === 1 ? "" : "s"} ${reason} (${dead[0]?.path}${dead.length > 1 ? ", ..." : ""})`);
    // Taking some out leaves the rest in order: no sort (thousands go a batch at a time).
    const previous = this.#ranked[0];
    this.#ranked = this.#ranked.filter((agent) => agent.health !== "dead");
    if (this.#ranked[0] !== previous) this.#onRouteChange?.(this.#ranked[0]);
    // Nothing to read again for them; young ones (a login caught between bind and listen) are
    // looked at again as #recheckRefused does, but with a connect each, a batch at a time.
    this.#recheckYoung(
      dead.filter((agent) => Date.now() - agent.candidate.createdMs <= TIMING.staleSocketAgeMs),
      TIMING.refusedNewSocketFirstMs,
    );
  }

  #recheckYoung(agents: readonly Agent[], pauseMs: number): void {
    if (agents.length === 0 || pauseMs > TIMING.refusedNewSocketMaxMs) return;
    void this.#triage.again(agents, pauseMs).then((accepting) => {
      const current = (agent: Agent): boolean => this.#agents.get(agent.path) === agent && agent.health === "dead";
      const accepted = new Set(accepting);
      for (const agent of accepting) if (current(agent)) void this.probe(agent);
      this.#recheckYoung(agents.filter((agent) => !accepted.has(agent) && current(agent)), pauseMs * 2);
    });
  }

  #rerank(): void {
    const previous = this.#ranked[0];
    this.#ranked = suspectsBeforeZombies(rankAgents(this.all()));
    this.#scheduleZombieProbes();
    if (this.#ranked[0] !== previous) this.#onRouteChange?.(this.#ranked[0]);
  }

  /** Zombies are re-probed with growing pauses, so one that wakes up is used again. */
  #scheduleZombieProbes(): void {
    const hasZombies = this.#ranked.some((agent) => agent.health === "zombie");
    if (hasZombies && !this.#zombieTimer) {
      this.#zombieTimer = setInterval(() => this.#probeDueZombies(), TIMING.zombieReprobeTickMs);
      this.#zombieTimer.unref();
    } else if (!hasZombies && this.#zombieTimer) {
      clearInterval(this.#zombieTimer);
      this.#zombieTimer = undefined;
    }
  }

  #probeDueZombies(): void {
    const now = monotonicMs();
    for (const agent of this.#ranked) {
      if (agent.health !== "zombie" || agent.nextProbeAt > now) continue;
      agent.probeBackoffMs = Math.min(agent.probeBackoffMs * 2, TIMING.zombieReprobeMaxMs);
      agent.nextProbeAt = now + agent.probeBackoffMs;
      void this.probe(agent);
    }
  }
}

/** Likely dead logins' sockets (stale-triage.ts) after every other candidate but before zombies
 * (a suspect costs a refused connect at most, a zombie a probe's wait); otherwise the same order. */
function suspectsBeforeZombies(ranked: Agent[]): Agent[] {
  if (!ranked.some((agent) => agent.suspect)) return ranked;
  const group = (agent: Agent): number => (agent.health === "zombie" ? 2 : agent.suspect ? 1 : 0);
  return [0, 1, 2].flatMap((g) => ranked.filter((agent) => group(agent) === g));
}
