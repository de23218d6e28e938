import { mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { after, describe, it } from "node:test";
import { forwardedSocketPath, startDaemon } from "../helpers/daemon.js";
import { Cleanup, section, spawnTracked, waitFor } from "../helpers/process.js";

/**
 * A login's socket that is bound a moment before it listens (sshd and ssh-agent do bind, then
 * listen; on a busy machine the daemon's first probe can fall in between and be refused): it
 * is looked at again, and used once it answers. Found as a flake of switcher.test.ts under load.
 */
const LATE_AGENT = `
import socket, sys, time
path, delay = sys.argv[1], float(sys.argv[2])
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path)
print("bound", flush=True)
time.sleep(delay)
s.listen(8)
while True:
    c, _ = s.accept()
    try:
        while True:
            head = c.recv(5)
            if len(head) < 5: break
            n = int.from_bytes(head[:4], "big") - 1
            while n > 0: n -= len(c.recv(n))
            # an agent with no keys: SSH_AGENT_IDENTITIES_ANSWER, 0 keys; failure otherwise
            c.sendall(bytes([0,0,0,5,12,0,0,0,0]) if head[4] == 11 else bytes([0,0,0,1,5]))
    finally:
        c.close()
`;

describe("a login's socket that listens a moment after it is bound", () => {
  const cleanup = new Cleanup();
  after(() => cleanup.run());

  it("is looked at again, and used once it answers", async () => {
    const daemon = await startDaemon(cleanup);
    const path = forwardedSocketPath(daemon.tmpRoot, "Late");
    await mkdir(dirname(path), { mode: 0o700 });
    const child = spawnTracked(cleanup, "python3", ["-c", LATE_AGENT, path, "1.5"]);
    let out = "";
    child.stdout?.on("data", (chunk: Buffer) => (out += chunk.toString()));
    await waitFor("the socket to be bound", () => out.includes("bound"), 5000);
    // Refused first (bound, not listening)...
    await waitFor("the daemon to find it dead", async () => (await daemon.status()).agents.some((a) => a.path === path && a.state === "dead"), {
      timeoutMs: 5000,
      explain: () => section("the daemon's log", daemon.log()),
    });
    // ...then live, with no event on the file system to say so.
    await waitFor("the daemon to find it live", async () => (await daemon.status()).agents.some((a) => a.path === path && a.state === "live"), {
      timeoutMs: 10_000,
      explain: () => section("the daemon's log", daemon.log()),
    });
  });
});
