import type { ScopeReport } from "./report.js";

/** The `scopes:` lines of `ssh-anchor status` (nothing when no login asked for a scope). */
export function formatScopes(scopes: readonly ScopeReport[] | undefined): string[] {
  if (!scopes || scopes.length === 0) return [];
  const lines = ["scopes (init --per-identity; an agent belongs to a scope when it offers every one of its keys):"];
  for (const scope of scopes) {
    const keys = `${scope.keys.length} key${scope.keys.length === 1 ? "" : "s"}`;
    lines.push(`  ${scope.id}  ${scope.socket ?? "not served: see the log"}`);
    lines.push(`      ${keys}: ${scope.keys.join(" ")}`);
    lines.push(`      ${scope.agents.length ? `route: ${scope.agents.join(", then ")}` : "route: none connected: an empty key list"}`);
  }
  return lines;
}
