import type { Socket } from "node:net";
import { EMPTY_IDENTITIES_MESSAGE, FAILURE_MESSAGE } from "../../shared/protocol/encode.js";
import { FrameScanner } from "../../shared/protocol/frame-scanner.js";
import { MessageType } from "../../shared/protocol/messages.js";

/**
 * Answers a client when no agent can: an empty key list for REQUEST_IDENTITIES and FAILURE for
 * everything else, exactly as a locked or empty agent would. Clients then fail at once with
 * their usual "no identities" message instead of hanging or dying of SIGPIPE.
 *
 * The answers to one chunk of requests go out in one write, and a client that does not read
 * them is not read either until it does (as the proxy path does): memory per connection stays
 * bounded by one chunk's answers plus the socket's buffer, however much the client sends.
 */
export class EmptyAgent {
  readonly #scanner = new FrameScanner();
  readonly #answers: Buffer[] = [];
  /** @param onFirstAnswer called once, when the first request is answered. */
  constructor(
    private readonly client: Socket,
    private onFirstAnswer?: () => void,
  ) {}

  /** Answers every request `chunk` completes. @throws {FrameError} on malformed input. */
  push(chunk: Uint8Array): void {
    const answers = this.#answers;
    try {
      this.#scanner.push(chunk, (type) => {
        answers.push(type === MessageType.REQUEST_IDENTITIES ? EMPTY_IDENTITIES_MESSAGE : FAILURE_MESSAGE);
      });
    } finally {
      // Requests completed before a malformed one are answered, as before.
      this.#flush();
    }
  }

  #flush(): void {
    const answers = this.#answers;
    if (answers.length === 0) return;
    this.onFirstAnswer?.();
    this.onFirstAnswer = undefined;
    const bytes = answers.length === 1 ? (answers[0] as Buffer) : Buffer.concat(answers);
    answers.length = 0;
    const client = this.client;
    if (client.destroyed) return;
    if (!client.write(bytes) && !client.isPaused()) {
      client.pause();
      client.once("drain", () => client.resume());
    }
  }
}
