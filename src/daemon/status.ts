import type { AgentKind } from "../discovery/candidate.js";
import type { AgentHealth } from "./policy.js";
import type { Counters } from "./connection.js";
import type { ScopeReport } from "../scope/report.js";

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
  /** The daemon's own memory, in KiB: resident, JavaScript heap in use, and buffers. */
  readonly memoryKiB: { readonly rss: number; readonly heapUsed: number; readonly external: number };
  readonly agents: readonly AgentReport[];
  readonly ignored: readonly { readonly path: string; readonly reason: string }[];
  /** Per-identity scopes (init --per-identity); absent from daemons that predate them. */
  readonly scopes?: readonly ScopeReport[];
}

export interface AgentReport {
  readonly path: string;
  readonly kind: AgentKind;
  readonly state: AgentHealth;
  readonly reason: string;
  readonly keys: number | null;
  /** Fingerprints of its plain keys (certificates left out) at its last answered probe: which scopes it belongs to. */
  readonly fingerprints?: readonly string[] | null;
  readonly createdAt: string;
  /** Position in the routing order (1 = first), null for dead agents. */
  readonly rank: number | null;
}
