import { connect, type Socket } from "node:net";
import { FrameError, FrameScanner } from "../src/shared/protocol/frame-scanner.js";

/**
 * A minimal agent client for load: one request in flight, each reply's end found by the
 * proxy's own FrameScanner. Kept as lean as possible so that it measures the path under test,
 * not itself: one scanner for the connection's life and no timer per request. (readOneMessage
 * sets up a timer and three listeners per message: 3 to 25 % slower per round trip to a local
 * ssh-agent, medians of 20,000 requests; callers that need a bound race `request` with one.)
 */
export class RawAgentClient {
  #socket: Socket;
  readonly #scanner = new FrameScanner();
  #pending: ((reply: Buffer) => void) | undefined;
  /** The reply so far: the chunks since the last message ended. */
  #chunks: Buffer[] = [];

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.on("data", (chunk: Buffer) => this.#onData(chunk));
  }

  static open(path: string): Promise<RawAgentClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ path }, () => {
        socket.off("error", reject);
        resolve(new RawAgentClient(socket));
      });
      socket.once("error", reject);
    });
  }

  /** Sends one whole message and resolves with the whole reply (length prefix included). */
  request(message: Buffer): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      this.#pending = resolve;
      this.#socket.once("error", reject);
      this.#socket.write(message);
    });
  }

  close(): void {
    this.#socket.destroy();
  }

  /** Resolves when the connection is closed, by either side. */
  get closed(): Promise<void> {
    return this.#socket.closed
      ? Promise.resolve()
      : new Promise((resolve) => this.#socket.once("close", () => resolve()));
  }

  #onData(chunk: Buffer): void {
    this.#chunks.push(chunk);
    try {
      this.#scanner.push(chunk, (_type, end) => {
        const all = this.#chunks.length === 1 ? chunk : Buffer.concat(this.#chunks);
        this.#chunks = end < chunk.length ? [chunk.subarray(end)] : [];
        const done = this.#pending;
        this.#pending = undefined;
        this.#socket.removeAllListeners("error");
        done?.(all.subarray(0, all.length - (chunk.length - end)));
      });
    } catch (error) {
      if (!(error instanceof FrameError)) throw error;
      // Not an agent's reply: fail the request the way a broken connection does.
      this.#socket.destroy(error);
    }
  }
}

/** Latency of connect + one request + close, in microseconds. */
export async function timeFreshConnection(path: string, message: Buffer): Promise<number> {
  const started = process.hrtime.bigint();
  const client = await RawAgentClient.open(path);
  await client.request(message);
  client.close();
  return Number(process.hrtime.bigint() - started) / 1000;
}
