/** Where a candidate agent socket was found, which decides how it is ranked. */
export type AgentKind =
  /** A login's forwarded agent (sshd made it). */
  | "forwarded"
  /** A local ssh-agent of this user: used only when no forwarded agent works. */
  | "local"
  /** A socket in a directory the user named with --agent-dir. */
  | "extra";

/** A socket that passed every ownership and type check and may be an agent. */
export interface Candidate {
  readonly path: string;
  readonly kind: AgentKind;
  /** When the socket was created (ms since the epoch): the newest login is preferred. */
  readonly createdMs: number;
  /** Identity of the socket file, so a new socket at an old path is a new candidate. */
  readonly dev: number;
  readonly ino: number;
  /** The user's own directories above the socket's, asked again after each connect (see
   * SocketIdentity in src/shared/core/trust.ts); none under /tmp. */
  readonly ownAncestors?: readonly string[];
}

/** Something named like an agent that was refused, and why. */
export interface IgnoredEntry {
  readonly path: string;
  readonly reason: string;
}

/** What scanning one directory found. */
export interface DirectoryScan {
  readonly candidates: Candidate[];
  readonly ignored: IgnoredEntry[];
  /** The directory exists and passed the trust checks (it may still be empty). */
  readonly trusted: boolean;
  /** The bounded gate could not ask (its calls are all out, on a file system that does not
   * answer): nothing is known of the directory now, which is not the same as its being empty. */
  readonly unanswered?: boolean;
}
