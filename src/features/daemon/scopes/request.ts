import type { AgentBook } from "../agent-book.js";
import { listIdentities } from "../../../shared/protocol/agent-client.js";
import { learnKeys } from "./routing.js";
import { anchorOf, subsetRefusal, widerThan } from "../../../shared/scope/rule.js";
import type { ScopeServers } from "./servers.js";
import type { ScopeAnswer } from "../../../shared/control/protocol.js";

export interface ScopeRequestContext {
  readonly book: AgentBook;
  readonly servers: ScopeServers;
  readonly rescan: () => Promise<void>;
  readonly probeTimeoutMs: number;
}

/**
 * A login asks for the scoped socket of the agent at `agentPath` (its own SSH_AUTH_SOCK). The
 * daemon decides from what it sees itself: the path must be a candidate that passed the trust
 * checks, and the anchor is what that agent answers now.
 * @throws {Error} with the reason, in words, when the login cannot be scoped.
 */
export async function scopeForLogin(agentPath: string, context: ScopeRequestContext): Promise<ScopeAnswer> {
  const { book } = context;
  // The login may be seconds old: look again before deciding it is unknown.
  await context.rescan();
  const agent = book.all().find((candidate) => candidate.path === agentPath);
  if (!agent) {
    throw new Error(`${agentPath} is not an agent socket the daemon trusts (see ssh-anchor status): cannot tell whose it is`);
  }
  // The probe records its keys for routing; the direct answer gives the key types (certificates).
  const [answer] = await Promise.all([listIdentities(agentPath, context.probeTimeoutMs), book.probe(agent)]);
  if (answer.kind !== "answered") throw new Error(`this login's agent ${agentPath} did not answer: ${answer.reason}`);
  const anchor = anchorOf(answer.identities);
  await learnKeys(book);
  const others = book
    .all()
    .filter((other) => other !== agent && other.health !== "dead")
    .map((other) => ({ path: other.path, keys: other.fingerprints }));
  const refusal = subsetRefusal(anchor, others);
  if (refusal) throw new Error(refusal);
  const wider = widerThan(anchor, context.servers.scopes());
  const { scope, path } = await context.servers.open(anchor);
  const warnings = wider.map(
    (other) =>
      `scope ${other.id} (${other.keys.length} key${other.keys.length === 1 ? "" : "s"}) holds only keys this login also offers: ` +
      "its panes can use this login's agent; if that scope is not yours, see ssh-anchor doctor",
  );
  return { id: scope.id, socket: path, keys: scope.keys, warnings };
}
