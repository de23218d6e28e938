import { printable } from "../core/text.js";
import type { AgentKind } from "../discovery/candidate.js";
import { ago, type AgentHealth } from "../discovery/health.js";
import { parseFingerprints, parseScopeReports, type ScopeReport } from "../scope/report.js";
import { SCOPE_ID } from "../scope/rule.js";

/** More entries than this in one list of a status answer is not one of ours (agents come in
 * tens; discovery keeps at most 64 ignored sockets). */
const MAX_LIST_ITEMS = 10_000;
/** A longer text field is cut when shown: paths are at most 107 bytes, reasons one line. */
const MAX_TEXT_CHARS = 4096;

/** The daemon's connection counters, as `status` shows them. */
export interface Counters {
  served: number;
  /** Requests clients sent, over all connections. */
  requests: number;
  active: number;
  /** Connections moved to another agent because theirs did not answer. */
  failovers: number;
  /** Connections answered as an empty agent because no agent could. */
  answeredEmpty: number;
  /** Connections closed for malformed input from the client or the agent. */
  rejected: number;
  /** Connections closed at once because the daemon was out of file descriptors. */
  shed: number;
  /** The most dead candidates (sockets that refused) one request connected to in turn before it
   * was routed: at most LIMITS.deadTriedPerRequest (the rest are checked a batch at a time). */
  deadTriedMax?: number;
  /** Sockets found refusing connections by the daemon's checks, without a request waiting on
   * each (dead logins' sockets). */
  staleRefused?: number;
}

/** What `ssh-anchor status --json` prints for a running daemon. */
export interface StatusReport {
  readonly running: true;
  readonly version: string;
  readonly pid: number;
  readonly socket: string;
  readonly logFile: string | null;
  readonly startedAt: string;
  readonly uptimeSeconds: number;
  /** The agent new connections go to first, or null when they get the empty-agent answer. */
  readonly route: string | null;
  /** Why requests go there now, in one line (absent from daemons that predate it). */
  readonly routeReason?: string;
  readonly connections: Counters;
  /**
   * The daemon's own memory, in KiB: private (RssAnon from /proc/self/status, what it costs;
   * resident where there is no /proc, as `privateSource` says), resident (rss, which includes the
   * node binary's pages shared with other processes), JavaScript heap in use, and buffers.
   */
  readonly memoryKiB: {
    readonly private: number;
    readonly privateSource: "RssAnon" | "rss";
    readonly rss: number;
    readonly heapUsed: number;
    readonly external: number;
  };
  readonly agents: readonly AgentReport[];
  readonly ignored: readonly { readonly path: string; readonly reason: string }[];
  /** This host's sockets in ~/.ssh/agent that refuse connections (dead logins', OpenSSH >= 10.1):
   * `ssh-anchor doctor --fix` removes them. Absent from daemons that predate it. */
  readonly staleSockets?: { readonly count: number; readonly directory: string };
  /** Per-identity scopes (init --per-identity); absent from daemons that predate them. */
  readonly scopes?: readonly ScopeReport[];
  /** Forwarded sockets beyond the agent (gpg, named forwards); absent from daemons that predate them. */
  readonly forwards?: readonly ForwardReport[];
  /** Where gpg looks for its agent (`gpgconf --list-dirs agent-socket`), null without gpgconf. */
  readonly gpgAgentSocket?: string | null;
}

/** One forward name: its stable socket and its logins' forwarded sockets. */
export interface ForwardReport {
  readonly name: string;
  /** The stable socket clients use (`ssh-anchor forward-path NAME`). */
  readonly stable: string;
  /** Upstreams that are not known to be zombies or dead. */
  readonly live: number;
  readonly upstreams: readonly ForwardUpstreamReport[];
}

export interface ForwardUpstreamReport {
  readonly path: string;
  readonly state: AgentHealth;
  readonly reason: string;
  readonly createdAt: string;
  readonly rank: number | null;
  /** The agent socket of the same login (its sshd holds both), null when not found. */
  readonly login: string | null;
  /** gpg: whether it is gpg-agent's restricted (extra) socket; null when not known. */
  readonly restricted: boolean | null;
  /** The per-identity scope its token names (docs/per-identity.md); null: unscoped. Absent from older daemons. */
  readonly scope?: string | null;
}

export interface AgentReport {
  readonly path: string;
  readonly kind: AgentKind;
  readonly state: AgentHealth;
  readonly reason: string;
  readonly keys: number | null;
  /** Fingerprints of its plain keys (certificates left out) at its last answered probe: which
   * scopes it belongs to. Sent only by a daemon that serves scopes. */
  readonly fingerprints?: readonly string[] | null;
  readonly createdAt: string;
  /** Position in the routing order (1 = first), null for dead agents. */
  readonly rank: number | null;
  /** Its login: the user's sshd process that made it (null: not found; absent from older daemons). */
  readonly login?: number | null;
  /** The terminal that login holds (/dev/pts/N), null when none was found. */
  readonly terminal?: string | null;
  /** When that terminal last had keyboard input (what `w` shows as IDLE), null without one. */
  readonly lastInputAt?: string | null;
}

/**
 * An agent's login, terminal and last input in words, for status and doctor; undefined for a
 * report from a daemon that predates them.
 * @example presenceLine({ ...agent, login: 4242, terminal: "/dev/pts/3", lastInputAt }) // -> "login: sshd 4242, terminal /dev/pts/3, last input 12 s ago"
 */
export function presenceLine(agent: AgentReport, now = Date.now()): string | undefined {
  if (agent.login === undefined) return undefined;
  if (agent.login === null) return "login: not found (ranked by when its socket appeared)";
  if (!agent.terminal) return `login: sshd ${agent.login}, no terminal (ranked by its start)`;
  const input = agent.lastInputAt ? Date.parse(agent.lastInputAt) : Number.NaN;
  return `login: sshd ${agent.login}, terminal ${agent.terminal}, ${Number.isNaN(input) ? "no input seen" : `last input ${ago(now - input)} ago`}`;
}

/** A status answer that is not the daemon's own shape. */
export class MalformedStatus extends Error {}

/**
 * Checks an answer read back from a control socket against the report's shape, field by field,
 * and makes every string safe to print (no control characters, bounded length): what comes back
 * over a socket is validated before it is believed or shown.
 * @throws {MalformedStatus} naming the first field that is wrong.
 */
export function parseStatusReport(value: unknown): StatusReport {
  const report = record(value, "report");
  if (report.running !== true) throw new MalformedStatus("report.running is not true");
  const connections = record(report.connections, "connections");
  const memory = record(report.memoryKiB, "memoryKiB");
  const counter = (name: keyof Counters) => count(connections[name], `connections.${name}`);
  return {
    running: true,
    version: text(report.version, "version"),
    pid: count(report.pid, "pid"),
    socket: text(report.socket, "socket"),
    logFile: report.logFile === null ? null : text(report.logFile, "logFile"),
    startedAt: text(report.startedAt, "startedAt"),
    uptimeSeconds: count(report.uptimeSeconds, "uptimeSeconds"),
    route: report.route === null ? null : text(report.route, "route"),
    ...optional("routeReason", report.routeReason === undefined ? undefined : text(report.routeReason, "routeReason")),
    connections: {
      served: counter("served"),
      requests: counter("requests"),
      active: counter("active"),
      failovers: counter("failovers"),
      answeredEmpty: counter("answeredEmpty"),
      rejected: counter("rejected"),
      // A daemon of an earlier version sheds nothing and says so by saying nothing.
      shed: connections.shed === undefined ? 0 : counter("shed"),
      ...optional("deadTriedMax", connections.deadTriedMax === undefined ? undefined : counter("deadTriedMax")),
      ...optional("staleRefused", connections.staleRefused === undefined ? undefined : counter("staleRefused")),
    },
    memoryKiB: {
      // A daemon of an earlier version reports no private figure: its resident one stands in.
      private: memory.private === undefined ? count(memory.rss, "rss") : count(memory.private, "private"),
      privateSource: memory.privateSource === undefined ? "rss" : oneOf(memory.privateSource, ["RssAnon", "rss"] as const, "privateSource"),
      rss: count(memory.rss, "rss"),
      heapUsed: count(memory.heapUsed, "heapUsed"),
      external: count(memory.external, "external"),
    },
    agents: list(report.agents, "agents").map((item) => {
      const agent = record(item, "agent");
      return {
        path: text(agent.path, "agent.path"),
        kind: oneOf(agent.kind, ["forwarded", "local", "extra"] as const, "agent.kind"),
        state: oneOf(agent.state, ["live", "unknown", "zombie", "dead"] as const, "agent.state"),
        reason: text(agent.reason, "agent.reason"),
        keys: agent.keys === null ? null : count(agent.keys, "agent.keys"),
        // Per-identity (src/shared/scope/): present only when the daemon sent them.
        ...optional("fingerprints", parseFingerprints(agent.fingerprints, (message) => new MalformedStatus(message))),
        createdAt: text(agent.createdAt, "agent.createdAt"),
        rank: agent.rank === null ? null : count(agent.rank, "agent.rank"),
        // Where the person is (discovery/presence.ts): present only when the daemon sent them.
        ...optional("login", agent.login === undefined ? undefined : agent.login === null ? null : count(agent.login, "agent.login")),
        ...optional("terminal", agent.terminal === undefined ? undefined : agent.terminal === null ? null : text(agent.terminal, "agent.terminal")),
        ...optional("lastInputAt", agent.lastInputAt === undefined ? undefined : agent.lastInputAt === null ? null : text(agent.lastInputAt, "agent.lastInputAt")),
      };
    }),
    ignored: list(report.ignored, "ignored").map((item) => {
      const entry = record(item, "ignored entry");
      return { path: text(entry.path, "ignored.path"), reason: text(entry.reason, "ignored.reason") };
    }),
    ...optional("staleSockets", parseStale(report.staleSockets)),
    ...optional("forwards", report.forwards === undefined ? undefined : list(report.forwards, "forwards").map(parseForward)),
    ...optional("gpgAgentSocket", report.gpgAgentSocket === undefined ? undefined : report.gpgAgentSocket === null ? null : text(report.gpgAgentSocket, "gpgAgentSocket")),
    ...optional("scopes", parseScopeReports(report.scopes, (message) => new MalformedStatus(message), (value) => printable(value, MAX_TEXT_CHARS))),
  };
}

function parseStale(value: unknown): StatusReport["staleSockets"] {
  if (value === undefined) return undefined;
  const stale = record(value, "staleSockets");
  return { count: count(stale.count, "staleSockets.count"), directory: text(stale.directory, "staleSockets.directory") };
}

function parseForward(item: unknown): ForwardReport {
  const forward = record(item, "forward");
  return {
    name: text(forward.name, "forward.name"),
    stable: text(forward.stable, "forward.stable"),
    live: count(forward.live, "forward.live"),
    upstreams: list(forward.upstreams, "forward.upstreams").map((entry) => {
      const upstream = record(entry, "forward.upstream");
      const restricted = upstream.restricted;
      if (restricted !== null && typeof restricted !== "boolean") throw new MalformedStatus("forward.upstream.restricted is not a boolean");
      return {
        path: text(upstream.path, "forward.upstream.path"),
        state: oneOf(upstream.state, ["live", "unknown", "zombie", "dead"] as const, "forward.upstream.state"),
        reason: text(upstream.reason, "forward.upstream.reason"),
        createdAt: text(upstream.createdAt, "forward.upstream.createdAt"),
        rank: upstream.rank === null ? null : count(upstream.rank, "forward.upstream.rank"),
        login: upstream.login === null ? null : text(upstream.login, "forward.upstream.login"),
        restricted,
        ...optional("scope", upstream.scope === undefined || upstream.scope === null ? (upstream.scope as null | undefined) : scopeText(upstream.scope)),
      };
    }),
  };
}

function scopeText(value: unknown): string {
  const scope = text(value, "forward.upstream.scope");
  if (!SCOPE_ID.test(scope)) throw new MalformedStatus("forward.upstream.scope is not a scope id");
  return scope;
}

/** `{ [name]: value }`, or nothing when the value is absent: absent fields stay absent. */
function optional<K extends string, V>(name: K, value: V | undefined): { [key in K]?: V } {
  return value === undefined ? {} : ({ [name]: value } as { [key in K]?: V });
}

function record(value: unknown, name: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new MalformedStatus(`${name} is not an object`);
  return value as Record<string, unknown>;
}

function list(value: unknown, name: string): unknown[] {
  if (!Array.isArray(value) || value.length > MAX_LIST_ITEMS) throw new MalformedStatus(`${name} is not a list`);
  return value;
}

function text(value: unknown, name: string): string {
  if (typeof value !== "string") throw new MalformedStatus(`${name} is not a string`);
  return printable(value, MAX_TEXT_CHARS);
}

function count(value: unknown, name: string): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) throw new MalformedStatus(`${name} is not a count`);
  return value;
}

function oneOf<T extends string>(value: unknown, allowed: readonly T[], name: string): T {
  if (!allowed.includes(value as T)) throw new MalformedStatus(`${name} is not one of ${allowed.join(", ")}`);
  return value as T;
}
