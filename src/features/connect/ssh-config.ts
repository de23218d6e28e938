import { UserError } from "../../shared/core/errors.js";
import { readSshConfig, type SshSettings } from "../../shared/core/ssh-config.js";
import { TIMING } from "../../shared/core/timing.js";

/**
 * ssh's effective settings for the destination connect is about to reach.
 * @throws {UserError} with ssh's own message (a usage error, status 2) when the options or the
 *   destination are invalid.
 */
export async function effectiveSettings(sshOptions: readonly string[], destination: string): Promise<SshSettings> {
  const read = await readSshConfig(sshOptions, destination, TIMING.sshConfigMs);
  if (read.kind === "failed") throw new UserError(`ssh rejected the options: ${read.reason}`, 2);
  return read.settings;
}

/** Whether ssh reaches the host through something else (a jump host, a proxy command). */
export function isProxied(settings: SshSettings): boolean {
  const jump = settings.get("proxyjump");
  const command = settings.get("proxycommand");
  return Boolean((jump && jump !== "none") || (command && command !== "none"));
}
