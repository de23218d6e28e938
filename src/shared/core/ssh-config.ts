import { runProgram } from "./exec.js";

/** ssh's effective settings for a destination, as `ssh -G` prints them (keys in lower case). */
export type SshSettings = ReadonlyMap<string, string>;

/** How asking ssh for its settings ended. */
export type SshConfigRead =
  | { readonly kind: "read"; readonly settings: SshSettings }
  /** ssh refused (bad options or destination) or could not be run: `reason` is its last word. */
  | { readonly kind: "failed"; readonly reason: string };

/**
 * Asks ssh itself what it would use for `destination` (config files, Match blocks and the
 * given options included) instead of parsing ~/.ssh/config here: `ssh -G` prints its settings
 * and connects to nothing.
 *
 * @example
 * const read = await readSshConfig(["-p", "2222"], "devbox", TIMING.sshConfigMs);
 * if (read.kind === "read") console.log(read.settings.get("hostname"));
 */
export async function readSshConfig(sshOptions: readonly string[], destination: string, timeoutMs: number): Promise<SshConfigRead> {
  const run = await runProgram("ssh", ["-G", ...sshOptions, destination], { timeoutMs });
  if (run.failure !== undefined) return { kind: "failed", reason: run.stderr.trim().split("\n").pop() || run.failure };
  const settings = new Map<string, string>();
  for (const line of run.stdout.split("\n")) {
    const space = line.indexOf(" ");
    if (space > 0) settings.set(line.slice(0, space).toLowerCase(), line.slice(space + 1));
  }
  return { kind: "read", settings };
}
