import assert from "node:assert/strict";
import { chown, mkdir, rename, rm } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { AgentBook } from "../../src/features/daemon/agent-book.js";
import { ProxiedConnection, type ConnectionContext } from "../../src/features/daemon/connection.js";
import type { Counters } from "../../src/shared/control/status.js";
import { stillTheSocket } from "../../src/shared/core/trust.js";
import { scanDirectory } from "../../src/shared/discovery/scan.js";
import { Log } from "../../src/shared/core/log.js";
import { timeRequest } from "../helpers/abuse.js";
import { Cleanup, requireRoot, run, sleep, tempDir } from "../helpers/process.js";

const skip = requireRoot();

/** A listening socket at `path` that records every byte it receives. */
async function recorder(path: string): Promise<{ server: Server; received: () => number; connections: () => number }> {
  let received = 0;
  let connections = 0;
  const server = createServer((socket: Socket) => {
    connections += 1;
    socket.on("data", (chunk: Buffer) => (received += chunk.length));
    socket.on("error", () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return { server, received: () => received, connections: () => connections };
}

/**
 * The real connection code behind a front socket of the test's own, with the daemon's real
 * trust check: the book holds a candidate scanned before its socket was replaced.
 */
async function front(cleanup: Cleanup, base: string, book: AgentBook, local = true): Promise<string> {
  const counters: Counters = { served: 0, requests: 0, active: 0, failovers: 0, answeredEmpty: 0, rejected: 0, shed: 0 };
  const uid = process.getuid?.() ?? 0;
  const context: ConnectionContext = {
    book,
    log: new Log({ verbose: false }),
    counters,
    maxWaitMs: 10_000,
    findAgents: async () => true,
    verifyUpstream: (agent) => stillTheSocket(agent.path, agent.candidate, uid, { local }),
    shortOfDescriptors: () => undefined,
    noAgent: () => undefined,
    release: () => undefined,
  };
  const path = join(base, "front.sock");
  const server = createServer({ allowHalfOpen: true }, (socket) => new ProxiedConnection(socket, context));
  await new Promise<void>((resolve) => server.listen(path, resolve));
  cleanup.add(() => server.close());
  return path;
}

describe("upstream connections reach only the candidate that passed the trust checks (issue 9)", { skip }, () => {
  const cleanup = new Cleanup();
  after(() => cleanup.run());

  async function scanned(directory: string) {
    const uid = process.getuid?.() ?? 0;
    const scan = await scanDirectory(directory, "tmp-session", { uid, hostHash: () => "0000000000" });
    assert.equal(scan.candidates.length, 1, "the original socket passes the trust checks");
    const book = new AgentBook({ probeTimeoutMs: 2000, replyTimeoutMs: 1000, log: () => undefined, probeNewAgents: false });
    book.sync(scan.candidates);
    return book;
  }

  it("a login's directory removed and re-created by another user, with their socket at the same path, never receives a byte", async () => {
    const base = await tempDir();
    cleanup.add(() => run("rm", ["-rf", base]));
    const directory = join(base, "ssh-Victim0001");
    await mkdir(directory, { mode: 0o700 });
    const path = join(directory, "agent.9000000");
    const original = await recorder(path);
    const book = await scanned(directory);
    original.server.close();
    // Someone else takes the name: the directory is theirs now, and so is what listens in it.
    await rm(directory, { recursive: true, force: true });
    await mkdir(directory, { mode: 0o700 });
    const impostor = await recorder(path);
    cleanup.add(() => impostor.server.close());
    await chown(directory, 65534, 65534);
    await chown(path, 65534, 65534);

    const answer = await timeRequest(await front(cleanup, base, book), 5000);
    await sleep(200);
    assert.equal(answer.keys, 0, "answered as an empty agent, since no trusted agent is left");
    assert.equal(impostor.received(), 0, "not a single client byte reached the impostor");
    assert.equal(book.all()[0]?.health, "dead", "the replaced candidate counts as gone");
  });

  it("a socket replaced in a directory of ours (another inode) never receives a byte either", async () => {
    const base = await tempDir();
    cleanup.add(() => run("rm", ["-rf", base]));
    const directory = join(base, "ssh-Victim0002");
    await mkdir(directory, { mode: 0o700 });
    const path = join(directory, "agent.9000000");
    const original = await recorder(path);
    cleanup.add(() => original.server.close());
    const book = await scanned(directory);
    // Renamed over the original while it still listens (its inode stays in use, so the new
    // socket cannot get the same inode number).
    const impostor = await recorder(join(directory, "agent.9000001"));
    cleanup.add(() => impostor.server.close());
    await rename(join(directory, "agent.9000001"), path);

    // The asynchronous variant (sockets outside the tmp root) this time.
    const answer = await timeRequest(await front(cleanup, base, book, false), 5000);
    await sleep(200);
    assert.equal(answer.keys, 0);
    assert.equal(impostor.received(), 0);
    assert.ok(impostor.connections() >= 1, "the connection was made, and dropped unused");
  });

  it("the candidate itself, unchanged, is used", async () => {
    const base = await tempDir();
    cleanup.add(() => run("rm", ["-rf", base]));
    const directory = join(base, "ssh-Genuine001");
    await mkdir(directory, { mode: 0o700 });
    const genuine = await recorder(join(directory, "agent.9000000"));
    cleanup.add(() => genuine.server.close());
    const book = await scanned(directory);
    await timeRequest(await front(cleanup, base, book), 500);
    assert.equal(genuine.received(), 5, "the request reached the genuine agent");
  });
});
