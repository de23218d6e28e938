/**
 * The naive relay with the least work ssh-anchor's guarantees ask of every connection, and
 * nothing else (no discovery, no ranking, no replay to another agent, no shedding): the floor of
 * any relay that keeps them, beside the naive relay that keeps none.
 * - No upstream before a whole first message: garbage or silence never opens a forwarded channel.
 * - The socket reached is checked right after connecting (lstat of it and of its directory: still
 *   the one that passed the trust checks at start, by device and inode).
 * - Message boundaries followed both ways, requests and answers counted (what notices a request
 *   left unanswered: the zombie rule), a malformed length closes the connection.
 * - Before a request is routed, one lstat of the temporary root (its modification time says
 *   whether a new login may have appeared: a new login's own first command must find it).
 * - Half-close kept both ways: a client that shuts down its writing side after its request
 *   (`nc -N -U`) still gets the answer, and the upstream's end reaches the client.
 * node bench/naive-guarded-proxy.mjs <listen path> <agent path>.
 */
import { lstatSync } from "node:fs";
import { connect, createServer } from "node:net";
import { dirname } from "node:path";

const MAX_MESSAGE = 256 * 1024;
const [listenPath, agentPath] = process.argv.slice(2);
const identity = (path) => {
  const stats = lstatSync(path, { throwIfNoEntry: false });
  return stats ? `${stats.dev}:${stats.ino}` : undefined;
};
const trusted = [identity(agentPath), identity(dirname(agentPath))].join();
// The agent sits in a session directory (ssh-XXXX/agent.N) of the temporary root.
const tmpRoot = dirname(dirname(agentPath));
let rootChangedAt = lstatSync(tmpRoot).mtimeMs;

/** Counts whole messages in a byte stream; false on a malformed length. */
function scanner() {
  let header = Buffer.alloc(0);
  let remaining = 0;
  const scanner = { messages: 0, scan };
  function scan(chunk) {
    let offset = 0;
    while (offset < chunk.length) {
      if (remaining > 0) {
        const take = Math.min(remaining, chunk.length - offset);
        remaining -= take;
        offset += take;
        if (remaining === 0) scanner.messages += 1;
        continue;
      }
      const take = Math.min(4 - header.length, chunk.length - offset);
      header = Buffer.concat([header, chunk.subarray(offset, offset + take)]);
      offset += take;
      if (header.length < 4) break;
      remaining = header.readUInt32BE(0);
      header = Buffer.alloc(0);
      if (remaining === 0 || remaining > MAX_MESSAGE) return false;
    }
    return true;
  }
  return scanner;
}

createServer({ allowHalfOpen: true }, (client) => {
  const requests = scanner();
  const held = [];
  let upstream;
  let clientEnded = false;
  client.on("data", (chunk) => {
    if (!requests.scan(chunk)) return client.destroy();
    if (upstream) return void upstream.write(chunk);
    held.push(chunk);
    if (requests.messages === 0) return;
    // No new login to look for in this relay, but the look's question is asked all the same.
    const mtimeMs = lstatSync(tmpRoot).mtimeMs;
    if (mtimeMs !== rootChangedAt) rootChangedAt = mtimeMs;
    upstream = connect({ path: agentPath, allowHalfOpen: true });
    if ([identity(agentPath), identity(dirname(agentPath))].join() !== trusted) return client.destroy();
    const answers = scanner();
    upstream.on("connect", () => {
      for (const piece of held.splice(0)) upstream.write(piece);
      if (clientEnded) upstream.end();
    });
    upstream.on("data", (answer) => {
      if (!answers.scan(answer)) return client.destroy();
      client.write(answer);
    });
    upstream.on("end", () => client.end());
    upstream.on("error", () => client.destroy());
    upstream.on("close", () => client.destroy());
    client.on("close", () => upstream.destroy());
  });
  client.on("end", () => {
    clientEnded = true;
    if (!upstream) client.end();
    else if (!upstream.connecting) upstream.end();
  });
  client.on("error", () => client.destroy());
}).listen(listenPath, () => process.stdout.write("ready\n"));
