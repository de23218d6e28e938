import { homedir } from "node:os";
import { join } from "node:path";
import { runsInit } from "../core/init-line.js";
import { daemonPaths } from "../core/location.js";
import { SHELL_RECORDS } from "../core/shells.js";
import { currentUid, readOwnFile } from "../core/trust.js";
import { readRegistryFile } from "./registry-file.js";

/**
 * Every start-up file a shell ssh-anchor knows may read, relative to $HOME: where a hand-written
 * or setup-written init line can be.
 */
const START_UP_FILES: readonly string[] = [
  ...new Set(SHELL_RECORDS.flatMap((record) => [record.rcFile, ...record.startup.login.flat(), ...record.startup.interactive.flat()])),
];

export interface AccountOptions {
  readonly uid?: number;
  readonly home?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** `--socket`, when the daemon was given one. */
  readonly socket?: string;
}

/** Why an account counts as shared (per-identity), or undefined when it does not. */
export type PerIdentityEvidence = { readonly kind: "rc-line"; readonly file: string } | { readonly kind: "scopes"; readonly file: string };

/**
 * Whether per-identity is on for this account: the one rule everything that points a shell, pane
 * or session at a socket asks (connect's prelude, setup, doctor). It is on when a start-up file
 * of the user's runs `ssh-anchor init --per-identity` (their stated intent) or when the daemon
 * remembers a scope (someone logged in with that line). On such an account nothing may point
 * anyone at the stable socket, which reaches whoever logged in last.
 * Only files that are provably the user's own are read.
 */
export async function perIdentityEvidence(options: AccountOptions = {}): Promise<PerIdentityEvidence | undefined> {
  const uid = options.uid ?? currentUid();
  const env = options.env ?? process.env;
  const home = options.home ?? env.HOME ?? homedir();
  for (const relative of START_UP_FILES) {
    const file = join(home, relative);
    const text = await readOwnFile(file, uid);
    if (text !== undefined && runsInit(text, "per-identity")) return { kind: "rc-line", file };
  }
  let scopes: string;
  try {
    scopes = daemonPaths(options.socket, { uid, env, home }).scopes;
  } catch {
    return undefined; // no usable location: no daemon has remembered anything
  }
  const text = await readRegistryFile(scopes, uid);
  return text !== undefined && /"keys"\s*:\s*\[\s*"/.test(text) ? { kind: "scopes", file: scopes } : undefined;
}
