import { join } from "node:path";
import type { StatusReport } from "../../shared/control/status.js";
import type { DaemonPaths } from "../../shared/core/location.js";
import { GPG_FORWARD } from "../../shared/discovery/forwards.js";
import { gpgAgentSocketPath, gpgPathState, scopedGpgTarget } from "../../shared/discovery/gpg-path.js";
import type { Finding } from "./doctor.js";

/**
 * The forwards beyond the agent (docs/forwards.md): whether gpg's agent socket path leads to
 * the daemon's gpg socket (or a local gpg-agent holds it), forwards whose logins all ended or
 * sleep, and a full (not restricted) gpg-agent socket forwarded. Says nothing on a host where
 * nothing is forwarded and gpg's path is not ssh-anchor's.
 */
export async function forwardFindings(paths: DaemonPaths, uid: number, report: StatusReport | undefined): Promise<Finding[]> {
  const findings: Finding[] = [];
  const forwards = report?.forwards ?? [];
  const gpg = forwards.find((forward) => forward.name === GPG_FORWARD);
  const stableGpg = join(paths.directory, "gpg.sock");
  const gpgPath = report?.gpgAgentSocket ?? (await gpgAgentSocketPath());
  const state = gpgPath ? await gpgPathState(gpgPath, uid) : undefined;
  const ours = state?.kind === "redirect" && (state.target === stableGpg || state.target === scopedGpgTarget(stableGpg));
  const gpgUsed = ours || (gpg !== undefined && gpg.upstreams.length > 0);
  if (gpgUsed && gpgPath && state) {
    if (ours) findings.push({ area: "forwards", verdict: "ok", title: `gpg's agent socket ${gpgPath} leads to the daemon's ${stableGpg}` });
    else if (state.kind === "socket" && state.live) {
      findings.push({
        area: "forwards",
        verdict: "warn",
        title: `a local gpg-agent holds ${gpgPath}: gpg uses it, not the forwarded one`,
        details: ["gpg autostarted it (or systemd's gpg-agent.socket holds the path); the daemon takes the path when a gpg forward is present"],
        fix: "gpgconf --kill gpg-agent; systemctl --user mask --now gpg-agent.socket gpg-agent.service 2>/dev/null",
      });
    } else {
      findings.push({ area: "forwards", verdict: "warn", title: `gpg's agent socket ${gpgPath} does not lead to ${stableGpg} yet`, details: [state.kind === "other" ? state.reason : state.kind], fix: "ssh-anchor rescan" });
    }
  }
  if (ours && (!gpg || gpg.upstreams.length === 0)) {
    findings.push({
      area: "forwards",
      verdict: "warn",
      title: "no login forwards gpg-agent: gpg answers \"No agent running\"",
      fix: "log in with ssh-anchor connect --gpg (or the ssh_config snippet of docs/forwards.md)",
    });
  }
  for (const forward of forwards) {
    if (forward.upstreams.length === 0) continue;
    const zombies = forward.upstreams.filter((upstream) => upstream.state === "zombie").length;
    if (forward.live === 0) {
      findings.push({
        area: "forwards",
        verdict: "warn",
        title: `forward ${forward.name}: none of its ${forward.upstreams.length} forwarded socket${forward.upstreams.length === 1 ? "" : "s"} answers (${zombies} asleep)`,
        details: forward.upstreams.map((upstream) => `${upstream.path}: ${upstream.state}, ${upstream.reason}`),
      });
    } else {
      findings.push({ area: "forwards", verdict: "ok", title: `forward ${forward.name}: ${forward.live} live login${forward.live === 1 ? "" : "s"}, served on ${forward.stable}` });
    }
    // A per-identity account (the daemon remembers scopes): a forward naming no scope reaches no
    // person's pane, only the shared socket (docs/per-identity.md).
    const unscoped = forward.upstreams.filter((upstream) => upstream.scope === null);
    if ((report?.scopes?.length ?? 0) > 0 && unscoped.length > 0) {
      findings.push({
        area: "forwards",
        verdict: "warn",
        title: `forward ${forward.name}: ${unscoped.length} forwarded socket${unscoped.length === 1 ? " names" : "s name"} no per-identity scope: no person's pane reaches ${unscoped.length === 1 ? "it" : "them"}, only the shared ${forward.stable}`,
        details: unscoped.map((upstream) => upstream.path),
        fix: "on the laptop: log in with ssh-anchor connect (it names your scope), or run ssh-anchor setup --forwards HOST again with your agent's keys loaded",
      });
    }
    const full = forward.upstreams.filter((upstream) => upstream.restricted === false);
    if (forward.name === GPG_FORWARD && full.length > 0) {
      findings.push({
        area: "forwards",
        verdict: "warn",
        title: "a login forwards gpg-agent's full socket, not its restricted extra socket",
        details: [...full.map((upstream) => upstream.path), "the full socket lets this host import, export and delete keys on the laptop"],
        fix: "forward `gpgconf --list-dirs agent-extra-socket` (connect --gpg does)",
      });
    }
  }
  return findings;
}
