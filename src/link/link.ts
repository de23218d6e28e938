import { rename, symlink, unlink } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { defaultSocketPath } from "../daemon/paths.js";
import { healthOf, rankAgents } from "../daemon/policy.js";
import { ensurePrivateDirectory } from "../daemon/private-dir.js";
import { AgentDiscovery } from "../discovery/discovery.js";
import { localHostHash } from "../discovery/host-hash.js";
import { listIdentities } from "../protocol/agent-client.js";

/**
 * Link mode's stable path: a symlink beside the daemon's default socket, in the same private
 * directory (shell/link.sh computes the same path).
 */
export function linkPath(uid: number): string {
  return join(dirname(defaultSocketPath(uid)), "link.sock");
}

/** How long link mode waits for one agent before trying the next. */
const PROBE_MS = 1000;

/**
 * Points the link at the newest live agent of this user (the same discovery, trust checks and
 * order as the daemon), replacing it atomically. Returns the agent, or undefined when none
 * answers (the link is then left as it was).
 */
export async function refreshLink(options: { uid?: number; home?: string; tmpRoot?: string } = {}): Promise<string | undefined> {
  const uid = options.uid ?? process.getuid?.() ?? 0;
  const link = linkPath(uid);
  const discovery = new AgentDiscovery({
    uid,
    home: options.home ?? homedir(),
    tmpRoot: options.tmpRoot ?? "/tmp",
    extraDirs: [],
    hostHash: localHostHash,
  });
  await discovery.rescan();
  const ranked = rankAgents(discovery.candidates().map((candidate) => ({ candidate, health: "unknown" as const })));
  for (const { candidate } of ranked) {
    if (healthOf(await listIdentities(candidate.path, PROBE_MS)) !== "live") continue;
    await ensurePrivateDirectory(dirname(link), uid);
    const temporary = `${link}.${process.pid}`;
    await unlink(temporary).catch(() => undefined);
    await symlink(candidate.path, temporary);
    await rename(temporary, link);
    return candidate.path;
  }
  return undefined;
}
