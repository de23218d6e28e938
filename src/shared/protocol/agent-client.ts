import { dial } from "../core/dial.js";
import { REQUEST_IDENTITIES_MESSAGE } from "./encode.js";
import { parseIdentitiesAnswer, type Identity } from "./identities.js";
import { readOneMessage } from "./read-message.js";
import { monotonicMs } from "../core/clock.js";

/** How an agent socket answered a question. */
export type AgentAnswer =
  | { readonly kind: "answered"; readonly identities: Identity[]; readonly millis: number }
  /** Nothing listens there (gone, refused, not a socket). `local` when the failure was this
   * process's own (out of file descriptors): it says nothing about the agent. */
  | { readonly kind: "unreachable"; readonly reason: string; readonly local?: boolean }
  /** It accepted the connection but did not answer in time: the zombie signature. */
  | { readonly kind: "silent"; readonly reason: string }
  /** It answered with something that is not a valid reply. */
  | { readonly kind: "invalid"; readonly reason: string };

/**
 * Asks the agent at `path` for its keys on a fresh connection, closed as soon as it answers
 * or the deadline passes, so that the probe never holds a login open.
 *
 * @example
 * const answer = await listIdentities("/tmp/ssh-abc/agent.123", 2000);
 * if (answer.kind === "answered") console.log(answer.identities.length, "keys");
 */
export async function listIdentities(path: string, timeoutMs: number): Promise<AgentAnswer> {
  const started = monotonicMs();
  const dialed = await dial({ path, allowHalfOpen: false }, timeoutMs);
  switch (dialed.kind) {
    case "timed-out":
      return { kind: "silent", reason: `did not accept a connection within ${timeoutMs} ms` };
    case "failed":
      return { kind: "unreachable", reason: dialed.code, local: dialed.local };
    case "connected":
      break;
  }
  const socket = dialed.socket;
  socket.write(REQUEST_IDENTITIES_MESSAGE);
  const read = await readOneMessage(socket, Math.max(0, timeoutMs - (monotonicMs() - started)));
  socket.destroy();
  switch (read.kind) {
    case "message":
      try {
        return { kind: "answered", identities: parseIdentitiesAnswer(read.body), millis: monotonicMs() - started };
      } catch (error) {
        return { kind: "invalid", reason: (error as Error).message };
      }
    case "timed-out":
      return { kind: "silent", reason: `accepted a connection but did not answer within ${timeoutMs} ms` };
    case "closed":
      return { kind: "invalid", reason: "closed the connection without answering" };
    case "invalid":
      return { kind: "invalid", reason: `answered with ${read.reason}` };
    case "failed":
      return { kind: "invalid", reason: `connection failed: ${read.code}` };
  }
}
