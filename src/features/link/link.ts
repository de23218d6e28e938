import { rm, symlink } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname } from "node:path";
import { daemonPaths } from "../../shared/core/location.js";
import { ensurePrivateDirectory } from "../../shared/core/private-dir.js";
import { TIMING } from "../../shared/core/timing.js";
import { currentUid, directoryRefusal, endpointState, lstatOrUndefined, replaceEntry, replaceOwnFile } from "../../shared/core/trust.js";
import { healthOf, rankAgents } from "../../shared/discovery/health.js";
import { AgentDiscovery } from "../../shared/discovery/discovery.js";
import { localHostHash } from "../../shared/discovery/host-hash.js";
import { listIdentities } from "../../shared/protocol/agent-client.js";
import { SSHD_TMP_ROOT } from "../../shared/discovery/layouts.js";

/**
 * Link mode's stable path: a symlink in the same private directory as the daemon's socket
 * (the default, or its fallback when the default is squatted; shell/link.sh computes the same).
 */
export function linkPath(uid: number = currentUid(), env: NodeJS.ProcessEnv = process.env): string {
  return daemonPaths(undefined, { uid, env }).link;
}

/**
 * Points the link at the newest live agent of this user (the same discovery, trust checks and
 * order as the daemon), replacing it atomically. Returns the agent, or undefined when none
 * answers: the link is then removed, so that it leads nowhere. A link left as it was would lead
 * to whatever is at its old target's path now, and after a login has ended that name in /tmp
 * is anyone's to re-create, with a listening socket of their own.
 */
export async function refreshLink(options: { uid?: number; home?: string; tmpRoot?: string } = {}): Promise<string | undefined> {
  const uid = options.uid ?? currentUid();
  const paths = daemonPaths(undefined, { uid, home: options.home });
  const discovery = new AgentDiscovery({
    uid,
    home: options.home ?? homedir(),
    tmpRoot: options.tmpRoot ?? SSHD_TMP_ROOT,
    extraDirs: [],
    hostHash: localHostHash,
  });
  await discovery.rescan();
  const ranked = rankAgents(discovery.candidates().map((candidate) => ({ candidate, health: "unknown" as const })));
  for (const { candidate } of ranked) {
    // Checked again just before connecting: the scan may be older than a login's end.
    if ((await endpointState(candidate.path, uid)) !== "ours") continue;
    if (healthOf(await listIdentities(candidate.path, TIMING.linkProbeMs)) !== "live") continue;
    await ensurePrivateDirectory(paths.directory, uid, { createParent: paths.inHome });
    // The target beside the link first: the shell's check reads it (it cannot read a link
    // without a fork) and trusts the link only while that target is a socket of the user's own.
    await replaceOwnFile(`${paths.link}.target`, `${candidate.path}\n`);
    await replaceEntry(paths.link, (temporary) => symlink(candidate.path, temporary));
    return candidate.path;
  }
  await removeLink(paths.link, uid);
  return undefined;
}

/** Removes the link and its target note, only from a directory of the user's own. */
async function removeLink(link: string, uid: number): Promise<void> {
  if (directoryRefusal(await lstatOrUndefined(dirname(link)), uid)) return;
  await rm(link, { force: true });
  await rm(`${link}.target`, { force: true });
}
