import { mkdir } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { crypto } from "./crypto.js";
import { UserError } from "./errors.js";
import { runProgramWithInput } from "./exec.js";
import { FORWARDS_DIRECTORY, forwardPathRefusal } from "./forwards.js";
import { stateHome } from "./location.js";
import type { SshSettings } from "./ssh-config.js";
import { shellQuote } from "./ssh-options.js";
import { printable } from "./text.js";
import { TIMING } from "./timing.js";
import { directoryRefusal, lstatOrUndefined, readOwnFile, replaceOwnFile } from "./trust.js";

/**
 * What the laptop needs to know of a host to forward sockets there: the remote user's home, as
 * ssh expands every token of a RemoteForward path on the laptop (%d is the laptop's home). It is
 * asked once per destination, in one ssh login that also makes the forwards directory (0700:
 * ssh never makes a directory for a forwarded socket), and kept on the laptop in a file of the
 * user's own (0600, in $XDG_STATE_HOME/ssh-anchor/hosts), so a reconnect costs no round trip.
 * What the host answered and what the file holds are data from elsewhere: checked against what
 * they may be, printed through printable().
 */
export interface RemoteFacts {
  readonly home: string;
  /** The forwards directory is a private one of the user's ("ok"), or something else is there. */
  readonly directory: "ok" | "refused";
}

const P = "ssh-anchor-forwards:";

/** The probe, POSIX sh, run as `sh -c '...'` (so the login shell only passes one word on). */
export function factsProbeScript(): string {
  return [
    `P=${P}`,
    `u="$HOME/${FORWARDS_DIRECTORY}"`,
    "umask 077",
    `[ -d "$u" ] || mkdir -p "$u" 2>/dev/null`,
    `if [ -d "$u" ] && [ ! -h "$u" ] && [ -O "$u" ] && [ -z "$(find "$u" -prune \\( -perm -020 -o -perm -002 \\) -print 2>/dev/null)" ]; then s=ok; else s=refused; fi`,
    `printf '%shome=%s\\n' "$P" "$HOME"`,
    `printf '%sdirectory=%s\\n' "$P" "$s"`,
    `printf '%send=yes\\n' "$P"`,
  ].join("\n");
}

/**
 * The facts in what the probe printed (lines of a start-up file that prints are ignored), or why
 * there are none.
 */
export function parseFacts(stdout: string): RemoteFacts | string {
  const found = new Map<string, string>();
  for (const line of stdout.split("\n")) {
    if (!line.startsWith(P)) continue;
    const equals = line.indexOf("=");
    if (equals > P.length && !found.has(line.slice(P.length, equals))) found.set(line.slice(P.length, equals), line.slice(equals + 1));
  }
  if (found.get("end") !== "yes") return "the host did not answer the probe";
  return checkedFacts(found.get("home") ?? "", found.get("directory"));
}

function checkedFacts(home: string, directory: string | undefined): RemoteFacts | string {
  const refusal = forwardPathRefusal(home);
  if (refusal) return `its home cannot be used in a forward's path: ${printable(refusal, 200)}`;
  if (directory !== "ok" && directory !== "refused") return "the host's answer is not one the probe gives";
  return { home: home.replace(/\/+$/, "") || "/", directory };
}

/** Which remote account the facts are of: ssh's own user, host name and port for the destination. */
export function factsKey(settings: SshSettings, destination: string): string {
  const host = settings.get("hostname") ?? destination;
  return `${settings.get("user") ?? ""}@${host}:${settings.get("port") ?? "22"}`;
}

interface CacheOptions {
  readonly uid: number;
  readonly home?: string;
  readonly env?: NodeJS.ProcessEnv;
}

const CACHE_HEADER = "# ssh-anchor: what connect learnt of a host (remove to ask again)";
const CACHE_MAX_BYTES = 4096;

function cacheDirectory(options: CacheOptions): string {
  return join(stateHome(options.home ?? homedir(), options.env ?? process.env), "ssh-anchor", "hosts");
}

/** The cache file of one destination (named by a hash: a host name is not a file name). */
export function cacheFile(key: string, options: CacheOptions): string {
  return join(cacheDirectory(options), crypto().createHash("sha256").update(key).digest("hex").slice(0, 32));
}

/** The cached facts of `key`, or undefined when there are none the user's own file vouches for. */
export async function readCachedFacts(key: string, options: CacheOptions): Promise<RemoteFacts | undefined> {
  const directory = await lstatOrUndefined(cacheDirectory(options));
  if (directoryRefusal(directory, options.uid)) return undefined;
  const text = await readOwnFile(cacheFile(key, options), options.uid, CACHE_MAX_BYTES);
  if (text === undefined) return undefined;
  const found = new Map<string, string>();
  for (const line of text.split("\n")) {
    const equals = line.indexOf("=");
    if (!line.startsWith("#") && equals > 0) found.set(line.slice(0, equals), line.slice(equals + 1));
  }
  if (found.get("key") !== key) return undefined;
  const facts = checkedFacts(found.get("home") ?? "", found.get("directory"));
  return typeof facts === "string" ? undefined : facts;
}

/**
 * Keeps the facts for the next run; returns why it could not (a state directory that is not a
 * private one of the user's), or undefined.
 */
export async function writeCachedFacts(key: string, facts: RemoteFacts, options: CacheOptions): Promise<string | undefined> {
  const directory = cacheDirectory(options);
  await mkdir(directory, { recursive: true, mode: 0o700 }).catch(() => undefined);
  const refusal = directoryRefusal(await lstatOrUndefined(directory), options.uid);
  if (refusal) return `${directory} ${refusal}`;
  try {
    await replaceOwnFile(cacheFile(key, options), `${CACHE_HEADER}\nkey=${key}\nhome=${facts.home}\ndirectory=${facts.directory}\n`, 0o600);
  } catch (error) {
    return `cannot write in ${directory}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`;
  }
  return undefined;
}

/**
 * Asks the host (one ssh login, bounded; a prompt ssh shows goes to the terminal).
 * @throws {UserError} when the login fails or the answer is not one the probe gives.
 */
export async function probeRemoteFacts(sshOptions: readonly string[], destination: string, settings: SshSettings): Promise<RemoteFacts> {
  // Ours first (ssh takes the first value given): no forwardings, no RemoteCommand, no tty of
  // the user's config; then the user's own options; then a bounded connect and, without a
  // terminal, no prompt nobody can answer.
  const args = ["-o", "ClearAllForwardings=yes", "-o", "RemoteCommand=none", "-o", "RequestTTY=no", "-o", "PermitLocalCommand=no", ...sshOptions];
  if (!process.stdin.isTTY) args.push("-o", "BatchMode=yes");
  if ((settings.get("connecttimeout") ?? "none") === "none") args.push("-o", `ConnectTimeout=${TIMING.sshConnectTimeoutSeconds}`);
  args.push(destination, `sh -c ${shellQuote(factsProbeScript())}`);
  const run = await runProgramWithInput("ssh", args, { timeoutMs: TIMING.remoteFactsProbeMs, stderr: "inherit" });
  const facts = parseFacts(run.stdout);
  if (run.code !== 0 || typeof facts === "string") {
    const why = run.code !== 0 ? (run.failure ?? "ssh failed") : (facts as string);
    throw new UserError(`could not ask ${printable(destination, 200)} for its home, which the forwards' paths need (${printable(why, 200)}): fix what ssh said, then run again`);
  }
  return facts;
}

/**
 * The host's facts: from the cache, or asked once and cached. `note` is told, in one line each,
 * that the host was asked and anything the user should know (a cache that cannot be kept).
 */
export async function remoteFacts(
  sshOptions: readonly string[],
  destination: string,
  settings: SshSettings,
  options: CacheOptions & { readonly note: (line: string, terminal: boolean) => void },
): Promise<RemoteFacts> {
  const key = factsKey(settings, destination);
  const cached = await readCachedFacts(key, options);
  if (cached) return cached;
  options.note(`asking ${destination} once for its home (for the forwards' paths)`, false);
  const facts = await probeRemoteFacts(sshOptions, destination, settings);
  if (facts.directory !== "ok") {
    // Not kept: asked again (and checked again) at the next start, until it is fixed.
    options.note(`~/${FORWARDS_DIRECTORY} on ${destination} is not a private directory of yours (mode 0700, not a symlink): forwards may not bind there, and the daemon there will not use them; fix it on the host (chmod 700 ~/${FORWARDS_DIRECTORY})`, true);
    return facts;
  }
  const refusal = await writeCachedFacts(key, facts, options);
  if (refusal) options.note(`cannot keep what the host said (${refusal}): it is asked again at the next start`, true);
  return facts;
}
