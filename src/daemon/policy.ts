import type { AgentKind, Candidate } from "../discovery/candidate.js";
import type { AgentAnswer } from "../protocol/agent-client.js";
import { TIMING } from "../core/timing.js";

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

/**
 * The daemon's named limits on resources, in one place (its timing policy is in
 * core/timing.ts). Each bounds a resource; the comment says why it has its value.
 */
export const LIMITS = {
  /** Requests of one connection passed to its agent and not answered yet. More wait in the
   * daemon (and the client is not read meanwhile). Clients send one request at a time (ssh,
   * ssh-add, libraries); a client that pipelines many and reads no answer would otherwise make
   * the laptop compute and push all of them through sshd, measured: 200 such clients with 64
   * requests each held a fresh request to the same agent for 1.2 to 1.5 s. */
  pipelinedRequests: 4,
  /** Client bytes held back (requests beyond pipelinedRequests) before the daemon stops reading
   * that client: 64 KiB of small requests is thousands of them, and per-connection memory stays
   * bounded by this plus one read. */
  heldBytesPerConnection: 64 * 1024,
  /** Newly found agents probed at once (newest first): a probe gives a login its round-trip
   * history before its first client needs it; more at once would only cost descriptors. */
  probesOnAppearance: 4,
  /** Uncaught exceptions tolerated per minute before the daemon gives up and stops: one is a
   * bug to log, a stream of them means the state is broken. */
  uncaughtPerMinute: 10,
} as const;

/**
 * How long a request may go unanswered before its agent is probed, from the agent's own probe
 * history: `ceiling` (the configured reply timeout) when nothing is known yet.
 *
 * @example
 * replyDeadline([3, 5, 4], 1000) // -> 150 (a LAN laptop: 4 x 5 + 50 is below the floor)
 * replyDeadline([280], 1000)     // -> 1000 (a far one: 4 x 280 + 50 is above the ceiling)
 */
export function replyDeadline(rtts: readonly number[], ceiling: number): number {
  if (rtts.length === 0) return ceiling;
  const slowest = Math.max(...rtts);
  return Math.min(ceiling, Math.max(TIMING.minReplyDeadlineMs, TIMING.rttFactor * slowest + TIMING.rttSlackMs));
}

/** How long a probe may go unanswered before the agent is judged silent (see replyDeadline). */
export function probeVerdictDeadline(rtts: readonly number[], ceiling: number): number {
  if (rtts.length === 0) return ceiling;
  const slowest = Math.max(...rtts);
  return Math.min(ceiling, Math.max(TIMING.minProbeVerdictMs, TIMING.rttFactor * slowest + 2 * TIMING.rttSlackMs));
}
