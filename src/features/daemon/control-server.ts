import { createServer, type Server } from "node:net";
import { TIMING } from "../../shared/core/timing.js";
import { MAX_COMMAND_BYTES, parseControlCommand, type ControlCommand } from "../../shared/control/protocol.js";

/**
 * The daemon's side of the control socket (control/protocol.ts): reads one command line,
 * bounded in size and time, and answers it with `handle`'s result as one JSON document.
 */
export function createControlServer(handle: (command: ControlCommand) => Promise<unknown>): Server {
  return createServer((socket) => {
    let received = "";
    socket.setTimeout(TIMING.controlAnswerMs, () => socket.destroy());
    socket.on("error", () => undefined);
    socket.on("data", (chunk: Buffer) => {
      received += chunk.toString("latin1");
      if (received.length > MAX_COMMAND_BYTES) return void socket.destroy();
      const newline = received.indexOf("\n");
      if (newline === -1) return;
      const line = received.slice(0, newline).trim();
      socket.removeAllListeners("data");
      const command = parseControlCommand(line);
      if (command === undefined) {
        socket.end(`${JSON.stringify({ error: `unknown command ${JSON.stringify(line)}` })}\n`);
        return;
      }
      handle(command).then(
        (reply) => socket.end(`${JSON.stringify(reply)}\n`),
        (error: Error) => socket.end(`${JSON.stringify({ error: error.message })}\n`),
      );
    });
  });
}
