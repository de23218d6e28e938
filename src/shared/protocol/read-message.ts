import type { Socket } from "node:net";
import { FrameError, FrameScanner } from "./frame-scanner.js";
import { LENGTH_PREFIX_BYTES } from "./messages.js";

/** How reading one message from a socket ended. */
export type MessageRead =
  | { readonly kind: "message"; readonly body: Buffer }
  | { readonly kind: "timed-out" }
  /** The peer closed before a whole message came. */
  | { readonly kind: "closed" }
  /** The bytes are not an agent-protocol message (zero-length or oversized). */
  | { readonly kind: "invalid"; readonly reason: string }
  | { readonly kind: "failed"; readonly code: string };

/**
 * Reads the next whole message from `socket` (its body, without the length prefix), its
 * boundary found by FrameScanner, so the size limits are those of the proxy itself. Settles
 * once, within `timeoutMs`; the listeners it added are removed, the socket is left open.
 *
 * @example
 * socket.write(REQUEST_IDENTITIES_MESSAGE);
 * const read = await readOneMessage(socket, 1000);
 * if (read.kind === "message") parseIdentitiesAnswer(read.body);
 */
export function readOneMessage(socket: Socket, timeoutMs: number): Promise<MessageRead> {
  return new Promise((resolve) => {
    const scanner = new FrameScanner();
    const chunks: Buffer[] = [];
    let settled = false;
    const settle = (read: MessageRead): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.off("data", onData);
      socket.off("error", onError);
      socket.off("close", onClose);
      resolve(read);
    };
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      try {
        scanner.push(chunk, (_type, end) => {
          if (settled) return;
          const all = chunks.length === 1 ? chunk : Buffer.concat(chunks);
          const through = all.length - (chunk.length - end);
          settle({ kind: "message", body: all.subarray(LENGTH_PREFIX_BYTES, through) });
        });
      } catch (error) {
        if (!(error instanceof FrameError)) throw error;
        settle({ kind: "invalid", reason: error.message });
      }
    };
    const onError = (error: NodeJS.ErrnoException): void => settle({ kind: "failed", code: error.code ?? error.message });
    const onClose = (): void => settle({ kind: "closed" });
    const timer = setTimeout(() => settle({ kind: "timed-out" }), timeoutMs);
    socket.on("data", onData);
    socket.once("error", onError);
    socket.once("close", onClose);
  });
}
