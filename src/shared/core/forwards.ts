import { isAbsolute, join } from "node:path";
import { crypto } from "./crypto.js";
import { runProgram } from "./exec.js";
import { MAX_SOCKET_PATH_BYTES } from "./location.js";
import { TIMING } from "./timing.js";
import { endpointState } from "./trust.js";

/**
 * The laptop's half of forwarded sockets beyond the agent (issue 20; docs/forwards.md):
 * each login forwards a socket of the laptop to a path of its own on the host,
 * `U/NAME.TOKEN.sock`, where U is `~/.ssh/anchor-forwards` of the remote user and TOKEN is
 * fresh for every ssh connection, so no old socket file blocks a new forward (sshd never
 * unlinks one without root's StreamLocalBindUnlink) and two laptops never clobber each other.
 * The daemon on the host serves one stable socket per NAME from them.
 */

/** A forward's name: "gpg" is gpg-agent's, any other a plain byte stream (opener, clipboard). */
export const FORWARD_NAME = /^[a-z][a-z0-9-]{0,31}$/;
/** A login's token, unique per ssh connection. */
export const FORWARD_TOKEN = /^[A-Za-z0-9_-]{1,64}$/;
/** The gpg-agent forward. */
export const GPG_FORWARD = "gpg";
/** Never a forward's name: the agent's stable socket is agent.sock. */
const RESERVED = new Set(["agent"]);
/** Nor one of this form: `D/id-<scope>.sock` is a person's scoped agent socket (per-identity),
 * which a forward's stable socket `D/NAME.sock` must never replace. */
const RESERVED_PREFIX = "id-";
/** The forwards directory, relative to the remote home. */
export const FORWARDS_DIRECTORY = ".ssh/anchor-forwards";

/** Why `name` is not a forward's name, or undefined if it is. */
export function forwardNameRefusal(name: string): string | undefined {
  if (!FORWARD_NAME.test(name)) return `"${name}" is not a forward name (a lowercase letter, then up to 31 of a-z, 0-9 and -)`;
  if (RESERVED.has(name)) return `"${name}" is reserved (the agent is forwarded with ssh -A)`;
  if (name.startsWith(RESERVED_PREFIX)) return `"${name}" is reserved: names starting with ${RESERVED_PREFIX} are per-identity sockets; choose another`;
  return undefined;
}

/** The forwards directory U of a remote user whose home is `home`. */
export function forwardsDirectory(home: string): string {
  return join(home, FORWARDS_DIRECTORY);
}

/** Where one login forwards `name` on the host: `U/NAME.TOKEN.sock`. */
export function remoteForwardPath(home: string, name: string, token: string): string {
  return join(forwardsDirectory(home), `${name}.${token}.sock`);
}

const BASE62 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** A fresh token for one ssh connection: 12 base62 characters (71 bits). */
export function newForwardToken(): string {
  // 248 = 4 * 62: bytes at or above it are skipped, so every character is equally likely.
  let token = "";
  while (token.length < 12) {
    for (const byte of crypto().randomBytes(16)) {
      if (byte < 248 && token.length < 12) token += BASE62[byte % 62];
    }
  }
  return token;
}

/**
 * Why `path` cannot be written into ssh's `-R remote:local` or an ssh_config RemoteForward line
 * as it is, or undefined when it can: ssh splits the pair at ":" and a config line at blanks,
 * and expands `%` tokens and `${VAR}` in both paths (on the laptop, so a remote path would get
 * the laptop's values); quotes and `!` would break the one-line sh prelude that checks the
 * forwards on the host. Only the characters of ordinary paths pass.
 */
export function forwardPathRefusal(path: string): string | undefined {
  if (!isAbsolute(path)) return `${path} is not an absolute path`;
  if (!/^[A-Za-z0-9_./@+,=-]+$/.test(path)) return `${path} holds a character ssh or a shell would read as syntax (a blank, :, %, $, a quote...)`;
  return undefined;
}

/** Why a socket path on the host is too long to bind (sun_path), or undefined. */
export function socketLengthRefusal(path: string): string | undefined {
  const bytes = Buffer.byteLength(path);
  return bytes > MAX_SOCKET_PATH_BYTES ? `${path} is ${bytes} bytes long: a socket path holds at most ${MAX_SOCKET_PATH_BYTES}` : undefined;
}

/** One socket of the laptop to forward, by name. */
export interface Forward {
  readonly name: string;
  /** The laptop's socket, absolute. */
  readonly local: string;
}

/**
 * Parses `NAME=SOCKET` (a `--forward` value, or a config line's): the name checked, `~/` in the
 * socket made the laptop's home.
 * @example parseForwardSpec("opener=~/.opener.sock", "/home/me") // { name: "opener", local: "/home/me/.opener.sock" }
 * @returns the forward, or why the text is not one.
 */
export function parseForwardSpec(text: string, home: string): Forward | string {
  const equals = text.indexOf("=");
  if (equals <= 0) return `"${text}" is not NAME=SOCKET`;
  const name = text.slice(0, equals);
  const refusal = forwardNameRefusal(name);
  if (refusal) return refusal;
  const given = text.slice(equals + 1);
  const local = given === "~" ? home : given.startsWith("~/") ? join(home, given.slice(2)) : given;
  if (!isAbsolute(local)) return `the socket of ${name} must be an absolute path (or start with ~/), not "${given}"`;
  return { name, local };
}

/**
 * Why the laptop's socket may not be forwarded, or undefined when it may: it must exist and be
 * the user's own socket in a directory nobody else may write to (src/shared/core/trust.ts), so
 * that a socket someone else planted is never offered to the host.
 */
export async function localSocketRefusal(forward: Forward, uid: number): Promise<string | undefined> {
  const path = forwardPathRefusal(forward.local);
  if (path) return path;
  const state = await endpointState(forward.local, uid);
  if (state === "ours") return undefined;
  return state === "missing" ? `${forward.local} does not exist (nothing listens there)` : state;
}

/**
 * The laptop's restricted gpg-agent socket (`gpgconf --list-dirs agent-extra-socket`: signing
 * and decrypting, no key import or export, no passphrase-cache management), with the agent
 * launched first so that the socket is there.
 * @returns the path, or why there is none.
 */
export async function gpgExtraSocket(env: NodeJS.ProcessEnv = process.env): Promise<{ path: string } | { refusal: string }> {
  const listed = await runProgram("gpgconf", ["--list-dirs", "agent-extra-socket"], { timeoutMs: TIMING.gpgconfMs, env });
  if (listed.missing) return { refusal: "gpgconf is not installed here (GnuPG 2.1 or later is needed for --gpg)" };
  const path = listed.stdout.trim().split("\n")[0] ?? "";
  if (listed.failure || !isAbsolute(path)) return { refusal: `gpgconf --list-dirs agent-extra-socket failed: ${listed.failure ?? "no path"}` };
  // An agent that is not running has no socket (unless systemd listens for it): start it.
  const launched = await runProgram("gpgconf", ["--launch", "gpg-agent"], { timeoutMs: TIMING.gpgconfMs, env });
  if (launched.failure) return { refusal: `gpgconf --launch gpg-agent failed: ${launched.stderr.trim().split("\n").pop() || launched.failure}` };
  return { path };
}
