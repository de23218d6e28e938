import { homedir } from "node:os";
import { isAbsolute, join } from "node:path";
import { initLines, savedScriptForm, type InitLine } from "../core/init-line.js";
import { daemonPaths } from "../core/location.js";
import { STARTUP_FILES } from "../core/shells.js";
import { currentUid, ownFileBehindLink, readOwnFile } from "../core/trust.js";
import { readRegistryFile } from "./registry-file.js";

export interface AccountOptions {
  readonly uid?: number;
  readonly home?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** `--socket`, when the daemon was given one. */
  readonly socket?: string;
}

/** Why an account counts as shared (per-identity), or undefined when it does not. */
export type PerIdentityEvidence =
  | { readonly kind: "rc-line"; readonly file: string; readonly line: number }
  | { readonly kind: "scopes"; readonly file: string };

/**
 * The evidence in words, for a message: "~/.bashrc line 3 runs init --per-identity".
 * @example describeEvidence({ kind: "scopes", file: "/home/me/.ssh/anchor-h/scopes.json" }, "/home/me")
 */
export function describeEvidence(evidence: PerIdentityEvidence, home: string): string {
  const file = tildePath(evidence.file, home);
  return evidence.kind === "rc-line" ? `${file} line ${evidence.line} runs init --per-identity` : `the daemon remembers per-identity scopes in ${file}`;
}

/** `path` with the home directory written as `~`. */
export function tildePath(path: string, home: string): string {
  return path.startsWith(`${home}/`) ? `~${path.slice(home.length)}` : path;
}

/** An init line found in a start-up file; a sourced saved script's form is read from it when it is the user's own. */
export interface FoundInitLine extends InitLine {
  /** The start-up file, as the shell reads it (a symlink's own path, not where it leads). */
  readonly file: string;
}

/** A start-up file's text, when it (or the regular file a symlink of the user's leads to) is provably the user's own. */
async function readStartupFile(path: string, uid: number): Promise<string | undefined> {
  const where = await ownFileBehindLink(path, uid);
  return where.kind === "file" ? readOwnFile(where.path, uid) : undefined;
}

/** Where a sourced path as written leads: ~, $HOME and ${HOME} expanded, relative to the home (where a login starts). */
function sourcedPath(written: string, home: string): string {
  const expanded = written.replace(/^(?:~|\$HOME|\$\{HOME\})(?=\/|$)/, home);
  return isAbsolute(expanded) ? expanded : join(home, expanded);
}

/**
 * Every init line in the given start-up files (relative to the home), in file order, each with
 * its form: what setup must not stack a second line on, and what doctor checks.
 * @example await initLinesIn([".bashrc"], { home: "/home/me", uid: 1000 })
 */
export async function initLinesIn(files: readonly string[], options: { readonly home: string; readonly uid: number }): Promise<FoundInitLine[]> {
  const found: FoundInitLine[] = [];
  for (const relative of files) {
    const file = join(options.home, relative);
    const text = await readStartupFile(file, options.uid);
    if (text === undefined) continue;
    for (const line of initLines(text)) {
      if (line.form !== undefined || line.sources === undefined) {
        found.push({ ...line, file });
        continue;
      }
      const saved = await readStartupFile(sourcedPath(line.sources, options.home), options.uid);
      found.push({ ...line, file, form: saved === undefined ? undefined : savedScriptForm(saved) });
    }
  }
  return found;
}

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
  const scoped = (await initLinesIn(STARTUP_FILES, { home, uid })).find((line) => line.form === "init --per-identity");
  if (scoped) return { kind: "rc-line", file: scoped.file, line: scoped.line };
  let scopes: string;
  try {
    scopes = daemonPaths(options.socket, { uid, env, home }).scopes;
  } catch {
    return undefined; // no usable location: no daemon has remembered anything
  }
  const text = await readRegistryFile(scopes, uid);
  return text !== undefined && /"keys"\s*:\s*\[\s*"/.test(text) ? { kind: "scopes", file: scopes } : undefined;
}

/**
 * Whether the account chose link mode: a start-up file runs `ssh-anchor init --link` and none
 * runs the daemon's plain line (per-identity is asked first, by perIdentityEvidence). connect's
 * session then gets the link, and no daemon is started: the user chose not to have one.
 */
export async function linkModeChosen(options: AccountOptions = {}): Promise<boolean> {
  const uid = options.uid ?? currentUid();
  const home = options.home ?? (options.env ?? process.env).HOME ?? homedir();
  const forms = (await initLinesIn(STARTUP_FILES, { home, uid })).map((line) => line.form);
  return forms.includes("init --link") && !forms.includes("init");
}
