import type { Agent, AgentBook } from "../agent-book.js";
import type { ConnectionContext } from "../connection.js";
import { belongsTo, type Anchor } from "../../../shared/scope/rule.js";
import { mapBounded } from "../../../shared/core/bounded.js";
import { LIMITS } from "../policy.js";

/**
 * "Probe once, ever" for an agent whose keys are not known yet: a verdict from any earlier probe
 * is reused (a zombie that never answered is not probed again here; the zombie re-probes of
 * AgentBook learn its keys when it wakes up).
 */
const ANY_EARLIER_PROBE = -Number.MAX_VALUE;

/**
 * Learns the keys of every agent the daemon has not heard them from (a login that just
 * appeared), so that a scoped connection can tell whose it is. Bounded by the probe timeout.
 */
export async function learnKeys(book: AgentBook): Promise<void> {
  const unknown = book.all().filter((agent) => agent.fingerprints === undefined && agent.health !== "dead");
  await mapBounded(unknown, LIMITS.probesInFlight, (agent) => book.probe(agent, ANY_EARLIER_PROBE));
}

/** Whether `agent` may serve the scope of `anchor`: keys known, and every key of the anchor among them. */
export function admits(anchor: Anchor): (agent: Agent) => boolean {
  return (agent) => belongsTo(agent.fingerprints, anchor);
}

/**
 * The routing of a scoped socket: the unscoped socket's (the same AgentBook order, zombie
 * handling and empty answer of ProxiedConnection), with only the scope's agents admitted.
 */
export function scopedContext(base: ConnectionContext, anchor: Anchor): ConnectionContext {
  return {
    ...base,
    accept: admits(anchor),
    // After a fresh look, new logins' keys must be known before they can be admitted.
    findAgents: async () => {
      const finished = await base.findAgents();
      await learnKeys(base.book);
      return finished;
    },
    freshen: () => base.freshen?.()?.then(() => learnKeys(base.book)),
  };
}
