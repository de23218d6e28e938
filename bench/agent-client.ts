import { connect, type Socket } from "node:net";

/**
 * A minimal agent client for load: one request in flight, replies read by their length
 * prefix. Kept as lean as possible so that it measures the path under test, not itself.
 */
export class RawAgentClient {
  #socket: Socket;
  #pending: ((reply: Buffer) => void) | undefined;
  #chunks: Buffer[] = [];
  #received = 0;

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
    this.#received += chunk.length;
    if (this.#received < 4) return;
    const head = this.#chunks.length === 1 ? chunk : Buffer.concat(this.#chunks);
    const total = 4 + head.readUInt32BE(0);
    if (this.#received < total) return;
    this.#chunks = [];
    this.#received = 0;
    const done = this.#pending;
    this.#pending = undefined;
    this.#socket.removeAllListeners("error");
    done?.(head);
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
