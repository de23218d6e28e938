import type { AgentKind, Candidate } from "./candidate.js";
import type { AgentAnswer } from "../protocol/agent-client.js";

/** What the daemon has learnt about a candidate by using or probing it. */
export type AgentHealth =
  /** Not used or probed yet. */
  | "unknown"
  /** Answered recently. */
  | "live"
  /** Accepts connections but does not answer: a login whose laptop went to sleep. */
  | "zombie"
  /** Refuses connections or answers garbage: never used again. */
  | "dead";

/** What a probe's answer says about an agent. */
export function healthOf(answer: AgentAnswer): Exclude<AgentHealth, "unknown"> {
  switch (answer.kind) {
    case "answered":
      return "live";
    case "silent":
      return "zombie";
    case "unreachable":
    case "invalid":
      return "dead";
  }
}

/** The reason to show beside that health. */
export function describeAnswer(answer: AgentAnswer): string {
  return answer.kind === "answered" ? `answered a probe in ${answer.millis.toFixed(0)} ms` : answer.reason;
}

export interface RankedAgent {
  readonly candidate: Candidate;
  readonly health: AgentHealth;
  /** When its login's terminal last had keyboard input (ms since the epoch; discovery/presence.ts),
   * undefined when it has no terminal or none was found. */
  readonly lastInputMs?: number | undefined;
}

/**
 * When the agent's login last showed the person's presence: the later of its start (the socket's
 * creation) and the last keyboard input on its terminal. A fresh login is the most recent by its
 * start; a login typed into after that is more recent still.
 */
export function presenceMs(agent: RankedAgent): number {
  return Math.max(agent.candidate.createdMs, agent.lastInputMs ?? -Infinity);
}

const KIND_ORDER: Record<AgentKind, number> = { forwarded: 0, extra: 0, local: 1 };

/**
 * The order in which new connections try agents: forwarded (and user-named) agents before the
 * user's local ssh-agents, zombies only as a last resort, dead ones never; within a group the
 * login that last showed the person's presence first (presenceMs: typed into most recently, or
 * started most recently), so a request reaches the device the person is at.
 *
 * @example
 * rankAgents([{ candidate: older, health: "live" }, { candidate: newer, health: "unknown" }])
 * // -> [newer, older]
 * rankAgents([{ candidate: older, health: "live", lastInputMs: Date.now() }, { candidate: newer, health: "live" }])
 * // -> [older, newer]: the older login's terminal was typed into after the newer login started
 */
export function rankAgents<T extends RankedAgent>(agents: readonly T[]): T[] {
  return agents
    .filter((agent) => agent.health !== "dead")
    .sort(
      (a, b) =>
        Number(a.health === "zombie") - Number(b.health === "zombie") ||
        KIND_ORDER[a.candidate.kind] - KIND_ORDER[b.candidate.kind] ||
        presenceMs(b) - presenceMs(a) ||
        b.candidate.createdMs - a.candidate.createdMs ||
        (a.candidate.path < b.candidate.path ? -1 : a.candidate.path > b.candidate.path ? 1 : 0),
    );
}

/**
 * Why the first of `ranked` (rankAgents' order) is where a request goes now, in one line.
 * `terminalOf` names an agent's terminal (undefined: none found); `now` in ms since the epoch.
 */
export function routeReason<T extends RankedAgent>(ranked: readonly T[], terminalOf: (agent: T) => string | undefined, now: number): string {
  const first = ranked[0];
  if (!first) return "no usable agent: requests get an empty key list";
  const others = ranked.slice(1);
  const zombies = others.filter((agent) => agent.health === "zombie").length;
  const skipped = zombies > 0 && first.health !== "zombie" ? `; ${zombies} unresponsive login${zombies === 1 ? "" : "s"} (zombie) tried last` : "";
  if (first.health === "zombie") return "every agent is unresponsive (zombie): the one that last showed presence is tried first";
  if (first.candidate.kind === "local") return `no forwarded agent is usable: a local ssh-agent${skipped}`;
  const rivals = others.filter((agent) => agent.health !== "zombie" && agent.candidate.kind !== "local").length;
  const terminal = terminalOf(first);
  const typed = first.lastInputMs !== undefined && first.lastInputMs > first.candidate.createdMs;
  const age = (ms: number) => ago(now - ms);
  const why = typed
    ? `its terminal ${terminal ?? "?"} had keyboard input ${age(first.lastInputMs as number)} ago`
    : `it is the newest login (started ${age(first.candidate.createdMs)} ago${terminal ? `, no input on ${terminal} since` : ", no terminal"})`;
  return rivals === 0 ? `the only live login: ${why}${skipped}` : `${why}, later than any of the other ${rivals} login${rivals === 1 ? "" : "s"} showed presence${skipped}`;
}

/** A duration in words: "3 s", "4 min", "2 h", "5 d". */
export function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172_800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86_400)} d`;
}
