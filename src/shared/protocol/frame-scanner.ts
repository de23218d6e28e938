import { LENGTH_PREFIX_BYTES, MAX_MESSAGE_LENGTH } from "./messages.js";

/** Why a byte stream stopped being a valid agent-protocol stream. */
export class FrameError extends Error {
  override readonly name = "FrameError";
}

/**
 * Follows message boundaries in a byte stream without copying it.
 *
 * The proxy forwards chunks untouched; this only walks the length prefixes so that it can
 * reject oversized or empty messages and count whole messages in each direction. Work is
 * proportional to the number of messages, not of bytes: bodies are skipped, never read.
 *
 * @example
 * const scanner = new FrameScanner();
 * scanner.push(chunk, (type) => console.log("message of type", type));
 */
export class FrameScanner {
  /** Bytes of the current body still to come; 0 while reading a length prefix. */
  #remaining = 0;
  /** Length-prefix bytes read so far for the next message (0..3). */
  #prefixBytes = 0;
  #prefixValue = 0;
  /** Type byte of the current message, or -1 when its body has not started yet. */
  #type = -1;
  readonly #maxLength: number;

  constructor(maxLength: number = MAX_MESSAGE_LENGTH) {
    this.#maxLength = maxLength;
  }

  /** True when the stream ends exactly on a message boundary. */
  get atBoundary(): boolean {
    return this.#remaining === 0 && this.#prefixBytes === 0;
  }

  /**
   * Consumes one chunk. Calls `onMessage` with the type byte of every message that the chunk
   * completes (and the offset in `chunk` just past its last byte) and returns how many it
   * completed.
   * @throws {FrameError} on a zero-length or oversized message; the stream is then unusable.
   */
  push(chunk: Uint8Array, onMessage?: (type: number, end: number) => void): number {
    let completed = 0;
    let offset = 0;
    const end = chunk.length;
    while (offset < end) {
      if (this.#remaining === 0) {
        // Reading the length prefix, which may arrive split across chunks.
        this.#prefixValue = this.#prefixValue * 256 + (chunk[offset] as number);
        offset += 1;
        this.#prefixBytes += 1;
        if (this.#prefixBytes < LENGTH_PREFIX_BYTES) continue;
        const length = this.#prefixValue;
        this.#prefixBytes = 0;
        this.#prefixValue = 0;
        if (length === 0) throw new FrameError("zero-length message");
        if (length > this.#maxLength) {
          throw new FrameError(`message of ${length} bytes exceeds the ${this.#maxLength}-byte limit`);
        }
        this.#remaining = length;
        this.#type = -1;
        continue;
      }
      if (this.#type === -1) this.#type = chunk[offset] as number;
      const take = Math.min(this.#remaining, end - offset);
      offset += take;
      this.#remaining -= take;
      if (this.#remaining === 0) {
        completed += 1;
        onMessage?.(this.#type, offset);
      }
    }
    return completed;
  }
}
