import { createRequire } from "node:module";

/**
 * node:crypto, loaded on first use: most hosts (OpenSSH <= 10.0) never need it, and the daemon's
 * memory is a budget.
 */
export function crypto(): typeof import("node:crypto") {
  return createRequire(import.meta.url)("node:crypto") as typeof import("node:crypto");
}
