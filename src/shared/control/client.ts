import type { Socket } from "node:net";
import { dial } from "../core/dial.js";
import { TIMING } from "../core/timing.js";
import { MAX_REPLY_BYTES, type ControlCommand } from "./protocol.js";
import { monotonicMs } from "../core/clock.js";

/**
 * Sends `command` to the daemon at `controlPath` and resolves with its JSON answer.
 * @throws {Error} when nothing answers, the answer is late, too large, not JSON, or an error.
 *
 * @example
 * const report = await askDaemon<unknown>(paths.control, "status");
 */
export async function askDaemon<T>(controlPath: string, command: ControlCommand, timeoutMs: number = TIMING.controlAnswerMs): Promise<T> {
  const started = monotonicMs();
  const late = (): Error => new Error(`the daemon did not answer "${command}" within ${timeoutMs} ms`);
  const dialed = await dial({ path: controlPath }, timeoutMs);
  if (dialed.kind === "timed-out") throw late();
  if (dialed.kind === "failed") throw new Error(`cannot reach the daemon: ${dialed.code}`);
  dialed.socket.write(`${command}\n`);
  const text = await readToEnd(dialed.socket, Math.max(0, timeoutMs - (monotonicMs() - started)), late);
  let reply: T & { error?: string };
  try {
    reply = JSON.parse(text) as T & { error?: string };
  } catch {
    throw new Error("the daemon's answer is not valid JSON");
  }
  if (reply && typeof reply === "object" && "error" in reply && reply.error) throw new Error(reply.error);
  return reply;
}

/** Everything the socket sends until it ends, at most MAX_REPLY_BYTES, within `timeoutMs`. */
function readToEnd(socket: Socket, timeoutMs: number, late: () => Error): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const fail = (error: Error): void => {
      clearTimeout(timer);
      socket.destroy();
      reject(error);
    };
    const timer = setTimeout(() => fail(late()), timeoutMs);
    socket.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_REPLY_BYTES) fail(new Error("the daemon's answer is too large"));
      else chunks.push(chunk);
    });
    socket.on("error", fail);
    socket.on("end", () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(Buffer.concat(chunks).toString("utf8"));
    });
  });
}
