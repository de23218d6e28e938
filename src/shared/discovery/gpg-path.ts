import { readFile } from "node:fs/promises";
import { runProgram } from "../core/exec.js";
import { dial, NOBODY_LISTENS } from "../core/dial.js";
import { TIMING } from "../core/timing.js";
import { lstatOrUndefined } from "../core/trust.js";

/**
 * Where gpg (>= 2.1) looks for its agent, and what is there. gpg ignores GPG_AGENT_INFO and
 * connects to the fixed path `gpgconf --list-dirs agent-socket` prints; libassuan follows a
 * regular file there holding "%Assuan%\nsocket=PATH\n" (a redirect) and connects to PATH
 * instead. ssh-anchor puts such a redirect there, leading to the daemon's stable gpg socket.
 */

/** The redirect file's first line (libassuan's eval_redirection). */
export const ASSUAN_REDIRECT = "%Assuan%";

/** The content of a redirect to `target`. */
export function redirectText(target: string): string {
  return `${ASSUAN_REDIRECT}\nsocket=${target}\n`;
}

/**
 * The shell variable the per-identity init line sets to `id-<scope>.` (from its scoped
 * SSH_AUTH_SOCK), and unsets elsewhere: on a per-identity account gpg's redirect leads to
 * `D/${SSH_ANCHOR_SCOPE_PREFIX}gpg.sock`, which libassuan expands from gpg's environment (an unset
 * variable to nothing): each person's shell reaches their scope's gpg socket, any other shell the
 * shared one.
 */
export const SCOPE_PREFIX_VARIABLE = "SSH_ANCHOR_SCOPE_PREFIX";

/** The redirect's target on a per-identity account, beside the shared `gpg.sock` target `shared`. */
export function scopedGpgTarget(shared: string): string {
  return shared.replace(/gpg\.sock$/, () => `\${${SCOPE_PREFIX_VARIABLE}}gpg.sock`);
}

/** `gpgconf --list-dirs agent-socket`, or undefined without gpgconf. */
export async function gpgAgentSocketPath(env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  const result = await runProgram("gpgconf", ["--list-dirs", "agent-socket"], { timeoutMs: TIMING.gpgconfMs, env });
  const path = result.code === 0 ? result.stdout.trim() : "";
  return path.startsWith("/") && !path.includes("\n") ? path : undefined;
}

/** What is at gpg's agent socket path. */
export type GpgPathState =
  | { readonly kind: "missing" }
  /** A redirect (the user's own file) to `target`. */
  | { readonly kind: "redirect"; readonly target: string }
  /** A socket: `live` when something listens (a local gpg-agent, or systemd's gpg-agent.socket). */
  | { readonly kind: "socket"; readonly live: boolean; readonly own: boolean }
  | { readonly kind: "other"; readonly reason: string };

export async function gpgPathState(path: string, uid: number): Promise<GpgPathState> {
  const stats = await lstatOrUndefined(path);
  if (!stats) return { kind: "missing" };
  if (stats.isSocket()) {
    const dialed = await dial({ path }, TIMING.aliveCheckMs);
    if (dialed.kind === "connected") dialed.socket.destroy();
    return { kind: "socket", live: !(dialed.kind === "failed" && NOBODY_LISTENS.has(dialed.code)), own: stats.uid === uid };
  }
  if (!stats.isFile()) return { kind: "other", reason: "is neither a socket nor a file" };
  if (stats.uid !== uid) return { kind: "other", reason: "is a file that is not yours" };
  if (stats.size > 1024) return { kind: "other", reason: "is a file, not an Assuan redirect" };
  const text = await readFile(path, "utf8").catch(() => "");
  const lines = text.split("\n");
  const target = lines[1]?.startsWith("socket=") ? lines[1].slice("socket=".length) : undefined;
  if (lines[0] !== ASSUAN_REDIRECT || !target) return { kind: "other", reason: "is a file, not an Assuan redirect" };
  return { kind: "redirect", target };
}
