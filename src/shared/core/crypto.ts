import { createRequire } from "node:module";

let loaded: typeof import("node:crypto") | undefined;

/**
 * node:crypto, loaded on first use: most hosts (OpenSSH <= 10.0) never need it, and the daemon's
 * memory is a budget. Kept once loaded: createRequire costs more than the hash it is asked for
 * (profiled: a probe's answer fingerprints its keys).
 */
export function crypto(): typeof import("node:crypto") {
  loaded ??= createRequire(import.meta.url)("node:crypto") as typeof import("node:crypto");
  return loaded;
}
