import { FINGERPRINT, MAX_LISTED, SCOPE_ID } from "./rule.js";

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

/** Fingerprints read back from a status answer: each one checked, or undefined when absent. */
export function parseFingerprints(value: unknown, fail: (message: string) => Error): readonly string[] | null | undefined {
  if (value === undefined || value === null) return value;
  if (!Array.isArray(value) || value.length > MAX_LISTED || !value.every((item) => typeof item === "string" && FINGERPRINT.test(item))) {
    throw fail("agent.fingerprints is not a list of fingerprints");
  }
  return value as string[];
}

/**
 * The scopes of a status answer, checked field by field (what comes back over a socket is
 * validated before it is believed or shown); undefined from a daemon that predates scopes.
 */
export function parseScopeReports(value: unknown, fail: (message: string) => Error, printable: (text: string) => string): ScopeReport[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.length > MAX_LISTED) throw fail("scopes is not a list");
  return value.map((item: unknown) => {
    if (typeof item !== "object" || item === null) throw fail("a scope is not an object");
    const scope = item as Record<string, unknown>;
    if (typeof scope.id !== "string" || !SCOPE_ID.test(scope.id)) throw fail("scope.id is not a scope id");
    if (scope.socket !== null && typeof scope.socket !== "string") throw fail("scope.socket is not a string");
    if (typeof scope.lastLoginAt !== "string") throw fail("scope.lastLoginAt is not a string");
    const keys = parseFingerprints(scope.keys, fail);
    if (!keys) throw fail("scope.keys is missing");
    const agents = scope.agents;
    if (!Array.isArray(agents) || agents.length > MAX_LISTED || !agents.every((agent) => typeof agent === "string")) throw fail("scope.agents is not a list of paths");
    return {
      id: scope.id,
      socket: scope.socket === null ? null : printable(scope.socket),
      keys,
      lastLoginAt: printable(scope.lastLoginAt),
      agents: (agents as string[]).map(printable),
    };
  });
}
