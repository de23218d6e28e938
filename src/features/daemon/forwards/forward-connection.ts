import type { Socket } from "node:net";
import { dial, LOCAL_SHORTAGE } from "../../../shared/core/dial.js";
import { TIMING } from "../../../shared/core/timing.js";
import { LIMITS } from "../policy.js";
import { refuseAsAssuan } from "./assuan.js";
import type { Forward, ForwardBook } from "./forward-book.js";

/** What a forward connection shares with the daemon. */
export interface ForwardContext {
  readonly book: ForwardBook;
  readonly name: string;
  /** A scoped socket's filter: only that person's logins' forwards. */
  readonly accept?: (forward: Forward) => boolean;
  /** Whether the socket reached is still the one that passed the trust checks. */
  verify(forward: Forward): Promise<boolean>;
  readonly log: (message: string) => void;
  readonly verbose: boolean;
  /** Out of descriptors: the connection is shed. */
  shortOfDescriptors(what: string): void;
  release(connection: ForwardConnection): void;
}

/**
 * One client connection of a forward's stable socket, paired 1:1 with one live forwarded socket
 * of a login, then a plain byte stream both ways (the agent protocol's framing is the agent's
 * only). The newest live forward is tried first. gpg-agent greets as soon as it is connected
 * (Assuan): a forward that does not greet within TIMING.forwardGreetingMs is a zombie login
 * (its laptop asleep) and the next is tried; the greeting is the first byte answered, and from
 * then on the pairing is final (Assuan sessions are stateful: OPTION, INQUIRE, pinentry). The
 * last forward left is waited for longer (TIMING.forwardLastGreetingMs): a slow laptop is
 * better than none. A named forward has no protocol to probe: it is paired once connected
 * (its login counted a zombie when that login's agent or gpg forward is one, see ForwardBook).
 * No forward left: gpg is answered "No agent running" at once; a named forward's client is
 * closed.
 */
export class ForwardConnection {
  readonly #client: Socket;
  readonly #context: ForwardContext;
  readonly #tried = new Set<Forward>();
  /** What the client sent before the pairing, passed on once it is final. */
  #held: Buffer[] = [];
  #heldBytes = 0;
  #upstream: Socket | undefined;
  #paired = false;
  #closed = false;
  #clientEnded = false;

  constructor(client: Socket, context: ForwardContext) {
    this.#client = client;
    this.#context = context;
    client.on("data", (chunk: Buffer) => this.#onClientData(chunk));
    client.on("end", () => {
      this.#clientEnded = true;
      if (this.#paired) this.#upstream?.end();
      else if (this.#held.length === 0 && !this.#upstream) this.#close();
    });
    client.on("error", () => undefined);
    client.on("close", () => this.#close());
    void this.#connectNext();
  }

  destroy(): void {
    this.#close();
  }

  #onClientData(chunk: Buffer): void {
    if (this.#paired) {
      forward(chunk, this.#client, this.#upstream as Socket);
      return;
    }
    this.#held.push(chunk);
    this.#heldBytes += chunk.length;
    if (this.#heldBytes > LIMITS.heldBytesPerConnection) this.#client.pause();
  }

  async #connectNext(): Promise<void> {
    if (this.#closed) return;
    const { book, name } = this.#context;
    let target = book.next(name, this.#tried, this.#context.accept);
    if (!target && this.#tried.size === 0) {
      // Nothing known: a login may have just appeared whose notification is not processed yet.
      await book.rescan();
      target = book.next(name, this.#tried, this.#context.accept);
    }
    if (this.#closed) return;
    if (!target) return this.#refuse();
    this.#tried.add(target);
    const last = book.next(name, this.#tried, this.#context.accept) === undefined;
    const dialed = await dial({ path: target.path, allowHalfOpen: true }, TIMING.forwardGreetingMs);
    if (this.#closed) {
      if (dialed.kind === "connected") dialed.socket.destroy();
      return;
    }
    if (dialed.kind === "failed") {
      if (LOCAL_SHORTAGE.has(dialed.code)) {
        this.#context.shortOfDescriptors(`connecting to ${target.path}: ${dialed.code}`);
        return this.#close();
      }
      await book.refused(target, dialed.code);
      return this.#connectNext();
    }
    if (dialed.kind === "timed-out") {
      book.markZombie(target, `no connection in ${TIMING.forwardGreetingMs} ms`);
      return this.#connectNext();
    }
    const upstream = dialed.socket;
    upstream.on("error", () => undefined);
    // gpg: its greeting is the liveness answer, awaited while the trust check runs (nothing of
    // either side is passed on before both are done).
    const greeted = target.kind === "gpg" ? firstBytes(upstream, last ? TIMING.forwardLastGreetingMs : TIMING.forwardGreetingMs) : Promise.resolve([]);
    const trusted = await this.#context.verify(target).catch(() => false);
    if (!trusted) {
      upstream.destroy();
      await greeted;
      await book.refused(target, "ENOENT");
      return this.#connectNext();
    }
    const greeting = await greeted;
    if (this.#closed) {
      upstream.destroy();
      return;
    }
    if (target.kind === "named") return this.#pair(target, upstream, []);
    if (!greeting) {
      const closed = upstream.closed || upstream.readableEnded;
      upstream.destroy();
      // Closed at once: sshd could not reach the laptop's socket (the login is ending).
      if (closed) book.markZombie(target, "closed without a greeting");
      else book.markZombie(target, "no greeting in time");
      return this.#connectNext();
    }
    book.markLive(target, "greeted a client");
    this.#pair(target, upstream, greeting);
  }

  #pair(target: Forward, upstream: Socket, answered: Buffer[]): void {
    this.#upstream = upstream;
    this.#paired = true;
    if (this.#context.verbose) this.#context.log(`a ${target.name} connection goes to ${target.path}`);
    for (const chunk of answered) this.#client.write(chunk);
    upstream.on("data", (chunk: Buffer) => forward(chunk, upstream, this.#client));
    upstream.on("end", () => this.#client.end());
    upstream.on("close", () => this.#close());
    upstream.resume();
    for (const chunk of this.#held) upstream.write(chunk);
    this.#held = [];
    this.#heldBytes = 0;
    this.#client.resume();
    if (this.#clientEnded) upstream.end();
  }

  #refuse(): void {
    if (this.#context.name === "gpg") {
      this.#context.log(`a gpg connection found no live forwarded gpg-agent: answered "No agent running"`);
      const held = this.#held;
      this.#held = [];
      this.#client.removeAllListeners("data");
      refuseAsAssuan(this.#client, held, () => undefined);
      return;
    }
    this.#context.log(`a ${this.#context.name} connection found no live forward: closed`);
    this.#close();
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#upstream?.destroy();
    this.#client.destroy();
    this.#context.release(this);
  }
}

/** The first bytes `socket` sends within `timeoutMs` (undefined: none, or it closed first). */
function firstBytes(socket: Socket, timeoutMs: number): Promise<Buffer[] | undefined> {
  return new Promise((resolve) => {
    const settle = (value: Buffer[] | undefined): void => {
      clearTimeout(timer);
      socket.off("data", onData);
      socket.off("end", onEnd);
      socket.off("close", onEnd);
      socket.pause();
      resolve(value);
    };
    const onData = (chunk: Buffer): void => settle([chunk]);
    const onEnd = (): void => settle(undefined);
    const timer = setTimeout(() => settle(undefined), timeoutMs);
    socket.on("data", onData);
    socket.once("end", onEnd);
    socket.once("close", onEnd);
  });
}

/** Writes `chunk` to `to`, pausing `from` until `to` drains: memory stays bounded. */
function forward(chunk: Buffer, from: Socket, to: Socket): void {
  if (to.write(chunk) || from.isPaused()) return;
  from.pause();
  to.once("drain", () => from.resume());
}
