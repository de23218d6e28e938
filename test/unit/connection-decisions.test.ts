import assert from "node:assert/strict";
import { rm } from "node:fs/promises";
import { connect, createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { TIMING } from "../../src/shared/core/timing.js";
import { AgentBook, type Agent } from "../../src/features/daemon/agent-book.js";
import { ProxiedConnection, type ConnectionContext } from "../../src/features/daemon/connection.js";
import type { Counters } from "../../src/shared/control/status.js";
import type { AgentHealth } from "../../src/shared/discovery/health.js";
import type { Candidate } from "../../src/shared/discovery/candidate.js";
import { Log } from "../../src/shared/core/log.js";
import { EMPTY_IDENTITIES_MESSAGE, encodeMessage, REQUEST_IDENTITIES_MESSAGE } from "../../src/shared/protocol/encode.js";
import { MessageType } from "../../src/shared/protocol/messages.js";
import { FrameScanner } from "../../src/shared/protocol/frame-scanner.js";
import { tempDir, waitFor } from "../helpers/process.js";

/**
 * ProxiedConnection's decisions (probe a late request, keep waiting on a slow agent, move off a
 * zombie, never move after an answer, give up) driven by a clock of the test's own instead of
 * the daemon's 100 ms sweep and real seconds. The sockets are real, in-process ones: the client,
 * and stand-in agents that answer or stay silent; only the probes' verdicts are scripted.
 * (test/integration/switcher.test.ts and resilience.test.ts cover the same rule with real agents
 * and a real daemon.)
 */

const REPLY_TIMEOUT_MS = 1000;
const MAX_WAIT_MS = 60_000;

/** An AgentBook whose probes return scripted verdicts at once, and are counted. */
class ScriptedBook extends AgentBook {
  readonly verdicts = new Map<string, AgentHealth>();
  readonly probes: { path: string; notBefore: number | undefined }[] = [];

  constructor() {
    super({ probeTimeoutMs: 2000, replyTimeoutMs: REPLY_TIMEOUT_MS, log: () => undefined, probeNewAgents: false });
  }

  override probe(agent: Agent, notBefore?: number): Promise<AgentHealth> {
    this.probes.push({ path: agent.path, notBefore });
    return Promise.resolve(this.verdicts.get(agent.path) ?? "live");
  }
}

/** A stand-in agent of the test's own. */
interface StandIn {
  readonly path: string;
  readonly candidate: Candidate;
  /** Bytes it received, over all its connections. */
  received: number;
  /** The same bytes, as they came. */
  readonly chunks: Buffer[];
  connections: number;
}

describe("ProxiedConnection's decisions, with a fake context and clock", () => {
  const cleanups: (() => unknown)[] = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  let created = 1_700_000_000_000;
  /** Answers the first `answers` requests with an empty key list, then none; each one made is
   * newer than the last (routed to first). */
  async function standIn(directory: string, name: string, answers: number): Promise<StandIn> {
    const path = join(directory, name);
    created += 1000;
    const agent: StandIn = { path, candidate: { path, kind: "forwarded", createdMs: created, dev: 0, ino: 0 }, received: 0, chunks: [], connections: 0 };
    let left = answers;
    const server: Server = createServer((socket: Socket) => {
      agent.connections += 1;
      const scanner = new FrameScanner();
      socket.on("error", () => undefined);
      socket.on("data", (chunk: Buffer) => {
        agent.received += chunk.length;
        agent.chunks.push(chunk);
        scanner.push(chunk, () => {
          if (left <= 0) return;
          left -= 1;
          socket.write(EMPTY_IDENTITIES_MESSAGE);
        });
      });
    });
    await new Promise<void>((resolve) => server.listen(path, resolve));
    cleanups.push(() => new Promise((resolve) => server.close(resolve)));
    return agent;
  }

  /** The connection code behind a front socket, with everything it shares faked. */
  async function setUp(
    agents: readonly StandIn[],
    options: { onLook?: (book: ScriptedBook) => void; verify?: (agent: Agent) => Promise<boolean>; lookFinishes?: boolean } = {},
  ) {
    const directory = await tempDir();
    cleanups.push(() => rm(directory, { recursive: true, force: true }));
    const book = new ScriptedBook();
    book.sync(agents.map((agent) => agent.candidate));
    const clock = { now: 1000 };
    const counters: Counters = { served: 0, requests: 0, active: 0, failovers: 0, answeredEmpty: 0, rejected: 0, shed: 0 };
    const noAgent: string[] = [];
    let looks = 0;
    const context: ConnectionContext = {
      book,
      log: new Log({ file: join(directory, "log") }),
      counters,
      maxWaitMs: MAX_WAIT_MS,
      now: () => clock.now,
      findAgents: async () => {
        looks += 1;
        options.onLook?.(book);
        return options.lookFinishes ?? true;
      },
      verifyUpstream: options.verify ?? (async () => true),
      shortOfDescriptors: () => undefined,
      noAgent: (reason) => noAgent.push(reason),
      release: () => undefined,
    };
    const connections: ProxiedConnection[] = [];
    const front = join(directory, "front.sock");
    const server = createServer({ allowHalfOpen: true }, (socket) => connections.push(new ProxiedConnection(socket, context)));
    await new Promise<void>((resolve) => server.listen(front, resolve));
    cleanups.push(() => new Promise((resolve) => server.close(resolve)));
    const client = await new Client(front).connected();
    cleanups.push(() => client.socket.destroy());
    const connection = await waitFor("the connection", () => connections[0]);
    return { book, clock, counters, noAgent, looks: () => looks, client, connection };
  }

  it("probes an agent that leaves a request unanswered past its deadline, and not sooner", async () => {
    const directory = await tempDir();
    cleanups.push(() => rm(directory, { recursive: true, force: true }));
    const silent = await standIn(directory, "silent.sock", 0);
    const { book, clock, client, connection } = await setUp([silent]);
    client.request();
    await waitFor("the request to reach the agent", () => connection.phase === "awaiting-first-answer" && silent.received === 5);
    const sentAt = clock.now;
    clock.now += REPLY_TIMEOUT_MS - 1;
    await connection.checkLate(clock.now);
    assert.equal(book.probes.length, 0, "not overdue yet");
    clock.now += 1;
    await connection.checkLate(clock.now);
    assert.deepEqual(book.probes, [{ path: silent.path, notBefore: sentAt }], "one probe, and only one begun after the request counts");
  });

  it("keeps waiting on an agent that answers the probe (slow, not asleep), and asks again only after a pause", async () => {
    const directory = await tempDir();
    cleanups.push(() => rm(directory, { recursive: true, force: true }));
    const other = await standIn(directory, "other.sock", 1);
    const slow = await standIn(directory, "slow.sock", 0);
    const { book, clock, counters, client, connection } = await setUp([other, slow]);
    client.request();
    await waitFor("the request to reach the newest agent", () => connection.phase === "awaiting-first-answer" && slow.received === 5);
    clock.now += REPLY_TIMEOUT_MS;
    await connection.checkLate(clock.now);
    assert.equal(book.probes.length, 1);
    assert.equal(connection.phase, "awaiting-first-answer", "still waiting on the same agent");
    assert.equal(counters.failovers, 0);
    clock.now += TIMING.recheckAliveMs - 1;
    await connection.checkLate(clock.now);
    assert.equal(book.probes.length, 1, "no new verdict sought before the pause is over");
    clock.now += 1;
    await connection.checkLate(clock.now);
    assert.equal(book.probes.length, 2);
    assert.equal(other.connections, 0, "never moved");
  });

  it("moves a connection off a zombie before the first answer, replaying what the client sent", async () => {
    const directory = await tempDir();
    cleanups.push(() => rm(directory, { recursive: true, force: true }));
    const older = await standIn(directory, "older.sock", 1);
    const zombie = await standIn(directory, "zombie.sock", 0);
    const { book, clock, counters, client, connection } = await setUp([older, zombie]);
    book.verdicts.set(zombie.path, "zombie");
    const answer = client.request();
    await waitFor("the request to reach the newest agent", () => connection.phase === "awaiting-first-answer" && zombie.received === 5);
    clock.now += REPLY_TIMEOUT_MS;
    await connection.checkLate(clock.now);
    assert.equal(counters.failovers, 1);
    assert.deepEqual(await answer, EMPTY_IDENTITIES_MESSAGE, "answered by the older agent");
    assert.equal(older.received, 5, "the request was replayed to it, once");
    assert.equal(connection.phase, "paired");
  });

  it("moves a session-bind and the sign request sent behind it, unanswered, to the next agent: the same bytes, in order, once", async () => {
    // ssh waits for the bind's answer before it asks anything else; a client that does not must
    // get the same: destination-constrained keys (ssh-add -h) sign only on a connection whose
    // agent saw the bind, so a move never drops, reorders or answers it.
    const directory = await tempDir();
    cleanups.push(() => rm(directory, { recursive: true, force: true }));
    const older = await standIn(directory, "older.sock", 2);
    const zombie = await standIn(directory, "zombie.sock", 0);
    const { book, clock, counters, client, connection } = await setUp([older, zombie]);
    book.verdicts.set(zombie.path, "zombie");
    const text = (value: string) => {
      const bytes = Buffer.from(value);
      return Buffer.concat([Buffer.from([0, 0, 0, bytes.length]), bytes]);
    };
    const bind = encodeMessage(MessageType.EXTENSION, Buffer.concat([text("session-bind@openssh.com"), text("host key"), text("session id"), text("signature"), Buffer.from([0])]));
    const sign = encodeMessage(MessageType.SIGN_REQUEST, Buffer.concat([text("key blob"), text("data"), Buffer.from([0, 0, 0, 0])]));
    const sent = Buffer.concat([bind, sign]);
    client.socket.write(sent);
    await waitFor("both to reach the newest agent", () => connection.phase === "awaiting-first-answer" && zombie.received === sent.length);
    clock.now += REPLY_TIMEOUT_MS;
    await connection.checkLate(clock.now);
    assert.equal(counters.failovers, 1);
    await waitFor("both to reach the older agent", () => older.received >= sent.length);
    assert.deepEqual(Buffer.concat(older.chunks), sent, "replayed unchanged, in order, once");
    assert.equal(older.connections, 1);
  });

  it("never moves a connection after its agent's first answer, and closes it after the maximum wait", async () => {
    const directory = await tempDir();
    cleanups.push(() => rm(directory, { recursive: true, force: true }));
    const older = await standIn(directory, "older.sock", 1);
    const sleeper = await standIn(directory, "sleeper.sock", 1);
    const { book, clock, counters, client, connection } = await setUp([older, sleeper]);
    assert.deepEqual(await client.request(), EMPTY_IDENTITIES_MESSAGE);
    assert.equal(connection.phase, "paired");
    book.verdicts.set(sleeper.path, "zombie");
    // An hour of use later: the bound counts from this stall's own request, not the first one.
    clock.now += 3_600_000;
    const stalledAt = clock.now;
    void client.request();
    await waitFor("the second request to reach the agent", () => sleeper.received === 10);
    clock.now += REPLY_TIMEOUT_MS;
    await connection.checkLate(clock.now);
    assert.equal(book.probes.length, 1, "probed");
    assert.equal(counters.failovers, 0, "but not moved: the pairing is final");
    assert.equal(connection.phase, "paired");
    assert.equal(older.connections, 0);
    clock.now = stalledAt + MAX_WAIT_MS - 1;
    await connection.checkLate(clock.now);
    assert.equal(connection.phase, "paired", "not before the maximum wait");
    clock.now = stalledAt + MAX_WAIT_MS;
    await connection.checkLate(clock.now);
    assert.equal(connection.phase, "closed");
    await client.closed;
  });

  it("never passes on what a socket that fails the re-check sends, even when it speaks first", async () => {
    const directory = await tempDir();
    cleanups.push(() => rm(directory, { recursive: true, force: true }));
    const honest = await standIn(directory, "honest.sock", 1);
    const impostorPath = join(directory, "impostor.sock");
    created += 1000;
    const impostor: StandIn = { path: impostorPath, candidate: { path: impostorPath, kind: "forwarded", createdMs: created, dev: 0, ino: 0 }, received: 0, chunks: [], connections: 0 };
    const forged = Buffer.from([0, 0, 0, 1, 6]); // SSH_AGENT_SUCCESS, before anything was asked
    const server = createServer((socket) => {
      impostor.connections += 1;
      socket.on("error", () => undefined);
      socket.on("data", (chunk: Buffer) => (impostor.received += chunk.length));
      socket.write(forged);
    });
    await new Promise<void>((resolve) => server.listen(impostorPath, resolve));
    cleanups.push(() => new Promise((resolve) => server.close(resolve)));
    const { client } = await setUp([honest, impostor], {
      // The re-check takes a moment, and the newest candidate fails it.
      verify: (agent) => new Promise((resolve) => setTimeout(() => resolve(agent.path !== impostorPath), 50)),
    });
    assert.deepEqual(await client.request(), EMPTY_IDENTITIES_MESSAGE, "the honest agent's answer, not the forged one");
    assert.equal(impostor.connections, 1);
    assert.equal(impostor.received, 0, "no byte of the client's reached it");
  });

  it("waits on the only agent left up to the maximum wait, then answers as an agent with no keys", async () => {
    const directory = await tempDir();
    cleanups.push(() => rm(directory, { recursive: true, force: true }));
    const only = await standIn(directory, "only.sock", 0);
    const { book, clock, counters, noAgent, looks, client, connection } = await setUp([only]);
    book.verdicts.set(only.path, "zombie");
    const answer = client.request();
    await waitFor("the request to reach the agent", () => connection.phase === "awaiting-first-answer" && only.received === 5);
    const startedAt = clock.now;
    clock.now += REPLY_TIMEOUT_MS;
    await connection.checkLate(clock.now);
    assert.equal(connection.phase, "awaiting-first-answer", "no one else to go to: it is waited for");
    clock.now = startedAt + MAX_WAIT_MS;
    await connection.checkLate(clock.now);
    assert.deepEqual(await answer, EMPTY_IDENTITIES_MESSAGE);
    assert.equal(connection.phase, "answered-empty");
    assert.equal(counters.answeredEmpty, 1);
    assert.match(noAgent[0] ?? "", /did not answer for 60 s/);
    assert.equal(looks(), 0, "there was an agent: no fresh look");
  });

  it("with no agent at all, looks once more for new logins, then answers as an agent with no keys", async () => {
    const { counters, noAgent, looks, client, connection } = await setUp([]);
    assert.equal(connection.phase, "waiting-for-request", "a connection that sends nothing costs no look");
    assert.deepEqual(await client.request(), EMPTY_IDENTITIES_MESSAGE);
    assert.equal(looks(), 1);
    assert.equal(connection.phase, "answered-empty");
    assert.equal(counters.answeredEmpty, 1);
    assert.deepEqual(noAgent, ["no agent of this user is available"]);
  });

  it("says so when that look was cut short by its bound: a new login's agent may have been missed", async () => {
    const { noAgent, client } = await setUp([], { lookFinishes: false });
    assert.deepEqual(await client.request(), EMPTY_IDENTITIES_MESSAGE);
    assert.deepEqual(noAgent, [`no agent of this user is available (the look for new logins was still running after ${TIMING.lookAgainMs} ms)`]);
  });

  it("uses a login that the fresh look finds", async () => {
    const directory = await tempDir();
    cleanups.push(() => rm(directory, { recursive: true, force: true }));
    const newcomer = await standIn(directory, "newcomer.sock", 1);
    const { client, connection, looks } = await setUp([], { onLook: (book) => book.sync([newcomer.candidate]) });
    assert.deepEqual(await client.request(), EMPTY_IDENTITIES_MESSAGE);
    assert.equal(looks(), 1);
    assert.equal(newcomer.received, 5);
    assert.equal(connection.phase, "paired");
  });
});

/** A client of the front socket: sends identities requests, reads whole answers. */
class Client {
  readonly socket: Socket;
  readonly closed: Promise<void>;
  #buffer = Buffer.alloc(0);
  readonly #waiting: ((frame: Buffer) => void)[] = [];

  constructor(path: string) {
    this.socket = connect({ path });
    this.socket.on("error", () => undefined);
    this.closed = new Promise((resolve) => this.socket.once("close", () => resolve()));
    this.socket.on("data", (chunk: Buffer) => {
      this.#buffer = Buffer.concat([this.#buffer, chunk]);
      while (this.#buffer.length >= 4 && this.#buffer.length >= 4 + this.#buffer.readUInt32BE(0)) {
        const end = 4 + this.#buffer.readUInt32BE(0);
        this.#waiting.shift()?.(this.#buffer.subarray(0, end));
        this.#buffer = this.#buffer.subarray(end);
      }
    });
  }

  connected(): Promise<this> {
    return new Promise((resolve) => this.socket.once("connect", () => resolve(this)));
  }

  /** Sends one request; resolves with the next whole answer. */
  request(): Promise<Buffer> {
    const answer = new Promise<Buffer>((resolve) => this.#waiting.push(resolve));
    this.socket.write(REQUEST_IDENTITIES_MESSAGE);
    return answer;
  }
}
