import type { Command } from "commander";
import { presenceLine, type AgentReport, type StatusReport } from "../../shared/control/status.js";
import { formatDuration, paint, printJson, printLines, runCommand, type Line, type Style } from "../output.js";
import type { ScopeReport } from "../../shared/scope/report.js";
import { EXIT_NOT_RUNNING } from "../exit-status.js";
import { prose } from "../help-text.js";

/** Dead agents listed one by one, at most. */
const DEAD_LISTED = 10;

const STATE_STYLE: Record<AgentReport["state"], Style> = { live: "green", unknown: "dim", zombie: "yellow", dead: "red" };

export function registerStatusCommand(program: Command): void {
  program
    .command("status")
    .description("show the daemon, every candidate agent with its state, and where new connections go")
    .option("-s, --socket <path>", "the stable socket (default: as for start)")
    .option("--json", "print a JSON document for scripts")
    .addHelpText("after", prose(`\nExit status: 0 running, ${EXIT_NOT_RUNNING} not running.`))
    .action((flags: { socket?: string; json?: boolean }) =>
      runCommand(async () => {
        const { readStatus } = await import("../../shared/control/lifecycle.js");
        const { paths, report } = await readStatus({ socket: flags.socket });
        if (flags.json) {
          printJson(report ?? { running: false, socket: paths.socket });
        } else if (report) {
          printLines(formatStatus(report));
        } else {
          printLines([`ssh-anchor is not running on ${paths.socket}; start it with: ssh-anchor start`]);
        }
        return report ? 0 : EXIT_NOT_RUNNING;
      }),
    );
}

/** The report as lines; every value in them is sanitised when printed (printLines). */
export function formatStatus(report: StatusReport): Line[] {
  const c = report.connections;
  const lines: Line[] = [
    [paint("ssh-anchor", "bold"), ` ${report.version}: running (pid ${report.pid}, up ${formatDuration(report.uptimeSeconds)})`],
    `socket:      ${report.socket}`,
    ["route:       ", report.route ?? paint("none: clients get an empty key list until a login with agent forwarding appears", "yellow")],
    ...(report.route && report.routeReason ? [`why:         ${report.routeReason}`] : []),
    `connections: ${c.served} accepted, ${c.active} open; ${c.failovers} moved off unresponsive agents, ` +
      `${c.answeredEmpty} answered with no keys, ${c.rejected} closed as malformed` +
      // Shown only when it happened: it means the daemon's descriptor limit is too low.
      (c.shed > 0 ? `, ${c.shed} closed at once while out of file descriptors (raise ulimit -n)` : ""),
    `requests:    ${c.requests} agent request${c.requests === 1 ? "" : "s"} in them (ssh-add -l is one; a connection that only checks the socket makes none)`,
  ];
  const memory = report.memoryKiB;
  const own =
    memory.privateSource === "RssAnon"
      ? `${memory.private} KiB private (RssAnon), ${memory.rss} KiB resident with the shared node binary`
      : `${memory.rss} KiB resident (private memory unknown here)`;
  lines.push(`memory:      ${own} (JavaScript heap ${memory.heapUsed} KiB, buffers ${memory.external} KiB)`);
  if (report.logFile) lines.push(`log:         ${report.logFile}`);
  lines.push(report.agents.length ? "agents (in routing order):" : "agents:      none found");
  const sorted = [...report.agents].sort((a, b) => (a.rank ?? Infinity) - (b.rank ?? Infinity));
  // Dead ones beyond a few are counted, not listed: ended logins' sockets can number thousands
  // (--json lists every one).
  const dead = sorted.filter((agent) => agent.state === "dead");
  const shownDead = new Set(dead.slice(0, DEAD_LISTED));
  const ordered = sorted.filter((agent) => agent.state !== "dead" || shownDead.has(agent));
  for (const agent of ordered) {
    const state = paint(agent.state.padEnd(7), STATE_STYLE[agent.state]);
    const keys = agent.keys === null ? "" : `${agent.keys} key${agent.keys === 1 ? "" : "s"}; `;
    lines.push([`  ${String(agent.rank ?? "-").padStart(2)}  `, state, ` ${agent.kind.padEnd(9)} ${agent.path}`]);
    lines.push(["      ", paint(`${keys}${agent.reason}`, "dim")]);
    const presence = presenceLine(agent);
    if (presence) lines.push(["      ", paint(presence, "dim")]);
  }
  if (dead.length > DEAD_LISTED) lines.push(["      ", paint(`... and ${dead.length - DEAD_LISTED} more dead (status --json lists them)`, "dim")]);
  lines.push(...formatScopes(report.scopes));
  lines.push(...formatForwards(report));
  if (report.staleSockets && report.staleSockets.count > 0) {
    const n = report.staleSockets.count;
    lines.push(`stale:       ${n} socket${n === 1 ? "" : "s"} of this host in ${report.staleSockets.directory} refuse${n === 1 ? "s" : ""} connections (ended logins'); ssh-anchor doctor --fix removes them`);
  }
  if (report.ignored.length) {
    lines.push("ignored:");
    for (const entry of report.ignored) lines.push(`      ${entry.path}: ${entry.reason}`);
  }
  return lines;
}

/** The `forwards:` lines (gpg and named forwards, docs/forwards.md); nothing when there are none. */
function formatForwards(report: StatusReport): Line[] {
  const forwards = (report.forwards ?? []).filter((forward) => forward.upstreams.length > 0 || forward.name !== "gpg" || report.gpgAgentSocket);
  if (forwards.length === 0) return [];
  const lines: Line[] = ["forwards (each login's forwarded socket, newest live first):"];
  for (const forward of forwards) {
    lines.push(`  ${forward.name.padEnd(10)} ${forward.stable}  ${forward.live} live of ${forward.upstreams.length}`);
    for (const upstream of [...forward.upstreams].sort((a, b) => (a.rank ?? Infinity) - (b.rank ?? Infinity))) {
      const restricted = upstream.restricted === null ? "" : upstream.restricted ? ", restricted (extra) socket" : ", FULL gpg-agent socket";
      const scope = upstream.scope ? `, scope ${upstream.scope}` : "";
      lines.push(["      ", paint(upstream.state.padEnd(7), STATE_STYLE[upstream.state]), ` ${upstream.path}`, paint(` (${upstream.reason}${restricted}${scope})`, "dim")]);
    }
  }
  if (report.gpgAgentSocket) lines.push(`  gpg looks for its agent at ${report.gpgAgentSocket}`);
  return lines;
}

/** The `scopes:` lines of `ssh-anchor status` (nothing when no login asked for a scope). */
function formatScopes(scopes: readonly ScopeReport[] | undefined): string[] {
  if (!scopes || scopes.length === 0) return [];
  const lines = ["scopes (init --per-identity; an agent belongs to a scope when it offers every one of its keys):"];
  for (const scope of scopes) {
    const keys = `${scope.keys.length} key${scope.keys.length === 1 ? "" : "s"}`;
    lines.push(`  ${scope.id}  ${scope.socket ?? "not served: see the log"}`);
    lines.push(`      ${keys}: ${scope.keys.join(" ")}`);
    lines.push(`      ${scope.agents.length ? `route: ${scope.agents.join(", then ")}` : "route: none connected: an empty key list"}`);
  }
  return lines;
}
