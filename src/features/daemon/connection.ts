import { connect, type Socket } from "node:net";
import { FrameError, FrameScanner } from "../../shared/protocol/frame-scanner.js";
import { LOCAL_SHORTAGE, NOBODY_LISTENS } from "../../shared/core/dial.js";
import type { Agent, AgentBook } from "./agent-book.js";
import { EmptyAgent } from "./empty-agent.js";
import { LIMITS } from "./policy.js";
import type { Counters } from "../../shared/control/status.js";
import { TIMING } from "../../shared/core/timing.js";
import type { Log } from "../../shared/core/log.js";
import { monotonicMs } from "../../shared/core/clock.js";

/** What every connection shares with the daemon. */
export interface ConnectionContext {
  readonly book: AgentBook;
  readonly log: Log;
  readonly counters: Counters;
  /** A request is never left hanging on an unresponsive agent longer than this. */
  readonly maxWaitMs: number;
  /** The clock every wait of the connection is measured by, in ms (default performance.now,
   * the book's and the daemon's sweep's clock too): tests drive it. */
  readonly now?: () => number;
  /** A scoped socket's filter: only agents it admits are tried (per-identity scopes). */
  readonly accept?: (agent: Agent) => boolean;
  /** Looks for agents again (a login may have appeared since the last look), bounded in time:
   * false when the bound cut the look short (it goes on; what it finds serves later requests). */
  findAgents(): Promise<boolean>;
  /**
   * Asked when a connection's first request is complete, before it is routed: a bounded look
   * when the place new logins appear changed since it was last read (a new login's own first
   * command must find that login's agent), or undefined when nothing changed.
   */
  freshen?(): Promise<unknown> | undefined;
  /**
   * Whether the socket an upstream connection reached is still the candidate that passed the
   * trust checks (not a socket put at the same path since). Asked right after the connect system
   * call (which net.connect to a path makes at once), and no client byte is written before both
   * it said true and 'connect' came; false: the agent counts as gone. A boolean when it can be
   * answered at once (a local file system): no promise, no extra turn of the event loop.
   */
  verifyUpstream(agent: Agent): boolean | Promise<boolean>;
  /** The process ran out of file descriptors (or kernel buffers): new connections are shed. */
  shortOfDescriptors(what: string): void;
  /** Nothing to route to: the daemon explains in its log. */
  noAgent(reason: string): void;
  release(connection: ProxiedConnection): void;
}

/**
 * Where a connection is in its life. It moves down this list (back to "connecting" from
 * "awaiting-first-answer" when its agent turns out to be a zombie or goes away), and to
 * "answered-empty" or "closed" from any point.
 */
export type ConnectionPhase =
  /** No complete request yet: no upstream is opened and no look for agents made for it. */
  | "waiting-for-request"
  /** Choosing an agent (after at most one fresh look for new logins) and connecting to it, up
   * to the check that its socket is still the trusted candidate. Client bytes wait for it. */
  | "connecting"
  /** Connected and checked, the client's bytes passed on, no answer yet: nothing is bound to
   * this agent, so the connection may still move to another (while what the client sent fits
   * in the replay). */
  | "awaiting-first-answer"
  /** The agent answered: the pairing is final. */
  | "paired"
  /** No agent could be used: the connection is answered as an agent with no keys. */
  | "answered-empty"
  | "closed";

const defaultClock = monotonicMs;

/**
 * One client connection paired with one upstream agent connection of its own. Bytes pass
 * through unchanged; only message boundaries are followed, to reject malformed messages and to
 * notice a request that gets no answer.
 *
 * The upstream is opened only once the client has sent a first complete message: a connection
 * that sends nothing (a liveness check) or only garbage never costs a forwarded channel to the
 * laptop, nor a look for agents.
 *
 * Until the agent has answered anything, the connection carries no state (session-bind has not
 * been acknowledged), so everything the client sent is kept and can be replayed to another
 * agent if this one turns out to be a zombie. After the first answer the pairing is final: if
 * the agent then goes away, the client is disconnected rather than silently moved.
 */
export class ProxiedConnection {
  readonly #client: Socket;
  readonly #context: ConnectionContext;
  readonly #now: () => number;
  #phase: ConnectionPhase = "waiting-for-request";
  readonly #tried = new Set<Agent>();
  readonly #requests = new FrameScanner();
  /** Set for each upstream (see #connectNext) before it can send anything. */
  #replies!: FrameScanner;
  #agent: Agent | undefined;
  #upstream: Socket | undefined;
  /** Everything the client sent, while it may still be replayed; undefined once it may not
   * (an answer came, or more than LIMITS.replayBytes was sent). */
  #replay: Buffer[] | undefined = [];
  #replayBytes = 0;
  #emptyAgent: EmptyAgent | undefined;
  /** Client bytes not passed on yet (see #release), oldest first. */
  readonly #held: Held[] = [];
  #heldBytes = 0;
  /** Waiting for the upstream to drain before the client is read again. */
  #drainWait = false;
  #clientEnded = false;
  /** A probe about this connection's late request is under way. */
  #judging = false;
  /** Whether this connection asked for a fresh look for agents, and whether that look was done
   * within its bound (what an empty answer's reason says). */
  #lookedAgain: "not yet" | "done" | "cut short" = "not yet";
  /** Candidates that refused this connection, in turn (bounded: see #connectNext). */
  #deadTried = 0;
  /** #deadTried when the candidates ahead were last checked (see #connectNext). */
  #checkedAheadAt = 0;
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
    this.#now = context.now ?? defaultClock;
    client.on("data", (chunk: Buffer) => this.#onClientData(chunk));
    client.on("end", () => this.#onClientEnd());
    client.on("error", () => undefined);
    client.on("close", () => this.#close());
  }

  /** Called periodically by the daemon: judges an agent that has left a request unanswered. */
  async checkLate(now: number): Promise<void> {
    const agent = this.#agent;
    if (this.#judging || this.#outstanding === 0 || !agent || !this.#upstreamReady()) return;
    // Answers this daemon is not reading (its client does not read them: backpressure) are not
    // the agent's silence: that time does not count.
    if (this.#upstream?.isPaused()) {
      this.#waitingSince = now;
      return;
    }
    if (now - this.#waitingSince < this.#context.book.replyDeadline(agent) || now < this.#nextCheckAt) return;
    this.#judging = true;
    // Only a probe that began after this request started waiting says anything about it.
    const health = await this.#context.book.probe(agent, this.#waitingSince);
    this.#judging = false;
    if (this.#phase === "closed" || this.#agent !== agent || this.#outstanding === 0) return;
    if (health === "live") {
      // Slow but alive (a touch, a confirmation, an unlock prompt): keep waiting, look again later.
      this.#nextCheckAt = this.#now() + TIMING.recheckAliveMs;
      return;
    }
    const waited = this.#now() - this.#firstWaitAt;
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

  get phase(): ConnectionPhase {
    return this.#phase;
  }

  /** Whether the connection may still go to another agent, replaying what the client sent. */
  #canMove(): boolean {
    switch (this.#phase) {
      case "connecting":
      case "awaiting-first-answer":
        return this.#replay !== undefined;
      case "waiting-for-request":
      case "paired":
      case "answered-empty":
      case "closed":
        return false;
    }
  }

  /** Whether the upstream is connected and checked: client bytes go to it as they come. */
  #upstreamReady(): boolean {
    return this.#phase === "awaiting-first-answer" || this.#phase === "paired";
  }

  /** Routes the first request, after a fresh look if a login may have appeared since the last. */
  #beginRouting(): void {
    const look = this.#context.freshen?.();
    if (!look) {
      this.#connectNext();
      return;
    }
    this.#phase = "connecting";
    void look.then(() => this.#connectNext());
  }

  #connectNext(): void {
    if (this.#phase === "closed") return;
    this.#phase = "connecting";
    const agent = this.#context.book.next(this.#tried, this.#context.accept);
    if (!agent) {
      if (this.#lookedAgain === "not yet") {
        // Nothing (left) to route to: a login may have appeared whose notification is not
        // processed yet. One bounded look, then the answer.
        this.#lookedAgain = "done";
        void this.#context.findAgents().then((finished) => {
          if (!finished) this.#lookedAgain = "cut short";
          this.#connectNext();
        });
        return;
      }
      // A look cut short by its bound (a slow file system, a machine under load) is said: a new
      // login's agent it had not reached yet would have been missed.
      const unfinished = this.#lookedAgain === "cut short" ? ` (the look for new logins was still running after ${TIMING.lookAgainMs} ms)` : "";
      this.#answerEmpty(`${this.#tried.size === 0 ? "no agent of this user is available" : "no agent answered"}${unfinished}`);
      return;
    }
    if (this.#deadTried >= LIMITS.deadTriedPerRequest && this.#deadTried > this.#checkedAheadAt && !agent.answered && !agent.acceptedCheck) {
      // Many dead logins' sockets ahead: they are checked a batch at a time rather than one
      // connect of this request's each (stale-triage.ts). Once per dead one met: the request
      // then connects to the next itself, whatever the checks could say (a shortage of ours).
      this.#checkedAheadAt = this.#deadTried;
      void this.#context.book.checkAhead(this.#tried, this.#context.accept).then(() => this.#connectNext());
      return;
    }
    this.#tried.add(agent);
    this.#agent = agent;
    this.#replies = new FrameScanner();
    this.#waitingSince = this.#now();
    let upstream: Socket;
    try {
      upstream = connect({ path: agent.path, allowHalfOpen: true });
    } catch (error) {
      this.#upstreamFailed(agent, error as NodeJS.ErrnoException);
      return;
    }
    this.#upstream = upstream;
    if (this.#context.log.verbose) {
      this.#context.log.detail(`routing a connection to ${agent.path} (${agent.health}, ${agent.candidate.kind})`);
    }
    // Client bytes go to it once it is connected and its socket re-checked, whichever comes last.
    let connected = false;
    let trusted: boolean | undefined;
    const settle = (): void => {
      if (connected && trusted !== undefined) this.#onUpstreamChecked(agent, upstream, trusted);
    };
    upstream.on("connect", () => {
      connected = true;
      settle();
    });
    upstream.on("end", () => {
      if (!this.#moveOnward(agent)) this.#client.end();
    });
    upstream.on("error", (error: NodeJS.ErrnoException) => {
      if (this.#upstream !== upstream) return;
      if (!this.#upstreamReady()) this.#upstreamFailed(agent, error);
      else if (!this.#moveOnward(agent)) this.#close();
    });
    upstream.on("close", () => {
      if (this.#upstream === upstream) this.#close();
    });
    // The re-check follows the connect system call, which net.connect to a path has made by now
    // (a connect that failed at once has destroyed the socket: its 'error' tells why). Made here
    // rather than after 'connect', it is as sound (what the path holds after the connection was
    // made is what it reached: the trusted socket, once gone, cannot come back), and it is out of
    // the way before the connection completes: the request follows the connect at once.
    if (upstream.destroyed) return;
    let verdict: boolean | Promise<boolean>;
    try {
      verdict = this.#context.verifyUpstream(agent);
    } catch {
      verdict = false;
    }
    if (typeof verdict === "boolean") {
      trusted = verdict;
      return;
    }
    verdict.then(
      (answer) => {
        trusted = answer;
        settle();
      },
      () => {
        trusted = false;
        settle();
      },
    );
  }

  /** Connected and re-checked: only a socket that is still the trusted candidate gets the client's bytes. */
  #onUpstreamChecked(agent: Agent, upstream: Socket, trusted: boolean): void {
    if (this.#phase === "closed" || this.#upstream !== upstream) return;
    if (!trusted) {
      this.#context.book.markDead(agent, "the socket at its path, or a directory of yours above it, no longer passes the trust checks");
      this.#dropUpstream();
      this.#connectNext();
      return;
    }
    this.#phase = "awaiting-first-answer";
    this.#waitingSince = this.#now();
    // Read only now: whatever a socket that fails the check sends (an impostor that speaks first)
    // never reaches the client, nor counts as an answer.
    upstream.on("data", (chunk: Buffer) => this.#onAgentData(chunk, agent, upstream));
    for (const chunk of this.#replay ?? []) upstream.write(chunk);
    if (this.#clientEnded && this.#held.length === 0) upstream.end();
  }

  /** The upstream could not be opened (or failed before it was used). */
  #upstreamFailed(agent: Agent, error: NodeJS.ErrnoException): void {
    const code = error.code ?? "";
    if (LOCAL_SHORTAGE.has(code)) {
      // Our shortage, not the agent's fault: shed this connection, keep serving the others.
      this.#context.shortOfDescriptors(`connecting to ${agent.path}: ${code}`);
      this.#context.counters.shed += 1;
      this.#close();
      return;
    }
    if (NOBODY_LISTENS.has(code)) {
      this.#context.book.markDead(agent, `connect failed: ${code}`);
      this.#deadTried += 1;
      this.#context.counters.deadTriedMax = Math.max(this.#context.counters.deadTriedMax ?? 0, this.#deadTried);
    }
    this.#dropUpstream();
    this.#connectNext();
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
    const ends: number[] = [];
    let requests: number;
    try {
      requests = this.#requests.push(chunk, (_type, end) => ends.push(end));
    } catch (error) {
      this.#reject("client", error);
      return;
    }
    this.#context.counters.requests += requests;
    if (this.#emptyAgent) {
      this.#emptyAgent.push(chunk);
      return;
    }
    this.#held.push({ bytes: chunk, ends, start: 0, next: 0 });
    this.#heldBytes += chunk.length;
    this.#release();
  }

  /**
   * Passes on the client's held bytes, up to LIMITS.pipelinedRequests requests awaiting an
   * answer: a client that sends many requests and reads no answers makes the agent (the
   * laptop, through sshd) compute a few, not all of them. A client whose requests wait is not
   * read any further, so what is held stays bounded.
   */
  #release(): void {
    while (this.#held.length > 0 && this.#phase !== "closed") {
      const head = this.#held[0] as Held;
      const waiting = head.ends.length - head.next;
      const allowance = LIMITS.pipelinedRequests - this.#outstanding;
      let cut = head.bytes.length;
      let released = waiting;
      if (waiting > allowance) {
        if (allowance <= 0) break;
        cut = head.ends[head.next + allowance - 1] as number;
        released = allowance;
      }
      const piece = head.start === 0 && cut === head.bytes.length ? head.bytes : head.bytes.subarray(head.start, cut);
      this.#heldBytes -= cut - head.start;
      head.start = cut;
      head.next += released;
      if (cut === head.bytes.length) this.#held.shift();
      if (released > 0) {
        if (this.#outstanding === 0 || !this.#upstreamReady()) this.#waitingSince = this.#now();
        if (this.#firstWaitAt === 0) this.#firstWaitAt = this.#waitingSince;
        this.#outstanding += released;
      }
      if (!this.#send(piece)) return;
      // The first complete request: routing begins.
      if (released > 0 && this.#phase === "waiting-for-request") this.#beginRouting();
    }
    if (this.#held.length === 0 && this.#clientEnded && this.#upstreamReady()) this.#upstream?.end();
    this.#updateClientFlow();
  }

  /** Sends released client bytes upstream (or keeps them until it is ready); false if closed. */
  #send(piece: Buffer): boolean {
    if (this.#replay) {
      this.#replay.push(piece);
      this.#replayBytes += piece.length;
      if (this.#replayBytes > LIMITS.replayBytes) {
        if (!this.#upstreamReady()) {
          this.#reject("client", new FrameError(`sent over ${LIMITS.replayBytes} bytes before any answer`));
          return false;
        }
        this.#replay = undefined;
      }
    }
    const upstream = this.#upstream;
    if (upstream && this.#upstreamReady() && !upstream.write(piece) && !this.#drainWait) {
      this.#drainWait = true;
      upstream.once("drain", () => {
        this.#drainWait = false;
        this.#updateClientFlow();
      });
    }
    return true;
  }

  /**
   * The client is read while little of it is held and the upstream takes what it sends. (Held
   * requests alone do not stop reading below the bound: a paused socket would not notice its
   * client going away.)
   */
  #updateClientFlow(): void {
    const hold = !this.#emptyAgent && (this.#heldBytes > LIMITS.heldBytesPerConnection || this.#drainWait);
    if (hold && !this.#client.isPaused()) this.#client.pause();
    else if (!hold && this.#client.isPaused() && !this.#emptyAgent) this.#client.resume();
  }

  #onAgentData(chunk: Buffer, agent: Agent, upstream: Socket): void {
    let replies: number;
    try {
      replies = this.#replies.push(chunk);
    } catch (error) {
      this.#reject("agent", error);
      return;
    }
    switch (this.#phase) {
      case "awaiting-first-answer":
        this.#phase = "paired";
        this.#replay = undefined;
        this.#context.book.markLive(agent, "answered a client");
        break;
      case "connecting":
        // Bytes before the check of its socket has finished (no agent speaks first): as
        // before, they count as its answer and end the replay, without making it the checked
        // upstream.
        if (this.#replay === undefined) break;
        this.#replay = undefined;
        this.#context.book.markLive(agent, "answered a client");
        break;
      case "paired":
        break;
      case "waiting-for-request":
      case "answered-empty":
      case "closed":
        // Its listeners are removed when it is dropped: no upstream data comes in these.
        return;
    }
    // More than one answer to a request is possible (OpenSSH 10.3 answered `query` twice).
    this.#outstanding = Math.max(0, this.#outstanding - replies);
    // Everything answered: the next stall's overall bound counts from its own first request.
    if (this.#outstanding === 0) this.#firstWaitAt = 0;
    this.#waitingSince = this.#now();
    forward(chunk, upstream, this.#client);
    if (replies > 0 && this.#held.length > 0) this.#release();
  }

  #onClientEnd(): void {
    this.#clientEnded = true;
    switch (this.#phase) {
      case "waiting-for-request":
      case "answered-empty":
        this.#client.end();
        return;
      case "connecting":
        // Passed on once the upstream is checked (see #onUpstreamConnected).
        return;
      case "awaiting-first-answer":
      case "paired":
        if (this.#held.length === 0) this.#upstream?.end();
        return;
      case "closed":
        return;
    }
  }

  #answerEmpty(reason: string): void {
    this.#dropUpstream();
    this.#phase = "answered-empty";
    this.#agent = undefined;
    // Counted once a request is really answered: a client that only connects (a liveness
    // check) was not turned away.
    const emptyAgent = new EmptyAgent(this.#client, () => {
      this.#context.counters.answeredEmpty += 1;
      this.#context.noAgent(reason);
    });
    this.#emptyAgent = emptyAgent;
    const held = this.#held.splice(0).map((h) => h.bytes.subarray(h.start));
    this.#heldBytes = 0;
    // From now on the empty agent decides when the client is read (it pauses a client that
    // does not read its answers).
    this.#client.resume();
    try {
      for (const chunk of [...(this.#replay ?? []), ...held]) emptyAgent.push(chunk);
    } catch (error) {
      this.#reject("client", error);
      return;
    }
    this.#replay = undefined;
    this.#outstanding = 0;
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
    if (upstream) {
      upstream.removeAllListeners();
      upstream.on("error", () => undefined);
      upstream.destroy();
    }
    // A pause waiting for the old upstream to drain must not outlive it.
    this.#drainWait = false;
    if (this.#phase !== "closed") this.#updateClientFlow();
  }

  #close(): void {
    if (this.#phase === "closed") return;
    this.#phase = "closed";
    this.#dropUpstream();
    this.#client.destroy();
    this.#context.release(this);
  }
}

/** Client bytes not yet passed on, with the ends of the requests they complete. */
interface Held {
  readonly bytes: Buffer;
  /** Offsets just past each request that ends in `bytes`. */
  readonly ends: number[];
  /** Bytes before this offset were passed on. */
  start: number;
  /** Index in `ends` of the first request not passed on. */
  next: number;
}

/** Writes `chunk` to `to`, pausing `from` until `to` drains: memory stays bounded. */
function forward(chunk: Buffer, from: Socket, to: Socket): void {
  if (to.write(chunk) || from.isPaused()) return;
  from.pause();
  to.once("drain", () => from.resume());
}
