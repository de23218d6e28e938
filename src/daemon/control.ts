import { connect, createServer, type Server } from "node:net";

/** What the CLI may ask a running daemon. */
export type ControlCommand = "status" | "rescan" | "stop" | `scope ${string}`;
const COMMANDS: ReadonlySet<string> = new Set<ControlCommand>(["status", "rescan", "stop"]);
/** `scope <agent socket path>`: a login asks for its per-identity socket (src/scope/). */
const SCOPE_COMMAND = /^scope \/\S+$/;

/** A command line longer than this is not one of ours (a scope request carries a socket path, at most 107 bytes). */
const MAX_COMMAND_BYTES = 256;
/** A reply larger than this is not one of ours either. */
const MAX_REPLY_BYTES = 4 * 1024 * 1024;

/**
 * The daemon's control socket: one command line in, one JSON document out. It lives beside the
 * agent socket with the same 0600 protection, so only the user (and root) can ask.
 */
export function createControlServer(handle: (command: ControlCommand) => Promise<unknown>): Server {
  return createServer((socket) => {
    let received = "";
    socket.setTimeout(5000, () => socket.destroy());
    socket.on("error", () => undefined);
    socket.on("data", (chunk: Buffer) => {
      received += chunk.toString("latin1");
      if (received.length > MAX_COMMAND_BYTES) return void socket.destroy();
      const newline = received.indexOf("\n");
      if (newline === -1) return;
      const command = received.slice(0, newline).trim();
      socket.removeAllListeners("data");
      if (!COMMANDS.has(command) && !SCOPE_COMMAND.test(command)) {
        socket.end(`${JSON.stringify({ error: `unknown command ${JSON.stringify(command)}` })}\n`);
        return;
      }
      handle(command as ControlCommand).then(
        (reply) => socket.end(`${JSON.stringify(reply)}\n`),
        (error: Error) => socket.end(`${JSON.stringify({ error: error.message })}\n`),
      );
    });
  });
}

/** Sends `command` to the daemon at `controlPath`; rejects if it does not answer in time. */
export function askDaemon<T>(controlPath: string, command: ControlCommand, timeoutMs = 5000): Promise<T> {
  return new Promise((resolve, reject) => {
    const socket = connect({ path: controlPath });
    const chunks: Buffer[] = [];
    let size = 0;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the daemon did not answer "${command}" within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on("connect", () => socket.write(`${command}\n`));
    socket.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_REPLY_BYTES) socket.destroy(new Error("the daemon's answer is too large"));
      else chunks.push(chunk);
    });
    socket.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.on("end", () => {
      clearTimeout(timer);
      try {
        const reply = JSON.parse(Buffer.concat(chunks).toString("utf8")) as T & { error?: string };
        if (reply && typeof reply === "object" && "error" in reply && reply.error) reject(new Error(reply.error));
        else resolve(reply);
      } catch {
        reject(new Error("the daemon's answer is not valid JSON"));
      }
    });
  });
}
