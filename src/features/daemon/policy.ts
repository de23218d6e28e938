import { TIMING } from "../../shared/core/timing.js";
import { MAX_MESSAGE_LENGTH } from "../../shared/protocol/messages.js";
import { REGISTRY_MAX_BYTES } from "../../shared/scope/registry-file.js";

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
  /** Dead candidates (sockets that refuse connections) one request connects to in turn before
   * the next ones are checked a batch at a time (StaleTriage#ahead): thousands of dead logins'
   * sockets (~/.ssh/agent is never cleared) must not cost a request one connect each in turn,
   * measured: 2,000 in each layout made the first `ssh-add -l` after a start take 13 s. A few
   * is what a normal host has (a login or two that ended uncleanly). */
  deadTriedPerRequest: 4,
  /** Connections open at once to check whether candidates accept them (refused: dead): a batch
   * of this size costs a few descriptors for well under a millisecond each, and 2,000 stale
   * sockets are sorted out in about a hundred rounds. */
  staleChecksInFlight: 16,
  /** Probes out at once when every agent is asked (status, a scoped connection learning keys):
   * a shared account or a pile of dead logins' sockets may give thousands of candidates, and
   * each probe holds a descriptor until it is answered or times out. */
  probesInFlight: 16,
  /** Uncaught exceptions tolerated per minute before the daemon gives up and stops: one is a
   * bug to log, a stream of them means the state is broken. */
  uncaughtPerMinute: 10,
  /** Scopes kept (`init --per-identity`): each is a listening socket and a file; a shared account
   * has a handful of people, and a person's key set changes rarely. Past the limit the scope
   * whose last login is oldest is forgotten (its panes then fail with "Error connecting to
   * agent", not with someone else's keys). */
  scopes: 64,
  /** The scope registry file's size: its writer stays within it, and every reader reads up to it
   * (the bound and its reason are shared/scope/registry-file.ts's, which the per-identity rule
   * reads too). */
  registryBytes: REGISTRY_MAX_BYTES,
  /** Bytes a client may send before its first answer and still be moved to another agent (its
   * requests are kept to replay): a few of the largest messages is more than any client sends
   * before it reads. */
  replayBytes: 4 * MAX_MESSAGE_LENGTH,
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
