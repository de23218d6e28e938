import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
import { connect, createServer, type Server } from "node:net";
import { dirname } from "node:path";
import { after, describe, it } from "node:test";
import { addKey, makeKey, sshAdd, startAgent } from "../helpers/agent.js";
import { forwardedSocketPath, startDaemon } from "../helpers/daemon.js";
import { Cleanup, run, sleep, tempDir, waitFor } from "../helpers/process.js";

/** A forwarded agent on a link that has become slow: a relay to a real ssh-agent that holds
 * every answer back `delayMs` (changeable while it runs). */
async function slowRelay(cleanup: Cleanup, path: string, agentPath: string): Promise<{ setDelay(ms: number): void }> {
  let delayMs = 0;
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const server: Server = createServer((client) => {
    const upstream = connect({ path: agentPath });
    client.on("data", (chunk) => upstream.write(chunk));
    upstream.on("data", (chunk) => {
      const delay = delayMs;
      setTimeout(() => client.writable && client.write(chunk), delay);
    });
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("error", close).on("close", close);
    upstream.on("error", close).on("close", close);
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  cleanup.add(() => server.close());
  return { setDelay: (ms) => (delayMs = ms) };
}

/** Part 5 of issue 10: judging by an agent's own round trips must never abandon one that is
 * slow but alive. */
describe("an agent that becomes slow but stays alive", () => {
  const cleanup = new Cleanup();
  after(() => cleanup.run());

  it("may lose one unanswered request to an older live agent, but is live again as soon as its late answer arrives", async () => {
    const keys = await tempDir();
    cleanup.add(() => run("rm", ["-rf", keys]));
    const daemon = await startDaemon(cleanup);
    const older = await startAgent(cleanup, forwardedSocketPath(daemon.tmpRoot, "Older"));
    await addKey(older.path, await makeKey(keys, "older-login"));
    const backend = await startAgent(cleanup, `${keys}/backend/agent.sock`);
    await addKey(backend.path, await makeKey(keys, "newer-login"));
    await sleep(20); // a newer socket: the relay is the newest login
    const newer = forwardedSocketPath(daemon.tmpRoot, "Newer");
    const relay = await slowRelay(cleanup, newer, backend.path);
    await waitFor("the newer login to be used", async () => /newer-login/.test((await sshAdd(daemon.socket, ["-l"])).stdout), 5000);

    // Its link slows to 600 ms a round trip: more than its history allows, less than the cap.
    relay.setDelay(600);
    const first = await sshAdd(daemon.socket, ["-l"]);
    assert.equal(first.code, 0, first.stderr);
    // Whichever answered, within about a second (never the old 3 s).
    assert.ok(first.millis < 1500, `took ${first.millis} ms`);
    // Its late answer to the probe comes at about 600 ms: live again, and preferred again.
    await waitFor(
      "the slow agent to be judged live again",
      async () => (await daemon.status()).agents.find((agent) => agent.path === newer)?.state === "live",
      5000,
      100,
    );
    const again = await sshAdd(daemon.socket, ["-l"]);
    assert.match(again.stdout, /newer-login/, "new connections go to the newest login again");
    // Its history now includes the slow round trip: the next slow answer is waited for.
    const patient = await sshAdd(daemon.socket, ["-l"]);
    assert.match(patient.stdout, /newer-login/, "a slow but alive agent keeps its requests once its slowness is known");
  });
});
