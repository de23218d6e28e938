import { homedir } from "node:os";
import { isAbsolute, join } from "node:path";
import { FORWARD_TOKEN } from "../core/forwards.js";
import type { SshSettings } from "../core/ssh-config.js";
import { listIdentities } from "../protocol/agent-client.js";
import { anchorOf, belongsTo, SCOPE_ID_SHAPE, scopeId } from "./rule.js";

/**
 * Per-identity forwards (issue 20; docs/per-identity.md, docs/forwards.md): which person a
 * forwarded socket belongs to is written in its name by the laptop, because the host cannot
 * tell. (sshd's per-login processes are not dumpable, so /proc does not say which login listens
 * on a socket, and Node cannot ask the kernel with SO_PEERCRED.) The laptop knows the agent ssh
 * forwards, so it computes the scope id the daemon will give that login (`scopeId` of the keys
 * the agent offers, the same rule) and puts it first in the login's token:
 * `U/NAME.<scope>-<rest>.sock`. A token without one is unscoped (an older connect, a laptop with
 * no agent or no keys).
 *
 * The name is a claim, not a proof: any process of the account can make a socket with any name.
 * That is the per-identity threat model (accidents between people sharing an account, not a
 * co-user who means harm): a person's forward is never routed to another person's pane by
 * mistake.
 */

/** A scoped token: the scope id, `-`, then the login's own part (connect's random one, or ssh's %C). */
const SCOPED_TOKEN = new RegExp(`^(${SCOPE_ID_SHAPE})-([A-Za-z0-9_]{1,47})$`);

/**
 * The scope a forward's token names, or undefined for an unscoped token. Only a whole token of
 * the strict shape counts (it is read from file names, which anyone of the account can choose).
 * @example forwardTokenScope("0123456789abcdef-a1B2c3D4e5F6") // "0123456789abcdef"
 */
export function forwardTokenScope(token: string): string | undefined {
  if (!FORWARD_TOKEN.test(token)) return undefined;
  return SCOPED_TOKEN.exec(token)?.[1];
}

/** A login's token for the person of scope `scope` (undefined: unscoped). */
export function scopedForwardToken(scope: string | undefined, rest: string): string {
  const token = scope === undefined ? rest : `${scope}-${rest}`;
  if (!FORWARD_TOKEN.test(token) || (scope !== undefined && forwardTokenScope(token) !== scope)) throw new Error(`not a forward token: ${token}`);
  return token;
}

/** How many characters a scope adds to a token: the id and its `-`. */
export const SCOPE_PREFIX_LENGTH = 17;

/**
 * Whether the forward of a login whose token names scope `forwardScope` may serve scope
 * `servedScope`: the agent's rule (rule.ts `belongsTo`), with the keys the forward's scope was
 * registered with standing for that login's agent: the same scope, or one whose keys hold every
 * key of the served one (the same person with a key added). A scope the daemon does not know
 * (its keys unknown) serves only itself, which is never served: fails closed.
 */
export function forwardServesScope(forwardScope: string | undefined, servedScope: string, keysOf: (scope: string) => readonly string[] | undefined): boolean {
  if (forwardScope === undefined) return false;
  if (forwardScope === servedScope) return true;
  const served = keysOf(servedScope);
  return served !== undefined && belongsTo(keysOf(forwardScope), { keys: served });
}

/**
 * The agent socket ssh forwards for these settings (`ssh -G`'s), or undefined when it forwards
 * none: `ForwardAgent yes` forwards IdentityAgent when one is set (ssh exports it as
 * SSH_AUTH_SOCK for itself), else SSH_AUTH_SOCK; `ForwardAgent PATH` or `$VAR` forwards that.
 */
export function forwardedAgentPath(settings: SshSettings, env: NodeJS.ProcessEnv, home: string = homedir()): string | undefined {
  const forward = settings.get("forwardagent") ?? "no";
  if (forward === "no") return undefined;
  const identity = settings.get("identityagent");
  const named = forward === "yes" ? (identity && identity !== "none" && identity !== "SSH_AUTH_SOCK" ? identity : "$SSH_AUTH_SOCK") : forward;
  const path = named.startsWith("$") ? env[named.slice(1).replace(/^\{(.*)\}$/, "$1")] : named.startsWith("~/") ? join(home, named.slice(2)) : named;
  return path && isAbsolute(path) ? path : undefined;
}

/**
 * The scope id the daemon on the host would give a login whose forwarded agent is the one at
 * `agentPath`: `scopeId` of the plain keys it offers now. Undefined when it offers none or does
 * not answer within `timeoutMs` (the forwards go unscoped).
 */
export async function agentScope(agentPath: string, timeoutMs: number): Promise<string | undefined> {
  const answer = await listIdentities(agentPath, timeoutMs);
  if (answer.kind !== "answered") return undefined;
  const anchor = anchorOf(answer.identities);
  return anchor.keys.length === 0 ? undefined : scopeId(anchor);
}
