import type { Socket } from "node:net";
import { dial, NOBODY_LISTENS } from "../../../shared/core/dial.js";
import { monotonicMs } from "../../../shared/core/clock.js";

/**
 * The little of the Assuan protocol (gpg-agent's) the daemon speaks: the server greets with a
 * line "OK ..." as soon as a client connects, every command line is answered by "OK ..." or
 * "ERR <code> <text>", and a line is at most 1000 bytes (libassuan's ASSUAN_LINELENGTH).
 */

/** libassuan's longest line, the line feed included. */
export const ASSUAN_LINE_BYTES = 1002;

/** GPG_ERR_NO_AGENT (77, gpg-error.h) from GPG_ERR_SOURCE_GPGAGENT (4): gpg says "No agent running". */
const NO_AGENT = (4 << 24) | 77;

/**
 * Answers a gpg client when no forwarded gpg-agent is live: a greeting (so gpg does not take
 * the path for a dead agent and autostart a local gpg-agent onto it), then an error for every
 * command: gpg fails at once with "No agent running" instead of hanging or autostarting.
 */
export function refuseAsAssuan(client: Socket, held: readonly Buffer[], onRequest: () => void): void {
  let pending = "";
  let told = false;
  client.write("OK ssh-anchor: no forwarded gpg-agent is live\n");
  const onData = (chunk: Buffer): void => {
    pending += chunk.toString("latin1");
    let newline: number;
    while ((newline = pending.indexOf("\n")) >= 0) {
      const line = pending.slice(0, newline).replace(/\r$/, "");
      pending = pending.slice(newline + 1);
      if (!told) {
        told = true;
        onRequest();
      }
      if (/^BYE\b/i.test(line)) {
        client.end("OK closing connection\n");
        return;
      }
      if (/^(#|$)/.test(line)) continue;
      client.write(`ERR ${NO_AGENT} No agent running <ssh-anchor: no forwarded gpg-agent is live>\n`);
    }
    if (pending.length > ASSUAN_LINE_BYTES) client.destroy();
  };
  for (const chunk of held) onData(chunk);
  client.on("data", onData);
  client.on("end", () => client.end());
  client.resume();
}

/** What a probe of a forwarded gpg-agent found. */
export type GpgProbe =
  | { readonly kind: "answered"; readonly millis: number; readonly restricted: boolean | undefined }
  | { readonly kind: "silent"; readonly reason: string }
  | { readonly kind: "unreachable"; readonly reason: string; readonly refused: boolean };

/**
 * Probes a forwarded gpg-agent: its greeting, then `GETINFO restricted` (harmless; gpg-agent
 * answers OK on its restricted "extra" socket, ERR on the full one), then BYE.
 */
export async function probeGpgAgent(path: string, timeoutMs: number): Promise<GpgProbe> {
  const started = monotonicMs();
  const dialed = await dial({ path }, timeoutMs);
  if (dialed.kind === "timed-out") return { kind: "silent", reason: `no connection in ${timeoutMs} ms` };
  if (dialed.kind === "failed") return { kind: "unreachable", reason: `connect failed: ${dialed.code}`, refused: NOBODY_LISTENS.has(dialed.code) };
  const socket = dialed.socket;
  return new Promise<GpgProbe>((resolve) => {
    let text = "";
    let greeted = false;
    let greetedAt = 0;
    const settle = (probe: GpgProbe): void => {
      clearTimeout(timer);
      socket.removeAllListeners("data");
      socket.on("error", () => undefined);
      if (probe.kind === "answered") socket.end("BYE\n");
      socket.destroy();
      resolve(probe);
    };
    const timer = setTimeout(
      () => settle(greeted ? { kind: "answered", millis: greetedAt - started, restricted: undefined } : { kind: "silent", reason: `no greeting in ${timeoutMs} ms` }),
      Math.max(1, timeoutMs - (monotonicMs() - started)),
    );
    socket.on("error", () => settle({ kind: "unreachable", reason: "the connection broke", refused: false }));
    socket.on("end", () => settle(greeted ? { kind: "answered", millis: greetedAt - started, restricted: undefined } : { kind: "unreachable", reason: "closed without a greeting", refused: false }));
    socket.on("data", (chunk: Buffer) => {
      text += chunk.toString("latin1");
      if (text.length > 4 * ASSUAN_LINE_BYTES) return settle({ kind: "unreachable", reason: "answered garbage", refused: false });
      const lines = text.split("\n");
      text = lines.pop() ?? "";
      for (const line of lines) {
        if (!greeted) {
          if (!line.startsWith("OK")) return settle({ kind: "unreachable", reason: "did not greet as an Assuan server", refused: false });
          greeted = true;
          greetedAt = monotonicMs();
          socket.write("GETINFO restricted\n");
          continue;
        }
        if (line.startsWith("OK")) return settle({ kind: "answered", millis: greetedAt - started, restricted: true });
        if (line.startsWith("ERR")) return settle({ kind: "answered", millis: greetedAt - started, restricted: false });
      }
    });
  });
}
