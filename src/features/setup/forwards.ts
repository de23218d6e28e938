import { homedir } from "node:os";
import { UserError } from "../../shared/core/errors.js";
import {
  forwardPathRefusal,
  forwardsDirectory,
  GPG_FORWARD,
  gpgExtraSocket,
  localSocketRefusal,
  parseForwardSpec,
  remoteForwardPath,
  socketLengthRefusal,
  type Forward,
} from "../../shared/core/forwards.js";
import { probeRemoteFacts } from "../../shared/core/remote-facts.js";
import { readSshConfig } from "../../shared/core/ssh-config.js";
import { printable } from "../../shared/core/text.js";
import { TIMING } from "../../shared/core/timing.js";
import { currentUid } from "../../shared/core/trust.js";
import { agentScope, forwardedAgentPath, SCOPE_PREFIX_LENGTH } from "../../shared/scope/forward-token.js";

/**
 * `setup --forwards HOST`: the forwards of connect for plain ssh, as lines of ~/.ssh/config.
 *
 * ssh expands a RemoteForward path's tokens and ${VAR}s on the laptop (%d is the laptop's home),
 * so the remote home is written literally (setup asks the host once). ssh has no token that
 * changes with every connection; the path's token is %C, a hash of this laptop's host name, the
 * destination's, its port and user: two laptops never share a path, but this laptop reconnecting
 * while its old login lingers (a zombie whose sshd still holds the socket) gets no forward until
 * that sshd ends; connect, with a fresh token each time, has no such limit.
 */
export interface HostForwards {
  /** The destination as written in the Host (or Match) line: `devbox`, or `me@devbox`. */
  readonly host: string;
  /** The remote user's home. */
  readonly home: string;
  readonly forwards: readonly Forward[];
  /**
   * The per-identity scope of the agent ssh forwards to the host, computed now (the keys it
   * offers): the token becomes `<scope>-%C` so that on a shared account the forwards reach only
   * this person's panes (docs/per-identity.md). A later change of the agent's keys needs setup
   * again. Undefined: unscoped (no agent forwarded, or it offers no keys).
   */
  readonly scope?: string;
}

/** The per-login token of plain ssh's forwards (see HostForwards): 40 hex digits. */
export const SSH_CONFIG_TOKEN = "%C";
/** The length %C expands to (SHA-1 in hex), for the socket path's bound. */
const SSH_CONFIG_TOKEN_LENGTH = 40;

const HOST = /^(?:([A-Za-z0-9._-]+)@)?([A-Za-z0-9._-]+)$/;

/** The label of a host's block: `# >>> ssh-anchor forwards devbox >>>`. */
export function forwardsLabel(host: string): string {
  return `forwards ${host}`;
}

/** Why `host` cannot be a Host line's pattern, or undefined. */
function hostRefusal(host: string): string | undefined {
  return HOST.test(host) ? undefined : `"${host}" is not a host setup can write into ~/.ssh/config (letters, digits, . _ - and one user@ only; no patterns)`;
}

/** The lines of a host's block (first in ~/.ssh/config: they end with `Match all`). */
export function forwardsBlockLines({ host, home, forwards, scope }: HostForwards): string[] {
  const [, user, name] = HOST.exec(host) as RegExpExecArray;
  // %C expands (on the laptop) to 40 hex digits: `<scope>-<40 hex>` is a scoped token.
  const token = scope ? `${scope}-${SSH_CONFIG_TOKEN}` : SSH_CONFIG_TOKEN;
  return [
    "# Forwards for plain ssh (ssh-anchor setup --forwards), to a path of this laptop's own on",
    `# the host (%C: a hash of this laptop's name and the destination), in ${forwardsDirectory(home)}`,
    "# (the remote home, written out: ssh expands tokens on the laptop). A forward that fails to bind",
    "# leaves the login up. Remove with: ssh-anchor setup --forwards HOST --undo",
    ...(scope
      ? [`# ${scope}: the per-identity scope of the keys your agent offered when this was written; run`, "# setup --forwards again after changing them (docs/per-identity.md)."]
      : []),
    user ? `Match originalhost ${name} user ${user}` : `Host ${name}`,
    ...forwards.map((forward) => `    RemoteForward ${remoteForwardPath(home, forward.name, token)} ${forward.local}`),
    "    ExitOnForwardFailure no",
    "Match all",
  ];
}

export interface SetupForwardsRequest {
  readonly host: string;
  readonly gpg?: boolean;
  /** `--forward NAME=SOCKET` values. */
  readonly forward?: readonly string[];
  /** The remote home when known (no probe then). */
  readonly remoteHome?: string;
  readonly undo?: boolean;
}

/**
 * What `setup --forwards` writes: the laptop's sockets (each checked to be the user's own), and
 * the remote home (asked of the host in one bounded ssh login, which also makes the forwards
 * directory there, unless --remote-home gives it). For --undo only the host counts.
 * @throws {UserError} for a host, name or socket that cannot be written, or a host that cannot be asked.
 */
export async function resolveHostForwards(request: SetupForwardsRequest, say: (line: string) => void): Promise<HostForwards> {
  const bad = hostRefusal(request.host);
  if (bad) throw new UserError(bad, 2);
  if (request.undo) return { host: request.host, home: "/", forwards: [] };
  const home = homedir();
  const forwards: Forward[] = [];
  for (const spec of request.forward ?? []) {
    const forward = parseForwardSpec(spec, home);
    if (typeof forward === "string") throw new UserError(`--forward ${spec}: ${forward}`, 2);
    if (forwards.some((other) => other.name === forward.name)) throw new UserError(`--forward ${forward.name} is given twice: one socket per name`, 2);
    forwards.push(forward);
  }
  if (request.gpg) {
    if (forwards.some((forward) => forward.name === GPG_FORWARD)) throw new UserError("--gpg and --forward gpg=SOCKET name two sockets for gpg: give one", 2);
    const gpg = await gpgExtraSocket();
    if ("refusal" in gpg) throw new UserError(`--gpg: ${printable(gpg.refusal, 300)}`);
    forwards.unshift({ name: GPG_FORWARD, local: gpg.path });
  }
  if (forwards.length === 0) throw new UserError("--forwards HOST needs what to forward: --gpg, --forward NAME=SOCKET, or both", 2);
  for (const forward of forwards) {
    const refusal = await localSocketRefusal(forward, currentUid());
    if (refusal) throw new UserError(`cannot forward ${forward.name}: ${printable(refusal, 300)}`);
  }
  const read = await readSshConfig([], request.host, TIMING.sshConfigMs);
  if (read.kind === "failed") throw new UserError(`ssh rejected ${printable(request.host, 200)}: ${printable(read.reason, 200)}`, 2);
  const agent = forwardedAgentPath(read.settings, process.env);
  const scope = agent === undefined ? undefined : await agentScope(agent, TIMING.laptopAgentScopeMs);
  if (scope) say(`forwards named for scope ${scope} (the keys your agent offers now): on a per-identity account they reach only your panes`);
  let remoteHome = request.remoteHome;
  if (remoteHome === undefined) {
    say(`asking ${request.host} for its home (one ssh login)`);
    const facts = await probeRemoteFacts([], request.host, read.settings);
    if (facts.directory !== "ok") say(`~/.ssh/anchor-forwards on ${request.host} is not a private directory of yours: fix it there (chmod 700 ~/.ssh/anchor-forwards)`);
    remoteHome = facts.home;
  } else {
    const refusal = forwardPathRefusal(remoteHome);
    if (refusal) throw new UserError(`--remote-home: ${refusal}`, 2);
  }
  for (const forward of forwards) {
    const tooLong = socketLengthRefusal(remoteForwardPath(remoteHome, forward.name, "x".repeat(SSH_CONFIG_TOKEN_LENGTH + (scope ? SCOPE_PREFIX_LENGTH : 0))));
    if (tooLong) throw new UserError(`cannot forward ${forward.name}: ${printable(tooLong, 300)} once ${SSH_CONFIG_TOKEN} is expanded (the remote home is too long for it)`);
  }
  return { host: request.host, home: remoteHome.replace(/\/+$/, "") || "/", forwards, ...(scope ? { scope } : {}) };
}
