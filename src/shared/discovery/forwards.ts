import { basename, join } from "node:path";
import { FORWARD_TOKEN, GPG_FORWARD, forwardNameRefusal } from "../core/forwards.js";

// The names, the token and the forwards directory are the laptop's and the host's alike: one
// home, core/forwards.ts (connect and setup use them too).
export { FORWARD_NAME, FORWARD_TOKEN, GPG_FORWARD, forwardNameRefusal, forwardsDirectory } from "../core/forwards.js";

/**
 * The names and paths of forwarded sockets beyond the agent (issue 20; the contract with the
 * laptop side is /docs/forwards.md). Each login forwards a socket of the laptop to a path of its
 * own in the user's forwards directory, `U/NAME.TOKEN.sock` (TOKEN unique per ssh connection, so
 * no old file blocks a new forward and two laptops never clobber each other); the daemon serves
 * one stable socket per NAME beside the agent's, `D/NAME.sock` (and `D/gpg.sock` for gpg-agent).
 */

/** How the daemon talks to an upstream: gpg-agent's Assuan (it greets), or bytes only. */
export type ForwardKind = "gpg" | "named";

export function forwardKind(name: string): ForwardKind {
  return name === GPG_FORWARD ? "gpg" : "named";
}

/** A forwarded socket's file name split into its parts, or undefined when it is not one. */
export function parseForwardFile(path: string): { readonly name: string; readonly token: string } | undefined {
  const parts = basename(path).split(".");
  if (parts.length !== 3 || parts[2] !== "sock") return undefined;
  const [name, token] = parts as [string, string];
  if (forwardNameRefusal(name) || !FORWARD_TOKEN.test(token)) return undefined;
  return { name, token };
}

/**
 * The stable socket the daemon serves for forward `name` in its private directory `directory`:
 * `gpg.sock`, `NAME.sock`; a per-identity scope's `id-<scope>.NAME.sock`.
 * @example stableForwardPath("/home/me/.ssh/anchor-devbox", "opener") // -> ".../opener.sock"
 */
export function stableForwardPath(directory: string, name: string, scope?: string): string {
  return join(directory, scope === undefined ? `${name}.sock` : `id-${scope}.${name}.sock`);
}
