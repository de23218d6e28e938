import { basename, join } from "node:path";

/**
 * The names and paths of forwarded sockets beyond the agent (issue 20; the contract with the
 * laptop side is /docs/forwards.md). Each login forwards a socket of the laptop to a path of its
 * own in the user's forwards directory, `U/NAME.TOKEN.sock` (TOKEN unique per ssh connection, so
 * no old file blocks a new forward and two laptops never clobber each other); the daemon serves
 * one stable socket per NAME beside the agent's, `D/NAME.sock` (and `D/gpg.sock` for gpg-agent).
 */

/** A forward's name: "gpg" is gpg-agent's, any other is a plain byte stream (opener, clipboard). */
export const FORWARD_NAME = /^[a-z][a-z0-9-]{0,31}$/;
/** A login's token, unique per ssh connection. */
export const FORWARD_TOKEN = /^[A-Za-z0-9_-]{1,64}$/;
/** The gpg-agent forward (Assuan, probed with its greeting). */
export const GPG_FORWARD = "gpg";
/** Never a forward's name: the agent's stable socket is agent.sock. */
const RESERVED = new Set(["agent"]);
/** The forwards directory's name in ~/.ssh. */
export const FORWARDS_DIRECTORY_NAME = "anchor-forwards";

/** How the daemon talks to an upstream: gpg-agent's Assuan (it greets), or bytes only. */
export type ForwardKind = "gpg" | "named";

export function forwardKind(name: string): ForwardKind {
  return name === GPG_FORWARD ? "gpg" : "named";
}

/** Why `name` is not a forward's name, or undefined if it is. */
export function forwardNameRefusal(name: string): string | undefined {
  if (!FORWARD_NAME.test(name)) return `"${name}" is not a forward name (a lowercase letter, then up to 31 of a-z, 0-9 and -)`;
  if (RESERVED.has(name)) return `"${name}" is reserved`;
  return undefined;
}

/** Where the user's logins forward to: `~/.ssh/anchor-forwards` (0700, the user's own). */
export function forwardsDirectory(home: string): string {
  return join(home, ".ssh", FORWARDS_DIRECTORY_NAME);
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
