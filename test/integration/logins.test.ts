import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { isSshdName } from "../../src/shared/discovery/layouts.js";
import { loginsOf } from "../../src/shared/discovery/presence.js";
import { Cleanup, waitFor } from "../helpers/process.js";

/**
 * Which login made an agent socket (the device rule ranks agents by their login's terminal). In
 * the /tmp layout sshd names the socket after itself, so the name decides; elsewhere (OpenSSH
 * >= 10.1's ~/.ssh/agent) the user's sshd process holding the socket does. A process named sshd
 * here is python under that name (the kernel takes a process's name from the file it ran).
 */
describe("the login an agent socket belongs to", () => {
  const cleanup = new Cleanup();
  after(() => cleanup.run());
  const uid = process.getuid?.() ?? 0;

  it("is the sshd process a /tmp socket is named after, and the sshd process holding any other", async () => {
    const base = mkdtempSync(join(tmpdir(), "anchor-logins-"));
    cleanup.add(() => rmSync(base, { recursive: true, force: true }));
    for (const dir of ["ssh-Named", "ssh-Other", "home/.ssh/agent"]) mkdirSync(join(base, dir), { recursive: true });
    const fakeSshd = join(base, "sshd");
    symlinkSync("/usr/bin/python3", fakeSshd);
    // Listens on three sockets: one named after itself, one named after the test's own process
    // (not an sshd), one in the 10.1 layout; prints its pid once all three listen.
    const script = `
import os, socket, sys, time
base = sys.argv[1]
paths = [f"{base}/ssh-Named/agent.{os.getpid()}", f"{base}/ssh-Other/agent.{os.getppid()}", f"{base}/home/.ssh/agent/s.AbCdEfGhIj.sshd.k3J9"]
held = []
for path in paths:
    s = socket.socket(socket.AF_UNIX); s.bind(path); s.listen(); held.append(s)
print(os.getpid(), flush=True)
time.sleep(600)
`;
    const child = spawn(fakeSshd, ["-c", script, base], { stdio: ["ignore", "pipe", "inherit"] });
    cleanup.add(() => child.kill("SIGKILL"));
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    await waitFor("the process named sshd to listen", () => /^\d+\n/.test(output), 10_000, 50, () => `its output: ${JSON.stringify(output)}`);
    const pid = Number(output.trim());
    const named = join(base, `ssh-Named/agent.${pid}`);
    const misnamed = join(base, `ssh-Other/agent.${process.pid}`);
    const home = join(base, "home/.ssh/agent/s.AbCdEfGhIj.sshd.k3J9");

    const logins = await loginsOf([named, misnamed, home], uid);
    assert.equal(logins.get(named), pid, "the /tmp socket named after the sshd process is that login's");
    assert.equal(logins.get(home), pid, "the ~/.ssh/agent socket is the login of the sshd process holding it");
    assert.equal(
      logins.has(misnamed),
      false,
      "a /tmp socket named after a process that is not sshd has no login, even held by one: the name is what sshd writes, a walk of /proc is not made for it",
    );
  });

  it("counts sshd and its per-login successors as sshd, and nothing else", () => {
    for (const name of ["sshd", "sshd-session"]) assert.equal(isSshdName(name), true, name);
    for (const name of ["ssh-agent", "sshdx", "ssh", "bash"]) assert.equal(isSshdName(name), false, name);
  });
});
