import { basename, dirname } from "node:path";
import { readStatus } from "../../shared/control/lifecycle.js";
import type { DaemonPaths } from "../../shared/core/location.js";
import type { ScopeReport } from "../../shared/scope/report.js";
import { belongsTo, isCertificate, looksShared, widerThan } from "../../shared/scope/rule.js";
import { SCOPED_SOCKET_NAME } from "../../shared/scope/socket-path.js";
import { describeEvidence, perIdentityEvidence } from "../../shared/scope/account.js";
import { initShell } from "../../shared/core/shells.js";
import { escapeRegExp } from "../../shared/core/text.js";
import type { AgentFinding, Finding } from "./doctor.js";
import { screenSessions, tmuxServers, type Pane } from "./multiplexers.js";

/** What doctor needs to know about per-identity scopes (init --per-identity). */
export interface PerIdentityState {
  /** An rc file runs `init --per-identity`, this shell holds a scoped socket, or the daemon serves or remembers scopes. */
  readonly enabled: boolean;
  /** Why it is on, in words, for messages ("~/.bashrc line 3 runs init --per-identity"). */
  readonly reason?: string;
  readonly scopes: readonly ScopeReport[];
  /** The scoped sockets: stable paths too, for the other checks. */
  readonly sockets: readonly string[];
  /** The stable socket and link mode's link: what no pane, session or shell may hold while per-identity is on. */
  readonly shared?: readonly string[];
  readonly uid: number;
  readonly directory: string;
}

/** Whether `path` is a scoped socket beside the stable one. */
export function isScopedSocket(path: string | undefined, directory: string): boolean {
  return path !== undefined && dirname(path) === directory && SCOPED_SOCKET_NAME.test(basename(path));
}

/** Per-identity is on by the one rule (src/shared/scope/account.ts), or by what this shell and the daemon show. */
export async function perIdentityState(paths: DaemonPaths, uid: number, home: string, env: NodeJS.ProcessEnv): Promise<PerIdentityState> {
  const { report } = await readStatus({ socket: paths.socket, uid });
  const scopes = report?.scopes ?? [];
  const evidence = await perIdentityEvidence({ uid, home, env, socket: paths.socket });
  const reason = evidence
    ? describeEvidence(evidence, home)
    : isScopedSocket(env.SSH_AUTH_SOCK, paths.directory)
      ? "this shell holds a per-identity socket"
      : scopes.length > 0
        ? "the daemon serves per-identity scopes"
        : undefined;
  const sockets = scopes.map((scope) => scope.socket).filter((socket): socket is string => socket !== null);
  return { enabled: reason !== undefined, reason, scopes, sockets, shared: [paths.socket, paths.link], uid, directory: paths.directory };
}

/** A pane or window that holds the shared stable socket (or link mode's link) while per-identity is on: a failure. */
function sharedSocketPane(area: "tmux" | "screen", pane: Pane, state: PerIdentityState): Finding {
  return {
    area,
    verdict: "fail",
    title: `${pane.name} (${pane.command || `pid ${pane.pid}`}) holds the shared stable socket ${pane.socket}, and per-identity is on (${state.reason}): it reaches whoever logged in last`,
    details: [
      "doctor sees the environment the process started with; with the stable socket there, the per-identity line cannot scope it (echo $SSH_AUTH_SOCK in that pane tells)",
    ],
    fix: `${initShell("sh").exportLine("<that person's scoped socket>")}   (ssh-anchor status lists the scopes), or close it and open a new one from a per-identity login`,
  };
}

/**
 * Findings about shared accounts: a warning when the agents look like several people's and
 * per-identity is off; else which scope this shell, each live agent and each tmux pane belongs to.
 */
export async function scopeFindings(state: PerIdentityState, agents: readonly AgentFinding[], env: NodeJS.ProcessEnv, fixing: boolean): Promise<Finding[]> {
  const live = agents.filter((agent) => agent.state === "live");
  // Plain keys only, as the rule sees them: a renewed certificate is not another person.
  const plainKeys = (agent: AgentFinding) => agent.keys.filter((key) => !isCertificate(key.type)).map((key) => key.fingerprint);
  if (!state.enabled) {
    // People are told apart by their logins' agents: a local agent's keys are nobody's login.
    const logins = live.filter((agent) => agent.kind !== "local");
    if (!looksShared(logins.map(plainKeys))) return [];
    return [
      {
        area: "agents",
        verdict: "warn",
        title: "this account looks shared: live agents offer keys of different people, and every pane signs with whoever logged in last",
        details: logins.map((agent) => `${agent.path}: ${agent.keys.map((key) => key.comment || key.fingerprint).join(", ") || "no keys"}`),
        fix: `use per-identity scopes: ${initShell("bash").rcLine("init --per-identity")} in the rc file, instead of the init line (see docs/per-identity.md)`,
      },
    ];
  }
  const findings: Finding[] = [];
  const scopeOf = (keys: readonly string[]) => state.scopes.filter((scope) => belongsTo(keys, scope)).map((scope) => scope.id);
  const own = env.SSH_AUTH_SOCK;
  const mine = state.scopes.find((scope) => scope.socket === own);
  if (mine) {
    findings.push({
      area: "shell",
      verdict: "ok",
      title: `this shell is in scope ${mine.id}: ${mine.agents.length ? `it reaches ${mine.agents[0]}` : "none of its agents is connected (an empty key list)"}`,
    });
  } else if (isScopedSocket(own, state.directory)) {
    findings.push({ area: "shell", verdict: "fail", title: `SSH_AUTH_SOCK is ${own}, a scope the daemon does not serve`, fix: "ssh-anchor start   (it serves every scope it remembers)" });
  }
  findings.push({
    area: "agents",
    verdict: "info",
    title: `per-identity: ${state.scopes.length} scope${state.scopes.length === 1 ? "" : "s"}; an agent belongs to a scope when it offers every one of its keys`,
    details: [
      ...state.scopes.map((scope) => `scope ${scope.id}: ${scope.keys.length} key(s), ${scope.socket ?? "not served"}`),
      ...live.map((agent) => {
        const ids = scopeOf(plainKeys(agent));
        return `${agent.path}: ${ids.length ? `scope ${ids.join(", scope ")}` : "no scope"}`;
      }),
    ],
  });
  for (const scope of state.scopes) {
    const wider = state.scopes.filter((other) => widerThan(other, [scope]).length > 0);
    if (wider.length) {
      findings.push({
        area: "agents",
        verdict: "warn",
        title: `scope ${scope.id} holds only keys that scope ${wider.map((other) => other.id).join(", ")} also holds: agents of ${wider.length === 1 ? "that scope" : "those scopes"} serve it too`,
        details: ["harmless when both are one person's (a key added later); if not, that person must log in with a key of their own"],
      });
    }
  }
  if (fixing) {
    findings.push({ area: "tmux", verdict: "info", title: "per-identity is on: --fix leaves tmux and screen alone (the shared stable socket would reach whoever logged in last)" });
  }
  const shared = (socket: string) => (state.shared ?? []).includes(socket) || (dirname(socket) === state.directory && !isScopedSocket(socket, state.directory));
  for (const server of await tmuxServers(state.uid)) {
    for (const pane of server.panes) {
      if (!pane.socket) continue;
      const scope = state.scopes.find((candidate) => candidate.socket === pane.socket);
      if (scope) {
        findings.push({ area: "tmux", verdict: "info", title: `${pane.name} (${pane.command || `pid ${pane.pid}`}) is in scope ${scope.id}` });
      } else if (shared(pane.socket)) {
        findings.push(sharedSocketPane("tmux", pane, state));
      }
    }
  }
  for (const session of await screenSessions()) {
    for (const pane of session.panes) if (pane.socket && shared(pane.socket)) findings.push(sharedSocketPane("screen", pane, state));
  }
  return findings;
}

/**
 * With per-identity on, a fix line that points a shell or tmux at the shared stable socket would
 * hand that pane to whoever logged in last: such lines name the person's scoped socket instead.
 */
export function withoutSharedSocketFixes(findings: readonly Finding[], stableSocket: string): Finding[] {
  const shared = new RegExp(`SSH_AUTH_SOCK[= ]${escapeRegExp(stableSocket)}(?![^\\s])`);
  // POSIX syntax, as the fix lines it replaces.
  const { exportLine } = initShell("sh");
  return findings.map((finding) => {
    if (!finding.fix || !shared.test(finding.fix)) return finding;
    const fix =
      finding.area === "shell" && finding.verdict === "warn"
        ? `${exportLine('"$(ssh-anchor scope)"')}   (from a login with agent forwarding: this login's own scope)`
        : `${exportLine("<that person's scoped socket>")}   (ssh-anchor status lists the scopes; never the shared stable socket here)`;
    return { ...finding, fix };
  });
}
