import { crypto } from "../core/crypto.js";
import { hostname } from "node:os";

const ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/**
 * The host tag OpenSSH >= 10.1 puts in `~/.ssh/agent/s.<tag>.<kind>.<random>`: SHA-512 of
 * gethostname(), its first 10 bytes each mapped onto a 62-letter alphabet. $HOME may be shared
 * over NFS, so sockets with another host's tag belong to another machine and are never used.
 *
 * @example hostHash("build-7") // a 10-character tag such as "q3ZkT0aP9x"
 */
export function hostHash(name: string = hostname()): string {
  const digest = crypto().createHash("sha512").update(name).digest();
  let tag = "";
  for (let i = 0; i < 10; i++) tag += ALPHABET[(digest[i] as number) % ALPHABET.length];
  return tag;
}

let local: string | undefined;

/** This machine's tag, computed once, on first use. */
export function localHostHash(): string {
  local ??= hostHash();
  return local;
}
