import { basename, dirname } from "node:path";
import type { AgentDiscovery } from "../../shared/discovery/discovery.js";
import { HOME_AGENT_SOCKET } from "../../shared/discovery/layouts.js";
import type { Counters, StatusReport } from "../../shared/control/status.js";
import type { AgentBook } from "./agent-book.js";
import { memoryKiB } from "./memory-usage.js";
import { scopeReports } from "./scopes/reports.js";
import type { ScopeServers } from "./scopes/servers.js";

/** What a status report is assembled from: the daemon's parts, read when the report is asked for. */
export interface StatusSources {
  readonly version: string;
  readonly socket: string;
  readonly logFile: string | null;
  readonly startedAt: Date;
  readonly counters: Counters;
  readonly book: AgentBook;
  readonly discovery: AgentDiscovery;
  readonly scopes: ScopeServers;
  /** ~/.ssh/agent (OpenSSH >= 10.1): its stale sockets are counted. */
  readonly homeAgentDirectory: string;
}

/**
 * The answer to `status`: every agent probed first, so that its state is the one of now and
 * not of its last use.
 *
 * @example
 * const report = await statusReport({ version, socket, logFile: null, startedAt, counters, book, discovery, scopes });
 * report.route // -> "/tmp/ssh-XXXX/agent.1234" (where new connections go), or null
 */
export async function statusReport(sources: StatusSources): Promise<StatusReport> {
  const { book, startedAt } = sources;
  await book.probeAll();
  book.refreshPresence(true);
  const ranked = book.ranked();
  // Fingerprints are what scopes are decided by; without scopes, hashing the keys would load
  // node:crypto into the daemon for good (0.4 MiB of its idle memory) for a report.
  const withFingerprints = sources.scopes.scopes().length > 0;
  return {
    running: true,
    version: sources.version,
    pid: process.pid,
    socket: sources.socket,
    logFile: sources.logFile,
    startedAt: startedAt.toISOString(),
    uptimeSeconds: Math.round((Date.now() - startedAt.getTime()) / 1000),
    route: ranked[0]?.path ?? null,
    routeReason: book.routeReason(),
    connections: { ...sources.counters, staleRefused: book.staleRefused },
    memoryKiB: memoryKiB(),
    agents: book.all().map((agent) => ({
      path: agent.path,
      kind: agent.candidate.kind,
      state: agent.health,
      reason: agent.reason,
      keys: agent.keys ?? null,
      ...(withFingerprints ? { fingerprints: agent.fingerprints ?? null } : {}),
      createdAt: new Date(agent.candidate.createdMs).toISOString(),
      rank: ranked.includes(agent) ? ranked.indexOf(agent) + 1 : null,
      login: agent.login ?? null,
      terminal: agent.terminals[0]?.path ?? null,
      lastInputAt: agent.lastInputMs === undefined ? null : new Date(agent.lastInputMs).toISOString(),
    })),
    ignored: [...sources.discovery.ignored()],
    // This host's sockets in ~/.ssh/agent (other hosts' are never candidates) that never answered
    // and refused: dead logins' sockets, which nothing clears there (doctor --fix removes them).
    staleSockets: {
      count: book
        .all()
        .filter((agent) => agent.health === "dead" && !agent.answered && dirname(agent.path) === sources.homeAgentDirectory && HOME_AGENT_SOCKET.test(basename(agent.path))).length,
      directory: sources.homeAgentDirectory,
    },
    scopes: scopeReports(sources.scopes, book),
  };
}
