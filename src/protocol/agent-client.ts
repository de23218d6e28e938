import { connect, type Socket } from "node:net";
import { REQUEST_IDENTITIES_MESSAGE } from "./encode.js";
import { parseIdentitiesAnswer, type Identity } from "./identities.js";
import { LENGTH_PREFIX_BYTES, MAX_MESSAGE_LENGTH } from "./messages.js";

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
/** connect() errors that are this process's own shortage, not the agent's fault. */
export const LOCAL_SHORTAGE = new Set(["EMFILE", "ENFILE", "ENOBUFS", "ENOMEM"]);

export function listIdentities(path: string, timeoutMs: number): Promise<AgentAnswer> {
  const started = performance.now();
  return new Promise((resolve) => {
    let socket: Socket;
    try {
      socket = connect({ path, allowHalfOpen: false });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      resolve({ kind: "unreachable", reason: code, local: LOCAL_SHORTAGE.has(code) });
      return;
    }
    const chunks: Buffer[] = [];
    let received = 0;
    let connected = false;
    let settled = false;
    const finish = (answer: AgentAnswer): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(answer);
    };
    const timer = setTimeout(() => {
      finish(
        connected
          ? { kind: "silent", reason: `accepted a connection but did not answer within ${timeoutMs} ms` }
          : { kind: "silent", reason: `did not accept a connection within ${timeoutMs} ms` },
      );
    }, timeoutMs);
    socket.once("connect", () => {
      connected = true;
      socket.write(REQUEST_IDENTITIES_MESSAGE);
    });
    socket.on("data", (chunk: Buffer) => {
      chunks.push(chunk);
      received += chunk.length;
      if (received < LENGTH_PREFIX_BYTES) return;
      const all = chunks.length === 1 ? chunk : Buffer.concat(chunks);
      const length = all.readUInt32BE(0);
      if (length === 0 || length > MAX_MESSAGE_LENGTH) {
        finish({ kind: "invalid", reason: `answered with a ${length}-byte message` });
        return;
      }
      if (received < LENGTH_PREFIX_BYTES + length) return;
      try {
        const identities = parseIdentitiesAnswer(all.subarray(LENGTH_PREFIX_BYTES, LENGTH_PREFIX_BYTES + length));
        finish({ kind: "answered", identities, millis: performance.now() - started });
      } catch (error) {
        finish({ kind: "invalid", reason: (error as Error).message });
      }
    });
    socket.on("error", (error: NodeJS.ErrnoException) => {
      finish(
        connected
          ? { kind: "invalid", reason: `connection failed: ${error.code ?? error.message}` }
          : { kind: "unreachable", reason: error.code ?? error.message, local: LOCAL_SHORTAGE.has(error.code ?? "") },
      );
    });
    socket.on("close", () => {
      finish({ kind: connected ? "invalid" : "unreachable", reason: "closed the connection without answering" });
    });
  });
}
