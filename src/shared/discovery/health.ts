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
}

const KIND_ORDER: Record<AgentKind, number> = { forwarded: 0, extra: 0, local: 1 };

/**
 * The order in which new connections try agents: forwarded (and user-named) agents before the
 * user's local ssh-agents, zombies only as a last resort, dead ones never; within a group the
 * newest socket first, because it belongs to the latest login.
 *
 * @example
 * rankAgents([{ candidate: older, health: "live" }, { candidate: newer, health: "unknown" }])
 * // -> [newer, older]
 */
export function rankAgents<T extends RankedAgent>(agents: readonly T[]): T[] {
  return agents
    .filter((agent) => agent.health !== "dead")
    .sort(
      (a, b) =>
        Number(a.health === "zombie") - Number(b.health === "zombie") ||
        KIND_ORDER[a.candidate.kind] - KIND_ORDER[b.candidate.kind] ||
        b.candidate.createdMs - a.candidate.createdMs ||
        (a.candidate.path < b.candidate.path ? -1 : a.candidate.path > b.candidate.path ? 1 : 0),
    );
}
