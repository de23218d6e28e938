import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { isSshdName } from "../../src/shared/discovery/layouts.js";
import { loginsOf } from "../../src/shared/discovery/presence.js";
import { loginAgentSockets } from "../../src/shared/discovery/login-sockets.js";
import { createServer } from "node:net";
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

  it("is what sshd told the login's processes, whatever lines another user forges into /proc/net/unix", async () => {
    const base = mkdtempSync(join(tmpdir(), "anchor-forged-"));
    cleanup.add(() => rmSync(base, { recursive: true, force: true }));
    mkdirSync(join(base, "agent"));
    const fakeSshd = join(base, "sshd");
    symlinkSync("/usr/bin/python3", fakeSshd);
    // A login: listens on its agent socket and on TCP (as sshd holds its connection), starts a
    // child with SSH_AUTH_SOCK naming its socket (as sshd does), prints its pid and the inodes.
    const script = `
import os, socket, subprocess, sys, time
path = sys.argv[1]
agent = socket.socket(socket.AF_UNIX); agent.bind(path); agent.listen()
tcp = socket.socket(); tcp.bind(("127.0.0.1", 0)); tcp.listen()
child = subprocess.Popen(["sleep", "600"], env={"SSH_AUTH_SOCK": path}, stdout=subprocess.DEVNULL)
print(os.getpid(), os.fstat(tcp.fileno()).st_ino, os.fstat(agent.fileno()).st_ino, flush=True)
time.sleep(600)
`;
    const start = async (name: string): Promise<{ pid: number; tcp: number; unix: number; path: string }> => {
      const path = join(base, "agent", `s.AbCdEfGhIj.sshd.${name}`);
      // Its own process group, killed whole: the login and its child.
      const child = spawn(fakeSshd, ["-c", script, path], { stdio: ["ignore", "pipe", "inherit"], detached: true });
      cleanup.add(() => process.kill(-(child.pid as number), "SIGKILL"));
      let output = "";
      child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
      await waitFor(`login ${name} to listen`, () => /^\d+ \d+ \d+\n/.test(output), 10_000, 50, () => JSON.stringify(output));
      const [pid, tcp, unix] = output.trim().split(" ").map(Number) as [number, number, number];
      return { pid, tcp, unix, path };
    };
    const a = await start("A");
    const b = await start("B");
    // The red team's forgery: B's socket tied to A's TCP connection (an inode listed nowhere
    // else in the file), and B's real line made a duplicate.
    const line = (inode: number, path: string) => `\n0000000000000000: 00000002 00000000 00010000 0001 01 ${inode} ${path}`;
    for (const name of [`f1${line(a.tcp, b.path)}`, `f2${line(b.unix, "")}`]) {
      const server = createServer();
      await new Promise<void>((resolve) => server.listen({ path: `\0${name}` }, resolve));
      cleanup.add(() => new Promise<void>((resolve) => server.close(() => resolve())));
    }
    const logins = await loginAgentSockets(uid);
    assert.equal(logins.get(b.path), b.pid, `B's socket is B's login (A is ${a.pid})`);
    assert.equal(logins.get(a.path), a.pid, "A's socket is A's login");
  });

  it("counts sshd and its per-login successors as sshd, and nothing else", () => {
    for (const name of ["sshd", "sshd-session"]) assert.equal(isSshdName(name), true, name);
    for (const name of ["ssh-agent", "sshdx", "ssh", "bash"]) assert.equal(isSshdName(name), false, name);
  });
});
