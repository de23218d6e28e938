import { connect, type Socket } from "node:net";
import { FrameError, FrameScanner } from "../protocol/frame-scanner.js";
import { MAX_MESSAGE_LENGTH } from "../protocol/messages.js";
import type { Agent, AgentBook } from "./agent-book.js";
import { EmptyAgent } from "./empty-agent.js";
import type { Log } from "../log.js";

/** What every connection shares with the daemon. */
export interface ConnectionContext {
  readonly book: AgentBook;
  readonly log: Log;
  readonly counters: Counters;
  /** A request unanswered this long gets its agent probed. */
  readonly replyTimeoutMs: number;
  /** A request is never left hanging on an unresponsive agent longer than this. */
  readonly maxWaitMs: number;
  /** A scoped socket's filter: only agents it admits are tried (per-identity scopes). */
  readonly accept?: (agent: Agent) => boolean;
  /** Looks for agents again (a login may have appeared since the last look). */
  findAgents(): Promise<void>;
  /** Nothing to route to: the daemon explains in its log. */
  noAgent(reason: string): void;
  release(connection: ProxiedConnection): void;
}

export interface Counters {
  served: number;
  /** Requests clients sent, over all connections. */
  requests: number;
  active: number;
  /** Connections moved to another agent because theirs did not answer. */
  failovers: number;
  /** Connections answered as an empty agent because no agent could. */
  answeredEmpty: number;
  /** Connections closed for malformed input from the client or the agent. */
  rejected: number;
}

/** Bytes a client may send before its first answer and still be moved to another agent. */
const REPLAY_LIMIT = 4 * MAX_MESSAGE_LENGTH;

/** A slow agent that answered a probe is probed again after this long if still silent. */
const RECHECK_ALIVE_MS = 5000;

/** connect() errors that mean no agent listens at that path any more. */
const GONE = new Set(["ECONNREFUSED", "ENOENT", "ENOTSOCK", "ENOTDIR"]);

/**
 * One client connection paired with one upstream agent connection of its own. Bytes pass
 * through unchanged; only message boundaries are followed, to reject malformed messages and to
 * notice a request that gets no answer.
 *
 * Until the agent has answered anything, the connection carries no state (session-bind has not
 * been acknowledged), so everything the client sent is kept and can be replayed to another
 * agent if this one turns out to be a zombie. After the first answer the pairing is final: if
 * the agent then goes away, the client is disconnected rather than silently moved.
 */
export class ProxiedConnection {
  readonly #client: Socket;
  readonly #context: ConnectionContext;
  readonly #tried = new Set<Agent>();
  readonly #requests = new FrameScanner();
  #replies = new FrameScanner();
  #agent: Agent | undefined;
  #upstream: Socket | undefined;
  #upstreamReady = false;
  #answered = false;
  /** Everything the client sent, while it may still be replayed; undefined once it may not. */
  #replay: Buffer[] | undefined = [];
  #replayBytes = 0;
  #emptyAgent: EmptyAgent | undefined;
  #clientEnded = false;
  #closed = false;
  #judging = false;
  /** Whether this connection already asked for a fresh look for agents. */
  #lookedAgain = false;
  /** Requests sent and not yet answered. */
  #outstanding = 0;
  /** When the oldest unanswered request was sent (or the last byte of answer came). */
  #waitingSince = 0;
  /** When the first request went unanswered, for the overall bound. */
  #firstWaitAt = 0;
  /** No new verdict on a slow but alive agent is sought before this time. */
  #nextCheckAt = 0;

  constructor(client: Socket, context: ConnectionContext) {
    this.#client = client;
    this.#context = context;
    client.on("data", (chunk: Buffer) => this.#onClientData(chunk));
    client.on("end", () => this.#onClientEnd());
    client.on("error", () => undefined);
    client.on("close", () => this.#close());
    this.#connectNext();
  }

  /** Called periodically by the daemon: judges an agent that has left a request unanswered. */
  async checkLate(now: number): Promise<void> {
    const agent = this.#agent;
    if (this.#judging || this.#outstanding === 0 || !agent || this.#emptyAgent) return;
    if (now - this.#waitingSince < this.#context.replyTimeoutMs || now < this.#nextCheckAt) return;
    this.#judging = true;
    // Only a probe that began after this request started waiting says anything about it.
    const health = await this.#context.book.probe(agent, this.#waitingSince);
    this.#judging = false;
    if (this.#closed || this.#agent !== agent || this.#outstanding === 0) return;
    if (health === "live") {
      // Slow but alive (a touch, a confirmation, an unlock prompt): keep waiting, look again later.
      this.#nextCheckAt = performance.now() + RECHECK_ALIVE_MS;
      return;
    }
    const waited = performance.now() - this.#firstWaitAt;
    if (this.#canMove()) {
      if (this.#context.book.next(this.#tried, this.#context.accept)) {
        this.#context.counters.failovers += 1;
        this.#context.log.info(`moving a connection off ${agent.path} (${health}: ${agent.reason}) to the next agent`);
        this.#dropUpstream();
        this.#connectNext();
      } else if (waited >= this.#context.maxWaitMs) {
        this.#answerEmpty(`only ${agent.path} was left and it did not answer for ${Math.round(waited / 1000)} s`);
      }
      return;
    }
    if (waited >= this.#context.maxWaitMs) {
      this.#context.log.info(`closing a connection: ${agent.path} stopped answering ${Math.round(waited / 1000)} s ago`);
      this.#close();
    }
  }

  /** Closes both sides (the daemon is stopping). */
  destroy(): void {
    this.#close();
  }

  get outstanding(): number {
    return this.#outstanding;
  }

  #canMove(): boolean {
    return !this.#answered && this.#replay !== undefined;
  }

  #connectNext(): void {
    if (this.#closed) return;
    const agent = this.#context.book.next(this.#tried, this.#context.accept);
    if (!agent) {
      if (this.#tried.size === 0 && !this.#lookedAgain) {
        this.#lookedAgain = true;
        void this.#context.findAgents().then(() => this.#connectNext());
        return;
      }
      this.#answerEmpty(this.#tried.size === 0 ? "no agent of this user is available" : "no agent answered");
      return;
    }
    this.#tried.add(agent);
    this.#agent = agent;
    this.#upstreamReady = false;
    this.#replies = new FrameScanner();
    this.#waitingSince = performance.now();
    const upstream = connect({ path: agent.path, allowHalfOpen: true });
    this.#upstream = upstream;
    if (this.#context.log.verbose) {
      this.#context.log.detail(`routing a connection to ${agent.path} (${agent.health}, ${agent.candidate.kind})`);
    }
    upstream.on("connect", () => {
      this.#upstreamReady = true;
      for (const chunk of this.#replay ?? []) upstream.write(chunk);
      if (this.#clientEnded) upstream.end();
    });
    upstream.on("data", (chunk: Buffer) => this.#onAgentData(chunk, agent, upstream));
    upstream.on("end", () => {
      if (!this.#moveOnward(agent)) this.#client.end();
    });
    upstream.on("error", (error: NodeJS.ErrnoException) => {
      if (this.#upstream !== upstream) return;
      if (!this.#upstreamReady) {
        if (GONE.has(error.code ?? "")) this.#context.book.markDead(agent, `connect failed: ${error.code}`);
        this.#dropUpstream();
        this.#connectNext();
      } else if (!this.#moveOnward(agent)) {
        this.#close();
      }
    });
    upstream.on("close", () => {
      if (this.#upstream === upstream) this.#close();
    });
  }

  /**
   * The agent closed or broke the connection. Before its first answer nothing is bound to it,
   * so the request moves to the next agent (returns true); after, the pairing is final.
   */
  #moveOnward(agent: Agent): boolean {
    if (!this.#canMove() || this.#clientEnded) return false;
    // It may be dying (sshd lost the laptop's agent): let a probe tell the others.
    void this.#context.book.probe(agent);
    this.#dropUpstream();
    this.#connectNext();
    return true;
  }

  #onClientData(chunk: Buffer): void {
    let requests: number;
    try {
      requests = this.#requests.push(chunk);
    } catch (error) {
      this.#reject("client", error);
      return;
    }
    this.#context.counters.requests += requests;
    if (this.#emptyAgent) {
      this.#emptyAgent.push(chunk);
      return;
    }
    if (requests > 0) {
      if (this.#outstanding === 0) this.#waitingSince = performance.now();
      if (this.#firstWaitAt === 0) this.#firstWaitAt = this.#waitingSince;
      this.#outstanding += requests;
    }
    if (this.#replay) {
      this.#replay.push(chunk);
      this.#replayBytes += chunk.length;
      if (this.#replayBytes > REPLAY_LIMIT) {
        if (!this.#upstreamReady) {
          this.#reject("client", new FrameError(`sent over ${REPLAY_LIMIT} bytes before any answer`));
          return;
        }
        this.#replay = undefined;
      }
    }
    if (this.#upstreamReady) forward(chunk, this.#client, this.#upstream as Socket);
  }

  #onAgentData(chunk: Buffer, agent: Agent, upstream: Socket): void {
    let replies: number;
    try {
      replies = this.#replies.push(chunk);
    } catch (error) {
      this.#reject("agent", error);
      return;
    }
    if (!this.#answered) {
      this.#answered = true;
      this.#replay = undefined;
      this.#context.book.markLive(agent, "answered a client");
    }
    // More than one answer to a request is possible (OpenSSH 10.3 answered `query` twice).
    this.#outstanding = Math.max(0, this.#outstanding - replies);
    this.#waitingSince = performance.now();
    forward(chunk, upstream, this.#client);
  }

  #onClientEnd(): void {
    this.#clientEnded = true;
    if (this.#emptyAgent) this.#client.end();
    else if (this.#upstreamReady) this.#upstream?.end();
  }

  #answerEmpty(reason: string): void {
    this.#dropUpstream();
    this.#agent = undefined;
    // Counted once a request is really answered: a client that only connects (a liveness
    // check) was not turned away.
    const emptyAgent = new EmptyAgent(this.#client, () => {
      this.#context.counters.answeredEmpty += 1;
      this.#context.noAgent(reason);
    });
    this.#emptyAgent = emptyAgent;
    try {
      for (const chunk of this.#replay ?? []) emptyAgent.push(chunk);
    } catch (error) {
      this.#reject("client", error);
      return;
    }
    this.#replay = undefined;
    if (this.#clientEnded) this.#client.end();
  }

  #reject(side: "client" | "agent", error: unknown): void {
    this.#context.counters.rejected += 1;
    const what = error instanceof FrameError ? error.message : String(error);
    this.#context.log.info(`closing a connection: the ${side} sent a malformed message (${what})`);
    this.#close();
  }

  #dropUpstream(): void {
    const upstream = this.#upstream;
    this.#upstream = undefined;
    this.#upstreamReady = false;
    if (upstream) {
      upstream.removeAllListeners();
      upstream.on("error", () => undefined);
      upstream.destroy();
    }
    // A pause waiting for the old upstream to drain must not outlive it.
    if (this.#client.isPaused()) this.#client.resume();
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#dropUpstream();
    this.#client.destroy();
    this.#context.release(this);
  }
}

/** Writes `chunk` to `to`, pausing `from` until `to` drains: memory stays bounded. */
function forward(chunk: Buffer, from: Socket, to: Socket): void {
  if (to.write(chunk) || from.isPaused()) return;
  from.pause();
  to.once("drain", () => from.resume());
}
