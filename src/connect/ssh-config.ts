import { execFile } from "node:child_process";
import { UserError } from "../core/errors.js";

/** ssh's effective settings for a destination, as `ssh -G` prints them (keys in lower case). */
export type SshSettings = ReadonlyMap<string, string>;

/**
 * Asks ssh itself what it would use (config files, Match blocks, -o options included) instead
 * of parsing ~/.ssh/config here.
 * @throws {UserError} with ssh's own message (a usage error, status 2) when the options or the
 *   destination are invalid.
 */
export function effectiveSettings(sshOptions: readonly string[], destination: string): Promise<SshSettings> {
  return new Promise((resolve, reject) => {
    execFile("ssh", ["-G", ...sshOptions, destination], { timeout: 10_000 }, (error, stdout, stderr) => {
      if (error) {
        const message = String(stderr).trim().split("\n").pop() || error.message;
        reject(new UserError(`ssh rejected the options: ${message}`, 2));
        return;
      }
      const settings = new Map<string, string>();
      for (const line of String(stdout).split("\n")) {
        const space = line.indexOf(" ");
        if (space > 0) settings.set(line.slice(0, space).toLowerCase(), line.slice(space + 1));
      }
      resolve(settings);
    });
  });
}

/** Whether ssh reaches the host through something else (a jump host, a proxy command). */
export function isProxied(settings: SshSettings): boolean {
  const jump = settings.get("proxyjump");
  const command = settings.get("proxycommand");
  return Boolean((jump && jump !== "none") || (command && command !== "none"));
}
