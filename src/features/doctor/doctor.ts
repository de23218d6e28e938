import { readlink } from "node:fs/promises";
import { homedir, userInfo } from "node:os";
import { basename, dirname, resolve } from "node:path";
import { readStatus, startInBackground } from "../../shared/control/lifecycle.js";
import { presenceLine, type StatusReport } from "../../shared/control/status.js";
import { daemonPaths, squatOf, tmpDirectory, type DaemonPaths } from "../../shared/core/location.js";
import { currentUid, directoryRefusal, endpointState, lstatOrUndefined, octal, parentsRefusal, processName } from "../../shared/core/trust.js";
import { describeAnswer, healthOf, type AgentHealth } from "../../shared/discovery/health.js";
import { AgentDiscovery } from "../../shared/discovery/discovery.js";
import { localHostHash } from "../../shared/discovery/host-hash.js";
import type { AgentKind } from "../../shared/discovery/candidate.js";
import { fingerprint } from "../../shared/protocol/identities.js";
import { initShell, SHELL_RECORDS, shellNamed, startupFilesOf, STARTUP_FILES, type KnownShell } from "../../shared/core/shells.js";
import { readSshConfig } from "../../shared/core/ssh-config.js";
import { TIMING } from "../../shared/core/timing.js";
import { mapBounded } from "../../shared/core/bounded.js";
import { fixScreen, fixTmux, screenSessions, tmuxServers, type Pane } from "./multiplexers.js";
import { initLinesIn, tildePath, type FoundInitLine } from "../../shared/scope/account.js";
import { shellStart } from "./shell-start.js";
import { runShellKinds, type ShellRun } from "./shell-runs.js";
import { ownCommand } from "../../shared/core/package-root.js";
import { isLoginSocket, socketKind } from "./socket-kind.js";
import { listIdentities, type AgentAnswer } from "../../shared/protocol/agent-client.js";
import { perIdentityState, scopeFindings, withoutSharedSocketFixes, type PerIdentityState } from "./scopes.js";
import { forwardFindings } from "./forwards.js";
import { staleSocketFindings } from "./stale.js";
import { SSHD_TMP_ROOT } from "../../shared/discovery/layouts.js";
import { printable } from "../../shared/core/text.js";

export type Verdict = "ok" | "info" | "warn" | "fail";

/** One finding: what was looked at, what it means, and the command that fixes it. */
export interface Finding {
  readonly area: "shell" | "daemon" | "agents" | "tmux" | "screen" | "ssh_config" | "rc" | "forwards";
  readonly verdict: Verdict;
  readonly title: string;
  readonly details?: readonly string[];
  readonly fix?: string;
}

export interface AgentFinding {
  readonly path: string;
  /** Undefined for an ignored entry: refused before its kind was looked at. */
  readonly kind?: AgentKind;
  readonly state: AgentHealth | "ignored";
  readonly reason: string;
  readonly keys: ReadonlyArray<{ type: string; fingerprint: string; comment: string }>;
}

export interface DoctorReport {
  readonly ok: boolean;
  readonly socket: string;
  readonly findings: readonly Finding[];
  readonly agents: readonly AgentFinding[];
  /** What --fix did. */
  readonly repairs: readonly string[];
}

export interface DoctorOptions {
  readonly socket?: string;
  readonly fix?: boolean;
  readonly env?: NodeJS.ProcessEnv;
  readonly uid?: number;
  readonly home?: string;
  /** Where sshd makes its ssh-* session directories (the daemon's --tmp-dir). */
  readonly tmpDir?: string;
}

/**
 * Looks at everything that decides whether SSH_AUTH_SOCK works here, explains each finding in
 * plain words with the command that fixes it, and with `fix` repairs what can be repaired
 * without surprising anyone: starts the daemon, points tmux and screen at the stable socket for
 * new panes, and prints the line to paste in each pane that cannot be changed from outside.
 */
export async function runDoctor(options: DoctorOptions = {}): Promise<DoctorReport> {
  const env = options.env ?? process.env;
  const uid = options.uid ?? currentUid();
  const home = options.home ?? homedir();
  const paths = daemonPaths(options.socket, { uid, env, home });
  // Per-identity scopes (shared accounts): scoped sockets are stable paths too, and --fix must
  // not point tmux at the shared stable socket, which reaches whoever logged in last.
  const perIdentity = await perIdentityState(paths, uid, home, env);
  const stable = [paths.socket, paths.link, ...perIdentity.sockets];
  const repairs: string[] = [];
  if (options.fix && !(await readStatus({ socket: paths.socket, uid })).report) {
    await startInBackground({ socket: paths.socket, uid });
    repairs.push(`started the daemon on ${paths.socket}`);
  }
  const findings: Finding[] = [];
  const squat = squatOf(tmpDirectory(uid), uid);
  if (squat) findings.push(squatFinding(squat, paths));
  const probe = (path: string) => trustedProbe(path, uid);
  const shell = await invokingShell(env);
  const initLines = await initLinesIn(STARTUP_FILES, { home, uid });
  findings.push(
    perIdentity.enabled && env.SSH_AUTH_SOCK && perIdentity.shared?.includes(env.SSH_AUTH_SOCK)
      ? sharedShellFinding(env.SSH_AUTH_SOCK, perIdentity, shell, initLines, home)
      : await shellFinding(env.SSH_AUTH_SOCK, stable, paths.socket, probe, shell, uid),
  );
  findings.push(...(await daemonFindings(paths, uid)));
  findings.push(...(await forwardFindings(paths, uid, (await readStatus({ socket: paths.socket, uid })).report)));
  // Stale sockets first: those --fix removes are not listed among the agents after it.
  const stale = await staleSocketFindings(home, uid, options.fix ? repairs : undefined);
  const agents = await agentFindings(paths, uid, home, options.tmpDir ?? SSHD_TMP_ROOT, probe);
  findings.push(agentsSummary(agents));
  findings.push(...stale);
  // Each kind of shell started for real: whether the init line works, not only whether it is written.
  const starts = initLines.length > 0 && !perIdentity.enabled ? await startupFindings(initLines, env, uid, home, stable, options.socket) : [];
  const lineWorks = !starts.some((finding) => finding.verdict === "fail");
  findings.push(...(await multiplexerFindings(uid, home, stable, paths.socket, probe, options.fix && !perIdentity.enabled ? repairs : undefined, perIdentity, lineWorks)));
  findings.push(...(await scopeFindings(perIdentity, agents, env, Boolean(options.fix))));
  if (perIdentity.enabled) findings.splice(0, findings.length, ...withoutSharedSocketFixes(findings, paths.socket));
  findings.push(await sshConfigFinding(paths.socket, perIdentity));
  findings.push(rcFinding(initLines, perIdentity, home));
  findings.push(...starts);
  return { ok: !findings.some((f) => f.verdict === "fail"), socket: paths.socket, findings, agents, repairs };
}

/** Asks an agent for its keys, whatever its path says, only once it is provably the user's own. */
type Probe = (path: string) => Promise<AgentAnswer | { kind: "untrusted"; reason: string }>;

/**
 * Probes a socket only when it is the user's own (the trust rule of src/shared/core/trust.ts): for the
 * link of link mode, its own directory and its target. Anything else is never connected to.
 */
async function trustedProbe(path: string, uid: number): Promise<AgentAnswer | { kind: "untrusted"; reason: string }> {
  let target = path;
  if ((await lstatOrUndefined(path))?.isSymbolicLink()) {
    const linkDirectory = directoryRefusal(await lstatOrUndefined(dirname(path)), uid);
    if (linkDirectory) return { kind: "untrusted", reason: `${dirname(path)} ${linkDirectory}` };
    target = resolve(dirname(path), await readlink(path).catch(() => path));
  }
  const state = await endpointState(target, uid);
  if (state === "missing") return { kind: "unreachable", reason: "nothing is there" };
  if (state !== "ours") return { kind: "untrusted", reason: state };
  return listIdentities(target, TIMING.doctorProbeMs);
}

/** The default directory is someone else's: name them, say where ssh-anchor went instead. */
function squatFinding(squat: string, paths: DaemonPaths): Finding {
  return {
    area: "daemon",
    verdict: "fail",
    title: `${squat}: someone may be trying to intercept your agent`,
    details: [`ssh-anchor never uses or looks into it: the stable socket is ${paths.socket}`],
    fix: "ask an administrator to remove it and find out who made it; nothing of yours is in it",
  };
}

/**
 * The shell doctor was typed into, so that the line to paste is in its syntax: the parent
 * process (the launcher execs Node, so that is the shell), else $SHELL, else the POSIX form,
 * which most shells take.
 */
async function invokingShell(env: NodeJS.ProcessEnv): Promise<KnownShell> {
  const parent = (await processName(process.ppid))?.replace(/^-/, "");
  return (parent && shellNamed(parent)) || (env.SHELL && shellNamed(basename(env.SHELL))) || initShell("sh");
}

/**
 * This shell holds the shared stable socket (or link mode's link) on a per-identity account: it
 * signs with whoever logged in last. The fix is the rc line: the per-identity line alone.
 */
function sharedShellFinding(value: string, state: PerIdentityState, shell: KnownShell, lines: readonly FoundInitLine[], home: string): Finding {
  const unscoped = lines.find((line) => line.form === "init" || line.form === "init --link");
  const rcFix = unscoped
    ? `delete the ${unscoped.form} line, ${tildePath(unscoped.file, home)} line ${unscoped.line}, and keep only ${shell.rcLine("init --per-identity")}`
    : `put ${shell.rcLine("init --per-identity")} in ~/${shell.rcFile}, in place of any other init line`;
  return {
    area: "shell",
    verdict: "fail",
    title: `SSH_AUTH_SOCK is the shared stable socket ${value}, and per-identity is on (${state.reason}): this shell signs with whoever logged in last`,
    fix: `${rcFix}; then log in again (each login gets its own person's socket)`,
  };
}

async function shellFinding(value: string | undefined, stable: readonly string[], socket: string, probe: Probe, shell: KnownShell, uid: number): Promise<Finding> {
  const kind = socketKind(value, stable);
  const use = shell.exportLine(socket);
  if (kind === "unset") {
    return { area: "shell", verdict: "fail", title: "SSH_AUTH_SOCK is not set in this shell: ssh cannot reach any agent", fix: use };
  }
  const answer = await probe(value as string);
  if (answer.kind === "untrusted") {
    return { area: "shell", verdict: "fail", title: `SSH_AUTH_SOCK points at ${value}, which is not yours: ${answer.reason}`, fix: use };
  }
  const health = healthOf(answer);
  if (kind === "stable") {
    return health === "live"
      ? { area: "shell", verdict: "ok", title: `SSH_AUTH_SOCK is the stable socket ${value}` }
      : { area: "shell", verdict: "fail", title: `SSH_AUTH_SOCK is the stable socket ${value}, but nothing answers there`, fix: "ssh-anchor start" };
  }
  if (health !== "live") {
    return {
      area: "shell",
      verdict: "fail",
      title: `SSH_AUTH_SOCK points at ${value}, which is ${health === "zombie" ? "not answering (its login's laptop is asleep or gone)" : "gone"}`,
      details: [
        kind === "forwarded" && (await isLoginSocket(value as string, uid))
          ? "this is the failure ssh-anchor exists for: the login that made this socket has ended"
          : "the agent that made this socket is no longer there",
      ],
      fix: use,
    };
  }
  return kind === "forwarded" && (await isLoginSocket(value as string, uid))
    ? {
        area: "shell",
        verdict: "warn",
        title: `SSH_AUTH_SOCK is this login's own forwarded socket ${value}: it works now, and stops when this login ends`,
        fix: `${use}   (and add the init line to your shell rc: ssh-anchor setup)`,
      }
    : { area: "shell", verdict: "info", title: `SSH_AUTH_SOCK is ${value}, an agent that is not a login's forwarded one (a local agent?)` };
}

async function daemonFindings(paths: DaemonPaths, uid: number): Promise<Finding[]> {
  const { report } = await readStatus({ socket: paths.socket, uid });
  if (!report) {
    // Where start would refuse the directory (ensurePrivateDirectory), "ssh-anchor start" is no fix.
    const above = await parentsRefusal(paths.directory, uid, { missingPasses: true });
    if (above) {
      return [
        {
          area: "daemon",
          verdict: "fail",
          title: `the daemon is not running on ${paths.socket}, and cannot start there: ${above}, so someone else could swap its directory`,
          fix: "make that directory writable by you alone (chmod go-w), or give the daemon another --socket",
        },
      ];
    }
    return [{ area: "daemon", verdict: "fail", title: `the daemon is not running on ${paths.socket}`, fix: "ssh-anchor start" }];
  }
  const findings: Finding[] = [{ area: "daemon", verdict: "ok", title: `the daemon is running (pid ${report.pid}) on ${paths.socket}` }];
  const problems: string[] = [];
  const state = await endpointState(paths.socket, uid);
  if (state !== "ours") problems.push(state);
  const socket = await lstatOrUndefined(paths.socket);
  if (socket && (socket.mode & 0o077) !== 0) problems.push(`the socket's mode is ${octal(socket.mode)}, not 0600`);
  findings.push(
    problems.length
      ? { area: "daemon", verdict: "fail", title: "the stable socket is not private", details: problems, fix: `ssh-anchor stop; rm -rf ${paths.directory}; ssh-anchor start` }
      : { area: "daemon", verdict: "ok", title: `socket 0600 in a 0700 directory, both owned by uid ${uid}` },
  );
  findings.push(routeFinding(report));
  return findings;
}

/** Where a request through the stable socket goes now and why, with each live agent's login,
 * terminal and last input (the daemon's own view: its ranking, docs/how-it-works.md). */
function routeFinding(report: StatusReport): Finding {
  const live = [...report.agents].filter((agent) => agent.rank !== null).sort((a, b) => (a.rank ?? 0) - (b.rank ?? 0));
  const details = live.map((agent) => `${String(agent.rank).padStart(2)}. ${agent.state.padEnd(7)} ${agent.path}: ${presenceLine(agent) ?? "login not reported by this daemon"}`);
  if (!report.route) return { area: "daemon", verdict: "info", title: "a request now would get an empty key list: no usable agent", details };
  const why = report.routeReason ? `: ${report.routeReason}` : "";
  return { area: "daemon", verdict: "info", title: `a request now would reach ${report.route}${why}`, details };
}

/** Agents probed at once: thousands of dead logins' sockets must not cost thousands of descriptors. */
const PROBES_AT_ONCE = 16;

/**
 * Every candidate with its state and keys, found here by the daemon's own rules in the same
 * places (sshd's session directories under `tmpRoot`, ~/.ssh/agent), and probed by doctor itself.
 */
async function agentFindings(paths: DaemonPaths, uid: number, home: string, tmpRoot: string, probe: Probe): Promise<AgentFinding[]> {
  const discovery = new AgentDiscovery({ uid, home, tmpRoot, extraDirs: [], hostHash: localHostHash, ownSocket: { path: paths.socket, dev: -1, ino: -1 } });
  await discovery.rescan();
  const found = await mapBounded(discovery.candidates(), PROBES_AT_ONCE, async (candidate): Promise<AgentFinding> => {
    const checked = await probe(candidate.path);
    const answer: AgentAnswer = checked.kind === "untrusted" ? { kind: "unreachable", reason: checked.reason } : checked;
    return {
      path: candidate.path,
      kind: candidate.kind,
      state: healthOf(answer),
      reason: describeAnswer(answer),
      keys:
        answer.kind === "answered"
          ? // A comment is whatever the key file said (ssh-add keeps it): made printable where it
            // enters, and again by every printer at the output boundary (src/cli/output.ts).
            answer.identities.map((id) => ({ type: printable(id.keyType), fingerprint: fingerprint(id.blob), comment: printable(id.comment) }))
          : [],
    };
  });
  const ignored = discovery.ignored().map((entry) => ({ path: entry.path, state: "ignored" as const, reason: entry.reason, keys: [] }));
  return [...found.filter((finding) => finding !== undefined).sort((a, b) => a.path.localeCompare(b.path)), ...ignored];
}

/** Dead agents listed one by one in the agents finding, at most. */
const DEAD_AGENTS_LISTED = 10;

function agentsSummary(agents: readonly AgentFinding[]): Finding {
  const live = agents.filter((a) => a.state === "live");
  // Dead ones beyond a few are counted, not listed: thousands of ended logins' sockets can pile
  // up (see the stale-socket finding); the JSON report's agents list has every one.
  const dead = agents.filter((a) => a.state === "dead");
  const shownDead = new Set(dead.slice(0, DEAD_AGENTS_LISTED));
  const details = agents.flatMap((agent) =>
    agent.state === "dead" && !shownDead.has(agent)
      ? []
      : [`${agent.state.padEnd(7)} ${(agent.kind ?? "").padEnd(9)} ${agent.path}: ${agent.reason}`, ...agent.keys.map((key) => `        ${key.fingerprint} ${key.comment} (${key.type})`)],
  );
  if (dead.length > shownDead.size) details.push(`... and ${dead.length - shownDead.size} more dead (sockets that refuse connections or answer nonsense)`);
  if (live.length === 0) {
    return {
      area: "agents",
      verdict: "fail",
      title: "no live agent found",
      details,
      fix: "log in with agent forwarding (ssh -A, or ForwardAgent yes), after checking that ssh-add -l lists your keys on your laptop",
    };
  }
  return { area: "agents", verdict: "ok", title: `${live.length} live agent${live.length === 1 ? "" : "s"} found`, details };
}

async function multiplexerFindings(
  uid: number,
  home: string,
  stable: readonly string[],
  socket: string,
  probe: Probe,
  repairs: string[] | undefined,
  perIdentity: PerIdentityState,
  lineWorks = true,
): Promise<Finding[]> {
  const findings: Finding[] = [];
  // With per-identity on, an environment that hands new panes the shared socket is a failure.
  const shared = (value: string | undefined) => perIdentity.enabled && value !== undefined && (perIdentity.shared ?? []).includes(value);
  for (const server of await tmuxServers(uid)) {
    // gpg's redirect reads SSH_ANCHOR_SCOPE_PREFIX: in the global environment it is the server
    // starter's, and a session made without connect or a shell would carry it (red team F2).
    if (perIdentity.enabled && server.globalPrefix) {
      findings.push({
        area: "tmux",
        verdict: "warn",
        title: `tmux server ${server.socket}: its global environment holds SSH_ANCHOR_SCOPE_PREFIX=${printable(server.globalPrefix)} (whoever started it), which a new session's commands would use for gpg`,
        fix: `tmux -S ${server.socket} set-environment -gu SSH_ANCHOR_SCOPE_PREFIX   (any shell of the per-identity line inside that server does it too)`,
      });
    }
    const envs = [server.global, ...server.sessions.values()];
    const held = [...(shared(server.global) ? ["global"] : []), ...[...server.sessions].filter(([, value]) => shared(value)).map(([name]) => name)];
    if (held.length > 0) {
      const id = (session: string) => server.sessionIds.get(session) ?? session;
      findings.push({
        area: "tmux",
        verdict: "fail",
        title: `tmux server ${server.socket}: ${held.map((where) => (where === "global" ? "its global environment" : `session ${where}`)).join(", ")} hand${held.length === 1 && held[0] !== "global" ? "s" : ""} new panes the shared stable socket, and per-identity is on (${perIdentity.reason}): they reach whoever logged in last`,
        details: [...server.sessions].map(([session, value]) => `session ${session}: ${describeValue(value)}`),
        fix: held
          .map((where) =>
            where === "global"
              ? `tmux -S ${server.socket} set-environment -g -u SSH_AUTH_SOCK`
              : `tmux -S ${server.socket} set-environment -t '${id(where)}' SSH_AUTH_SOCK <that person's scoped socket>`,
          )
          .join("; ")
          .concat("   (ssh-anchor status lists the scopes; --fix does not guess whose a session is)"),
      });
      findings.push(...(await paneFindings("tmux", server.panes, uid, home, stable, socket, probe, lineWorks)));
      continue;
    }
    const bad = envs.some((value) => socketKind(value, stable) !== "stable");
    // After --fix, what tmux holds now (not the value it had before the repair).
    const fixed = bad && repairs !== undefined && (await fixTmux(server, socket));
    if (fixed) repairs.push(`tmux ${server.socket}: new panes now get SSH_AUTH_SOCK=${socket}`);
    const now = (value: string | undefined) => describeValue(fixed ? socket : value);
    findings.push({
      area: "tmux",
      verdict: bad && !fixed ? "warn" : "ok",
      title: `tmux server ${server.socket}: new panes get ${now(server.global)}`,
      details: [...server.sessions].map(([session, value]) => `session ${session}: ${now(value)}`),
      fix: bad && !fixed ? `tmux -S ${server.socket} set-environment -g SSH_AUTH_SOCK ${socket}   (or: ssh-anchor doctor --fix)` : undefined,
    });
    findings.push(...(await paneFindings("tmux", server.panes, uid, home, stable, socket, probe, lineWorks)));
  }
  for (const session of await screenSessions()) {
    const panes = await paneFindings("screen", session.panes, uid, home, stable, socket, probe, lineWorks);
    if (repairs && panes.length > 0 && (await fixScreen(session, socket))) {
      repairs.push(`screen ${session.name}: new windows now get SSH_AUTH_SOCK=${socket}`);
    }
    findings.push(
      shared(session.socket ?? undefined)
        ? {
            area: "screen",
            verdict: "fail",
            title: `screen session ${session.name}: new windows get the shared stable socket ${session.socket}, and per-identity is on (${perIdentity.reason}): they reach whoever logged in last`,
            fix: `screen -S ${session.name} -X setenv SSH_AUTH_SOCK <that person's scoped socket>   (ssh-anchor status lists the scopes), or: screen -S ${session.name} -X unsetenv SSH_AUTH_SOCK`,
          }
        : { area: "screen", verdict: "info", title: `screen session ${session.name}: ${session.panes.length} window(s)` },
      ...panes,
    );
  }
  return findings;
}

/**
 * Panes whose process started with a socket that is dead, or that will die with its login.
 * /proc/PID/environ shows only what a process started with: a shell whose start-up file runs
 * the init line re-pointed itself then, and doctor says so instead of failing it; a shell
 * without the line, or any other program (an editor, a long job), really holds that socket.
 */
async function paneFindings(area: "tmux" | "screen", panes: readonly Pane[], uid: number, home: string, stable: readonly string[], socket: string, probe: Probe, lineWorks: boolean): Promise<Finding[]> {
  const findings: Finding[] = [];
  for (const pane of panes) {
    const kind = socketKind(pane.socket ?? undefined, stable);
    if (pane.socket === null || kind === "stable" || kind === "other" || kind === "unset") continue;
    const answer = await probe(pane.socket as string);
    const health = answer.kind === "untrusted" ? "dead" : healthOf(answer);
    // A local agent (eval $(ssh-agent)) the pane was started with: the person's own choice.
    if (health === "live" && !(await isLoginSocket(pane.socket as string, uid))) continue;
    const what = health === "live" ? "its login's forwarded socket" : "a dead socket";
    const who = `${pane.name} (${pane.command || "pid " + pane.pid})`;
    const start = await shellStart(pane.pid, pane.command, home);
    if (start.kind === "ran-init" && lineWorks) {
      findings.push({
        area,
        verdict: "info",
        title: `${who} started with ${what} ${pane.socket}; ${start.file} has the init line, which re-points a shell at start-up when it runs (the rc lines below say whether it does for each kind of shell)`,
        details: [
          "doctor sees only a process's start-up environment, not what its shell exported since; whether the line ran in that pane is known there only: echo $SSH_AUTH_SOCK",
        ],
      });
      continue;
    }
    // POSIX syntax for a shell doctor does not know (it cannot tell what the user would paste into).
    const paste = (shellNamed(pane.command) ?? initShell("sh")).exportLine(socket);
    const why =
      start.kind === "not-a-shell"
        ? `${pane.command || "this program"} is not a shell: it keeps the environment it started with, and so does everything it starts; restart it from a shell that uses the stable socket`
        : start.kind === "non-interactive"
          ? `this ${pane.command} runs a command or a script, which reads no start-up file: it keeps the environment it started with, and so does everything it starts; restart it from a shell that uses the stable socket`
        : start.kind === "ran-init"
          ? `${start.file} has the init line, but a shell started now does not get the stable socket from it (the rc lines below say which kinds and why): this one most likely still holds that socket (echo $SSH_AUTH_SOCK there tells); paste the fix line into that pane`
        : start.kind === "changed-since"
          ? `${start.file} runs the init line now but changed after this shell started: unless it had the line then, the shell still holds that socket (echo $SSH_AUTH_SOCK there tells); paste the fix line into that pane`
          : `this shell's start-up files${start.files.length ? ` (${start.files.join(", ")})` : ""} do not run the init line (ssh-anchor setup adds it); a running shell's environment cannot be changed from outside: paste the fix line into that pane`;
    findings.push({
      area,
      verdict: health === "live" ? "warn" : "fail",
      title: `${who} holds ${what} ${pane.socket}`,
      details: [why],
      fix: start.kind === "not-a-shell" || start.kind === "non-interactive" ? `restart it from a shell where SSH_AUTH_SOCK=${socket}` : paste,
    });
  }
  return findings;
}

function describeValue(value: string | undefined): string {
  return value === undefined ? "no SSH_AUTH_SOCK" : `SSH_AUTH_SOCK=${value}`;
}

async function sshConfigFinding(socket: string, perIdentity: PerIdentityState): Promise<Finding> {
  // Any name does: what matters is the IdentityAgent that applies to hosts in general.
  const read = await readSshConfig([], "doctor.invalid", TIMING.doctorProgramMs);
  const agent = read.kind === "read" ? read.settings.get("identityagent") : undefined;
  if (!agent) return { area: "ssh_config", verdict: "info", title: "ssh_config sets no IdentityAgent: ssh uses SSH_AUTH_SOCK" };
  const expanded = agent.replace(/^~/, homedir());
  if (perIdentity.enabled && (perIdentity.shared ?? []).includes(expanded)) {
    return {
      area: "ssh_config",
      verdict: "fail",
      title: `ssh_config: IdentityAgent ${agent}, the shared stable socket, and per-identity is on (${perIdentity.reason}): every ssh signs with whoever logged in last`,
      fix: "remove the ssh-anchor block from ~/.ssh/config (the lines between # >>> ssh-anchor >>> and # <<< ssh-anchor <<<)",
    };
  }
  return expanded === socket || /ssh-anchor/.test(agent)
    ? { area: "ssh_config", verdict: "ok", title: `ssh_config: IdentityAgent ${agent}` }
    : {
        area: "ssh_config",
        verdict: agent === "SSH_AUTH_SOCK" || agent === "none" ? "info" : "warn",
        title: `ssh_config: IdentityAgent ${agent} overrides SSH_AUTH_SOCK for ssh`,
        fix: `in ~/.ssh/config: IdentityAgent ${socket}`,
      };
}

/** The shell whose start-up file this is (its rc file first: ~/.profile is sh's), for a line in its syntax. */
function shellOfFile(relative: string): KnownShell {
  return SHELL_RECORDS.find((record) => record.rcFile === relative) ?? SHELL_RECORDS.find((record) => startupFilesOf(record).includes(relative)) ?? initShell("sh");
}

/**
 * The init lines of the start-up files. With per-identity on, every plain or link line fails:
 * after the per-identity line it wins (the last one run does), before it the per-identity line
 * finds the stable socket instead of the login's own and cannot scope it; in another shell's file
 * that shell's logins get the stable socket. Either way a shell reaches whoever logged in last.
 */
function rcFinding(lines: readonly FoundInitLine[], perIdentity: PerIdentityState, home: string): Finding {
  const where = (line: FoundInitLine) => `${tildePath(line.file, home)} line ${line.line}`;
  const files = [...new Set(lines.map((line) => tildePath(line.file, home)))];
  if (lines.length === 0) {
    return { area: "rc", verdict: "warn", title: "no shell rc file runs ssh-anchor init: new logins will not use the stable socket", fix: perIdentity.enabled ? "ssh-anchor setup --per-identity" : "ssh-anchor setup" };
  }
  if (!perIdentity.enabled) return { area: "rc", verdict: "ok", title: `the init line is in ${files.join(", ")} (whether each kind of shell runs it: below)` };
  const unscoped = lines.filter((line) => line.form === "init" || line.form === "init --link");
  if (unscoped.length === 0) {
    const unknown = lines.filter((line) => line.form === undefined);
    return unknown.length
      ? {
          area: "rc",
          verdict: "warn",
          title: `per-identity is on (${perIdentity.reason}), and ${unknown.map(where).join(", ")} sources a saved init script doctor cannot read: if it is not the per-identity one, its shells get the stable socket`,
          fix: `ssh-anchor init --per-identity <shell> > that file`,
        }
      : { area: "rc", verdict: "ok", title: `the per-identity init line is in ${files.join(", ")}` };
  }
  const scoped = lines.filter((line) => line.form === "init --per-identity");
  const why = (line: FoundInitLine): string => {
    const before = scoped.find((other) => other.file === line.file && other.line < line.line);
    const after = scoped.find((other) => other.file === line.file && other.line > line.line);
    if (before) return `${where(line)} runs ${line.form} after line ${before.line}'s init --per-identity: the last one run wins`;
    if (after) return `${where(line)} runs ${line.form} before line ${after.line}'s init --per-identity, which then finds the stable socket instead of the login's own and cannot scope it`;
    return `${where(line)} runs ${line.form}`;
  };
  return {
    area: "rc",
    verdict: "fail",
    title: `per-identity is on (${perIdentity.reason}), but ${unscoped.map(why).join("; ")}: new shells get the shared stable socket, which reaches whoever logged in last`,
    fix: unscoped
      .map((line) => `in ${where(line)}: ${scoped.some((other) => other.file === line.file) ? "delete that line" : `put ${shellOfFile(tildePath(line.file, home).replace(/^~\//, "")).rcLine("init --per-identity")} in its place`}`)
      .join("; "),
  };
}

/** The user's login shell: the account's (passwd), else $SHELL. */
function loginShell(env: NodeJS.ProcessEnv, uid: number): string | undefined {
  let account: string | undefined;
  try {
    const info = userInfo();
    if (info.uid === uid && info.shell) account = info.shell;
  } catch {
    account = undefined;
  }
  return account ?? env.SHELL;
}

/**
 * Every kind of shell the user gets (login, interactive, a command over ssh), started for real
 * under the user's start-up files with sshd's bare PATH: does it end up at the stable socket? A
 * line in a file is not proof (it may run a command that is not on PATH yet, or sit after the
 * `return` of Debian's ~/.bashrc for a shell that is not interactive).
 */
async function startupFindings(lines: readonly FoundInitLine[], env: NodeJS.ProcessEnv, uid: number, home: string, stable: readonly string[], socket: string | undefined): Promise<Finding[]> {
  const program = loginShell(env, uid);
  const shell = program ? shellNamed(basename(program)) : undefined;
  if (!program || !shell) {
    return [{ area: "rc", verdict: "info", title: `your login shell (${program ?? "unknown"}) is not one doctor can start to check (bash, zsh, sh, fish)` }];
  }
  const runs = await runShellKinds(program, shell, { home, user: userName(uid), stable, socketOverride: socket ?? env.SSH_ANCHOR_SOCKET });
  const own = lines.filter((line) => startupFilesOf(shell).includes(tildePath(line.file, home).replace(/^~\//, "")));
  const line = own[0];
  const written = shell.rcLine(line?.form ?? "init", ownCommand(), home);
  const interactiveOk = runs.filter((run) => run.kind.needed && !run.kind.env).every((run) => run.stable);
  return runs.map((run) => startupFinding(run, shell, line, written, interactiveOk, home));
}

function userName(uid: number): string | undefined {
  try {
    const info = userInfo();
    return info.uid === uid ? info.username : undefined;
  } catch {
    return undefined;
  }
}

function startupFinding(run: ShellRun, shell: KnownShell, line: FoundInitLine | undefined, written: string, interactiveOk: boolean, home: string): Finding {
  const { kind } = run;
  if (run.stable) return { area: "rc", verdict: "ok", title: `${kind.what} gets the stable socket (${kind.shown}, sshd's PATH)` };
  if (kind.cannot) return { area: "rc", verdict: "info", title: `${kind.what}: ${kind.cannot}` };
  const where = line ? `${tildePath(line.file, home)} line ${line.line}` : undefined;
  const fix = !line
    ? `ssh-anchor setup --shell ${shell.name}   (no start-up file ${shell.name} reads runs the init line)`
    : interactiveOk && kind.env
      ? `move the init line (${where}) to the top of ~/${shell.rcFile}, before its early return for shells that are not interactive (ssh-anchor setup --undo, then ssh-anchor setup, does it)`
      : `in ${where}: ${written}${shell.rcAt === "start" && line.line > 1 ? `, moved to the top of ~/${shell.rcFile} (before its early return for shells that are not interactive)` : ""}   (ssh-anchor by its absolute path; ssh-anchor setup writes it so, and replaces an older line of its own)`;
  const got = run.socket === undefined ? "no SSH_AUTH_SOCK it printed" : run.socket.startsWith("/nonexistent/ssh-anchor-doctor/") ? "the login's own socket still (the init line did not run, or failed)" : `SSH_AUTH_SOCK=${run.socket}`;
  return {
    area: "rc",
    verdict: kind.needed ? "fail" : "warn",
    title: `${kind.what} does not get the stable socket: ${kind.shown} with your start-up files and sshd's PATH ends with ${got}`,
    details: run.said ? [`it said: ${run.said}`] : undefined,
    fix,
  };
}
