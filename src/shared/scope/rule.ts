import { crypto } from "../core/crypto.js";
import { fingerprint, type Identity } from "../protocol/identities.js";

/**
 * The per-identity rule (`init --per-identity`, for accounts several people log in to).
 *
 * A scope is named by its ANCHOR: the set of plain public keys (certificates left out) that a
 * login's forwarded agent offers when that login starts. An agent belongs to the scope only if it
 * offers EVERY key of the anchor. Why this rule:
 *
 * - A key shared by a team sits in several people's agents. Under "every key of the anchor", a
 *   team key alone never matches: Alice's anchor {A, T} and Bob's {B, T} are satisfied only by an
 *   agent holding A (Alice's) or B (Bob's), so the scopes do not merge. A rule naming one chosen
 *   key would have to guess which key is personal, and an agent's key order is not a promise.
 * - Keys added to an agent later do not move it out of its scope (it still offers the anchor),
 *   so `ssh-add` on the laptop, or AddKeysToAgent, leaves old panes working.
 * - A key of the anchor removed later (ssh-add -d, a hardware token pulled out) takes the agent
 *   out of the scope: the scope fails closed (an empty agent), never open.
 * - Certificates are re-issued (short-lived certificates daily): a blob that changes every day
 *   would orphan every pane. The key a certificate certifies is loaded beside it by ssh-add and
 *   counts as an ordinary key. An agent that offers nothing but certificates cannot be scoped.
 * - Hardware keys (sk-ssh-ed25519@openssh.com, sk-ecdsa-sha2-nistp256@openssh.com) have a stable
 *   public blob and count like any key: whoever has the token has that identity.
 * - An empty anchor would match every agent: it is refused.
 * - A login whose anchor is a strict subset of another live agent's keys (it offers only keys
 *   someone else also holds, such as the team key alone) would let that other agent serve it,
 *   with keys that are not its own: it is refused (see `subsetRefusal`).
 */
export interface Anchor {
  /** `SHA256:...` fingerprints of the anchor's keys, sorted, no duplicates. */
  readonly keys: readonly string[];
}

/** OpenSSH certificate key types end with this (ssh-ed25519-cert-v01@openssh.com, ...). */
const CERTIFICATE_SUFFIX = "-cert-v01@openssh.com";

export function isCertificate(keyType: string): boolean {
  return keyType.endsWith(CERTIFICATE_SUFFIX);
}

/** The sorted, de-duplicated fingerprints of these key blobs. */
export function fingerprintsOf(blobs: readonly Uint8Array[]): string[] {
  return [...new Set(blobs.map(fingerprint))].sort();
}

/** The blobs of the plain keys (not certificates) among `identities`: what an anchor is made of. */
export function plainKeyBlobs(identities: readonly Identity[]): Uint8Array[] {
  return identities.filter((identity) => !isCertificate(identity.keyType)).map((identity) => identity.blob);
}

/** The anchor of a login whose agent offers `identities`: its plain keys. Empty when it offers none. */
export function anchorOf(identities: readonly Identity[]): Anchor {
  return { keys: fingerprintsOf(plainKeyBlobs(identities)) };
}

/** Characters of the scope id: 64 bits of SHA-256, so that two anchors never share a socket. */
const SCOPE_ID_HEX = 16;

/** A scope id's shape as a pattern to build on (scoped socket names hold one). */
export const SCOPE_ID_SHAPE = `[0-9a-f]{${SCOPE_ID_HEX}}`;

/** A whole scope id, what `scopeId` makes: ids read back from a socket or a file are held to it. */
export const SCOPE_ID = new RegExp(`^${SCOPE_ID_SHAPE}$`);

/** A key fingerprint as `fingerprint` writes it (SHA-256, unpadded base64): what a scope's keys are. */
export const FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}$/;

/** More entries than this in a list read back (scopes, keys, agents, warnings) is not one of ours. */
export const MAX_LISTED = 2048;

/** The scope's id, from its anchor alone: the same keys give the same id after a restart. */
export function scopeId(anchor: Anchor): string {
  return crypto().createHash("sha256").update(anchor.keys.join("\n")).digest("hex").slice(0, SCOPE_ID_HEX);
}

/**
 * Whether an agent that offers `agentKeys` (fingerprints from its last probe; undefined when
 * the daemon has not learnt them yet) belongs to the scope of `anchor`. Unknown keys never
 * match: an agent is not trusted with a scope before its keys are known.
 */
export function belongsTo(agentKeys: readonly string[] | undefined, anchor: Anchor): boolean {
  if (agentKeys === undefined || anchor.keys.length === 0) return false;
  const offered = new Set(agentKeys);
  return anchor.keys.every((key) => offered.has(key));
}

/** Another agent as the rule needs to see it. */
export interface KnownAgent {
  readonly path: string;
  readonly keys: readonly string[] | undefined;
}

/**
 * Why a login with this anchor must not be scoped, or undefined when it may. An anchor that
 * another agent's keys strictly contain does not tell its person apart from that agent's: that
 * agent would serve the scope with keys of its own (a team key alone is the usual case).
 */
export function subsetRefusal(anchor: Anchor, others: readonly KnownAgent[]): string | undefined {
  if (anchor.keys.length === 0) {
    return "this login's agent offers no keys (certificates do not count): nothing tells its person apart; add a key (ssh-add) and log in again";
  }
  for (const other of others) {
    if (other.keys && other.keys.length > anchor.keys.length && belongsTo(other.keys, anchor)) {
      return (
        `every key this login's agent offers is also offered by ${other.path}, which holds more: that agent would count as yours. ` +
        "Load a key of your own (ssh-add) and log in again"
      );
    }
  }
  return undefined;
}

/**
 * Registered scopes whose anchor is strictly inside `anchor`: agents of this login also serve
 * them (the same person's older, smaller key set, or someone who logged in with shared keys only).
 */
export function widerThan<T extends Anchor>(anchor: Anchor, registered: readonly T[]): T[] {
  return registered.filter((other) => other.keys.length < anchor.keys.length && belongsTo(anchor.keys, other));
}

/**
 * Whether the agents seen look like several people's: two of them that each offer a key the
 * other does not (disjoint key sets, or personal keys beside a shared team key). One person's
 * agents normally offer the same keys, or one a few more than the other.
 */
export function looksShared(keySets: readonly (readonly string[])[]): boolean {
  const sets = keySets.filter((keys) => keys.length > 0);
  for (let i = 0; i < sets.length; i++) {
    for (let j = i + 1; j < sets.length; j++) {
      const a = sets[i] as readonly string[];
      const b = sets[j] as readonly string[];
      if (!belongsTo(a, { keys: b }) && !belongsTo(b, { keys: a })) return true;
    }
  }
  return false;
}
