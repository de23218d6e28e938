import { readOwnFile } from "../core/trust.js";

/**
 * The one bound of the scope registry file (`<socket>.scopes`, key fingerprints only): the
 * daemon's writer keeps the file within it (forgetting the scopes whose last login is oldest),
 * and every reader (the daemon at start, the per-identity rule) reads a file up to it, so what
 * was written is what is read back. 1 MiB is about 19,000 fingerprints: 64 scopes (LIMITS.scopes)
 * of nearly 300 keys each, far beyond any person's agent; a larger file is not one of ours.
 */
export const REGISTRY_MAX_BYTES = 1024 * 1024;

/** The registry file's text, when it is the user's own and within REGISTRY_MAX_BYTES. */
export function readRegistryFile(file: string, uid: number): Promise<string | undefined> {
  return readOwnFile(file, uid, REGISTRY_MAX_BYTES);
}
