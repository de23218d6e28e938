import type { AgentBook } from "../agent-book.js";
import type { ScopeReport } from "../../../shared/scope/report.js";
import { admits } from "./routing.js";
import type { ScopeServers } from "./servers.js";

/** The scopes as `status` shows them: each with its socket and its agents in routing order. */
export function scopeReports(servers: ScopeServers, book: AgentBook): ScopeReport[] {
  return servers.scopes().map((scope) => {
    const admitted = admits(scope);
    return {
      id: scope.id,
      socket: servers.pathOf(scope) ?? null,
      keys: scope.keys,
      lastLoginAt: new Date(scope.lastLoginMs).toISOString(),
      agents: book.ranked().filter(admitted).map((agent) => agent.path),
    };
  });
}
