import type { AgentBook } from "../daemon/agent-book.js";
import { admits } from "./routing.js";
import type { ScopeServers } from "./servers.js";

/** One scope in `ssh-anchor status --json`. */
export interface ScopeReport {
  readonly id: string;
  /** Its socket, or null when it could not be bound (the log says why). */
  readonly socket: string | null;
  /** Fingerprints of its anchor: an agent belongs to the scope when it offers all of them. */
  readonly keys: readonly string[];
  readonly lastLoginAt: string;
  /** Its agents in routing order (dead ones left out); the first is where its connections go. */
  readonly agents: readonly string[];
}

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
