import { connect, type NetConnectOpts, type Socket } from "node:net";
import { TIMING } from "./timing.js";

/** How a connection attempt ended. */
export type Dialed =
  | { readonly kind: "connected"; readonly socket: Socket }
  /** `local` when the failure was this process's own (out of descriptors or memory): it says
   * nothing about whatever listens there. */
  | { readonly kind: "failed"; readonly code: string; readonly local: boolean }
  | { readonly kind: "timed-out" };

/** connect() errors that are this process's own shortage, not the listener's fault. */
export const LOCAL_SHORTAGE: ReadonlySet<string> = new Set(["EMFILE", "ENFILE", "ENOBUFS", "ENOMEM"]);

/** connect() errors that prove nothing listens at a path (any more). */
export const NOBODY_LISTENS: ReadonlySet<string> = new Set(["ECONNREFUSED", "ENOENT", "ENOTSOCK", "ENOTDIR"]);

function failure(error: unknown): Dialed {
  const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
  return { kind: "failed", code, local: LOCAL_SHORTAGE.has(code) };
}

/**
 * Connects to a Unix socket or a TCP port and settles exactly once: connected, failed or timed
 * out, never a throw and never a wait past `timeoutMs`. A connected socket is handed over with
 * none of these listeners left on it (the caller attaches its own before any event can fire);
 * any other outcome leaves nothing open.
 *
 * @example
 * const dialed = await dial({ path: "/run/user/1000/ssh-anchor/agent.sock" }, 1000);
 * if (dialed.kind === "connected") dialed.socket.end();
 */
export function dial(target: NetConnectOpts, timeoutMs: number): Promise<Dialed> {
  return new Promise((resolve) => {
    let socket: Socket;
    try {
      socket = connect(target);
    } catch (error) {
      resolve(failure(error));
      return;
    }
    const settle = (outcome: Dialed): void => {
      clearTimeout(timer);
      socket.off("connect", onConnect);
      socket.off("error", onError);
      if (outcome.kind !== "connected") socket.destroy();
      resolve(outcome);
    };
    const onConnect = (): void => settle({ kind: "connected", socket });
    const onError = (error: Error): void => settle(failure(error));
    const timer = setTimeout(() => settle({ kind: "timed-out" }), timeoutMs);
    socket.once("connect", onConnect);
    socket.once("error", onError);
  });
}

/**
 * True when something accepts connections at `path` (another daemon, alive). When in doubt (a
 * full backlog, no answer in time, a shortage of our own) the socket counts as alive: taking
 * over a live daemon's socket is worse than refusing to start.
 */
export async function socketAcceptsConnections(path: string, timeoutMs: number = TIMING.aliveCheckMs): Promise<boolean> {
  const dialed = await dial({ path }, timeoutMs);
  if (dialed.kind === "connected") dialed.socket.destroy();
  return dialed.kind !== "failed" || !NOBODY_LISTENS.has(dialed.code);
}
