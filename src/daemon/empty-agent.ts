import type { Socket } from "node:net";
import { EMPTY_IDENTITIES_MESSAGE, FAILURE_MESSAGE } from "../protocol/encode.js";
import { FrameScanner } from "../protocol/frame-scanner.js";
import { MessageType } from "../protocol/messages.js";

/**
 * Answers a client when no agent can: an empty key list for REQUEST_IDENTITIES and FAILURE for
 * everything else, exactly as a locked or empty agent would. Clients then fail at once with
 * their usual "no identities" message instead of hanging or dying of SIGPIPE.
 */
export class EmptyAgent {
  readonly #scanner = new FrameScanner();
  /** @param onFirstAnswer called once, when the first request is answered. */
  constructor(
    private readonly client: Socket,
    private onFirstAnswer?: () => void,
  ) {}

  /** Answers every request `chunk` completes. @throws {FrameError} on malformed input. */
  push(chunk: Uint8Array): void {
    this.#scanner.push(chunk, (type) => {
      this.onFirstAnswer?.();
      this.onFirstAnswer = undefined;
      this.client.write(type === MessageType.REQUEST_IDENTITIES ? EMPTY_IDENTITIES_MESSAGE : FAILURE_MESSAGE);
    });
  }
}
