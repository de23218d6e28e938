import type { AgentKind } from "../discovery/candidate.js";
import type { AgentHealth } from "./policy.js";
import type { Counters } from "./connection.js";

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
}

export interface AgentReport {
  readonly path: string;
  readonly kind: AgentKind;
  readonly state: AgentHealth;
  readonly reason: string;
  readonly keys: number | null;
  readonly createdAt: string;
  /** Position in the routing order (1 = first), null for dead agents. */
  readonly rank: number | null;
}
