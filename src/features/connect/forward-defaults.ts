import { homedir } from "node:os";
import { join } from "node:path";
import { UserError } from "../../shared/core/errors.js";
import { GPG_FORWARD, parseForwardSpec, type Forward } from "../../shared/core/forwards.js";
import { configHome } from "../../shared/core/location.js";
import { printable } from "../../shared/core/text.js";
import { lstatOrUndefined, readOwnFile } from "../../shared/core/trust.js";

/**
 * connect's forwards by host, from a small file of ssh-anchor's own,
 * `~/.config/ssh-anchor/connect.conf`, read like ssh_config:
 *
 *     # lines before the first Host apply to every host
 *     Host devbox *.corp.example !old.corp.example
 *         Gpg yes
 *         Forward opener=~/.opener.sock
 *
 * Why not ~/.ssh/config itself: ssh rejects keywords it does not know (and `ssh -G` never prints
 * one it ignores), and SetEnv would send the setting to every server. `Host` patterns are ssh's
 * (`*`, `?`, `!` to exclude, case-insensitive), matched against the host as given on the command
 * line. As ssh does with RemoteForward, every matching block adds its forwards; for a name given
 * twice the first one counts, and the command line comes before the file.
 */
export interface ForwardDefaults {
  readonly gpg: boolean;
  readonly forwards: readonly Forward[];
}

/** The file's bound: a hand-written list of forwards is a few hundred bytes. */
const MAX_BYTES = 64 * 1024;

export function defaultsFile(home: string = homedir(), env: NodeJS.ProcessEnv = process.env): string {
  return join(configHome(home, env), "ssh-anchor", "connect.conf");
}

/** The host part of a destination as ssh matches `Host` against it: `me@devbox` -> devbox. */
export function destinationHost(destination: string): string {
  const uri = /^ssh:\/\/(?:[^@/]*@)?(\[[^\]]*\]|[^:/]*)/.exec(destination);
  const host = uri ? (uri[1] as string).replace(/^\[|\]$/g, "") : destination.slice(destination.lastIndexOf("@") + 1);
  return host.toLowerCase();
}

/** ssh's match_pattern: `*` any run, `?` one character, case-insensitive. */
function matchPattern(text: string, pattern: string): boolean {
  const source = [...pattern.toLowerCase()].map((c) => (c === "*" ? ".*" : c === "?" ? "." : c.replace(/[.+^${}()|[\]\\]/g, "\\$&"))).join("");
  return new RegExp(`^${source}$`, "s").test(text);
}

/** A `Host` line's verdict for `host`: a negated pattern that matches wins over all the others. */
export function hostMatches(host: string, patterns: readonly string[]): boolean {
  let matched = false;
  for (const pattern of patterns) {
    const negated = pattern.startsWith("!");
    if (!matchPattern(host, negated ? pattern.slice(1) : pattern)) continue;
    if (negated) return false;
    matched = true;
  }
  return matched;
}

/**
 * The defaults for `destination` in the file's text.
 * @throws {UserError} (status 2) naming the file and line of anything it cannot read.
 */
export function parseForwardDefaults(text: string, destination: string, home: string, file = "connect.conf"): ForwardDefaults {
  const host = destinationHost(destination);
  let applies = true;
  let gpg: boolean | undefined;
  const forwards: Forward[] = [];
  const lines = text.split("\n");
  for (const [index, raw] of lines.entries()) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const fail = (why: string): never => {
      throw new UserError(`${file} line ${index + 1}: ${printable(why, 200)}`, 2);
    };
    // "Keyword value" or "Keyword=value", as in ssh_config.
    const split = /^([^\s=]+)(?:\s*=\s*|\s+)?(.*)$/.exec(line) as RegExpExecArray;
    const keyword = split[1] as string;
    const words = (split[2] as string).split(/\s+/).filter(Boolean);
    switch (keyword.toLowerCase()) {
      case "host":
        if (words.length === 0) fail("Host needs at least one pattern");
        applies = hostMatches(host, words);
        break;
      case "gpg":
        if (words.length !== 1 || !/^(yes|no)$/i.test(words[0] as string)) fail("Gpg takes yes or no");
        if (applies && gpg === undefined) gpg = (words[0] as string).toLowerCase() === "yes";
        break;
      case "forward": {
        // Forward NAME=SOCKET, or Forward NAME SOCKET.
        const spec = words.length === 2 ? `${words[0]}=${words[1]}` : words.length === 1 ? (words[0] as string) : fail("Forward takes NAME=SOCKET");
        const forward = parseForwardSpec(spec, home);
        if (typeof forward === "string") fail(forward);
        const parsed = forward as Forward;
        if (parsed.name === GPG_FORWARD) fail("the gpg forward is set with Gpg yes (or, for another socket, --forward gpg=SOCKET)");
        if (applies && !forwards.some((other) => other.name === parsed.name)) forwards.push(parsed);
        break;
      }
      default:
        fail(`unknown keyword "${keyword}" (Host, Gpg and Forward are known)`);
    }
  }
  return { gpg: gpg ?? false, forwards };
}

/**
 * The defaults for `destination` from the user's file; none when there is no file.
 * @throws {UserError} for a file that is not the user's own regular file, or one it cannot read.
 */
export async function readForwardDefaults(destination: string, options: { uid: number; home?: string; env?: NodeJS.ProcessEnv }): Promise<ForwardDefaults> {
  const home = options.home ?? homedir();
  const file = defaultsFile(home, options.env);
  if (!(await lstatOrUndefined(file))) return { gpg: false, forwards: [] };
  const text = await readOwnFile(file, options.uid, MAX_BYTES);
  if (text === undefined) throw new UserError(`${file} is not a regular file of yours (or larger than ${MAX_BYTES} bytes): connect reads forwards only from your own file`, 2);
  return parseForwardDefaults(text, destination, home, file);
}
