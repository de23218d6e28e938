import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { addKey, makeKey, sshAdd, startAgent } from "../helpers/agent.js";
import { forwardedSocketPath, startDaemon, type TestDaemon } from "../helpers/daemon.js";
import { Cleanup, run, tempDir, waitFor } from "../helpers/process.js";

/** Real ssh-agent and ssh-add through the real daemon. */
describe("the switcher with real ssh-agent and ssh-add", () => {
  const cleanup = new Cleanup();
  let keys: string;
  let daemon: TestDaemon;
  let first: string;
  let second: string;
  before(async () => {
    keys = await tempDir();
    cleanup.add(() => run("rm", ["-rf", keys]));
    first = await makeKey(keys, "first-login-key");
    second = await makeKey(keys, "second-key", "rsa");
    daemon = await startDaemon(cleanup);
  });
  after(() => cleanup.run());

  it("lists, adds and removes keys, and signs, exactly as the agent does", async () => {
    const agent = await startAgent(cleanup, forwardedSocketPath(daemon.tmpRoot, "Lifecycle1"));
    await addKey(agent.path, first);
    await waitFor("the agent to be discovered", async () => (await sshAdd(daemon.socket, ["-l"])).code === 0, 5000);

    const direct = await sshAdd(agent.path, ["-L"]);
    const proxied = await sshAdd(daemon.socket, ["-L"]);
    assert.equal(proxied.code, 0);
    assert.equal(proxied.stdout, direct.stdout);

    await addKey(daemon.socket, second);
    assert.match((await sshAdd(agent.path, ["-l"])).stdout, /second-key \(RSA\)/);
    const removed = await sshAdd(daemon.socket, ["-d", second]);
    assert.equal(removed.code, 0, removed.stderr);
    assert.doesNotMatch((await sshAdd(agent.path, ["-l"])).stdout, /second-key/);

    const message = join(keys, "message");
    await writeFile(message, "sign me\n");
    const signed = await run("ssh-keygen", ["-Y", "sign", "-f", `${first}.pub`, "-n", "file", message], {
      env: { ...process.env, SSH_AUTH_SOCK: daemon.socket },
    });
    assert.equal(signed.code, 0, signed.stderr);
    const allowed = join(keys, "allowed");
    await writeFile(allowed, `me ${await readFile(`${first}.pub`, "utf8")}`);
    const verified = await run("ssh-keygen", ["-Y", "verify", "-f", allowed, "-I", "me", "-n", "file", "-s", `${message}.sig`], {
      input: "sign me\n",
    });
    assert.equal(verified.code, 0, verified.stderr);

    const removedAll = await sshAdd(daemon.socket, ["-D"]);
    assert.equal(removedAll.code, 0);
    assert.match((await sshAdd(agent.path, ["-l"])).stdout, /no identities/);
    agent.kill();
  });
});

describe("routing", () => {
  const cleanup = new Cleanup();
  let keys: string;
  let older: string;
  let newer: string;
  before(async () => {
    keys = await tempDir();
    cleanup.add(() => run("rm", ["-rf", keys]));
    older = await makeKey(keys, "older-login");
    newer = await makeKey(keys, "newer-login");
  });
  after(() => cleanup.run());

  async function twoLogins(daemon: TestDaemon) {
    const olderAgent = await startAgent(cleanup, forwardedSocketPath(daemon.tmpRoot, "Older"));
    await addKey(olderAgent.path, older);
    const newerAgent = await startAgent(cleanup, forwardedSocketPath(daemon.tmpRoot, "Newer"));
    await addKey(newerAgent.path, newer);
    await waitFor("both agents to be discovered", async () => (await daemon.status()).agents.length === 2, 5000);
    return { olderAgent, newerAgent };
  }

  it("prefers the newest login, and falls back to the older one when the newest ends", async () => {
    const daemon = await startDaemon(cleanup);
    const { newerAgent } = await twoLogins(daemon);
    assert.match((await sshAdd(daemon.socket, ["-l"])).stdout, /newer-login/);
    newerAgent.kill();
    const after = await sshAdd(daemon.socket, ["-l"]);
    assert.equal(after.code, 0);
    assert.match(after.stdout, /older-login/);
  });

  it("moves a client off a zombie (accepts, never answers) within seconds, then avoids it", async () => {
    const daemon = await startDaemon(cleanup);
    const { newerAgent } = await twoLogins(daemon);
    newerAgent.freeze();
    const first = await sshAdd(daemon.socket, ["-l"], 15_000);
    assert.equal(first.code, 0, `ssh-add must not hang or fail on a zombie (${Math.round(first.millis)} ms): ${first.stderr}\n--- the daemon's log:\n${daemon.log()}`);
    assert.match(first.stdout, /older-login/);
    assert.ok(first.millis < 6000, `took ${first.millis} ms`);
    const second = await sshAdd(daemon.socket, ["-l"]);
    assert.match(second.stdout, /older-login/);
    assert.ok(second.millis < 1000, `the zombie must be avoided by later connections (took ${second.millis} ms)`);
    const status = await daemon.status();
    assert.equal(status.agents.find((a) => a.path === newerAgent.path)?.state, "zombie");
    assert.ok(status.connections.failovers >= 1);

    newerAgent.thaw();
    await waitFor("the woken agent to be used again", async () => /newer-login/.test((await sshAdd(daemon.socket, ["-l"])).stdout), 20_000, 500);
  });

  it("waits for an agent that is slow to confirm a signature instead of abandoning it", async () => {
    const daemon = await startDaemon(cleanup);
    const askpass = join(keys, "slow-askpass");
    // ssh-add -c: the agent asks before each use; this "user" takes 4 s to click yes.
    await writeFile(askpass, "#!/bin/sh\nsleep 4\nexit 0\n", { mode: 0o755 });
    const agent = await startAgent(cleanup, forwardedSocketPath(daemon.tmpRoot, "Confirm"), {
      ...process.env,
      SSH_ASKPASS: askpass,
      SSH_ASKPASS_REQUIRE: "force",
      DISPLAY: ":0",
    });
    await addKey(agent.path, older, ["-c"]);
    await waitFor("the agent to be discovered", async () => (await daemon.status()).agents.length === 1, 5000);
    const message = join(keys, "to-confirm");
    await writeFile(message, "confirm me\n");
    const signed = await run("ssh-keygen", ["-Y", "sign", "-f", `${older}.pub`, "-n", "file", message], {
      env: { ...process.env, SSH_AUTH_SOCK: daemon.socket },
      timeoutMs: 30_000,
    });
    assert.equal(signed.code, 0, signed.stderr);
    assert.ok(signed.millis >= 3500, `the confirmation took 4 s, the signature ${signed.millis} ms`);
  });

  it("answers at once as an empty agent when no agent is left, and uses a new login with no user action", async () => {
    const daemon = await startDaemon(cleanup);
    const none = await sshAdd(daemon.socket, ["-l"]);
    assert.equal(none.code, 1, "ssh-add must fail normally, not die of SIGPIPE (141)");
    assert.match(none.stdout, /no identities/);
    assert.ok(none.millis < 2000, `took ${none.millis} ms`);
    assert.match(daemon.log(), /answering as an agent with no keys/);
    const counted = (await daemon.status()).connections;
    assert.equal(counted.answeredEmpty, 1);
    assert.ok(counted.requests >= 1, "requests answered empty are counted too");

    const agent = await startAgent(cleanup, forwardedSocketPath(daemon.tmpRoot, "Later"));
    await addKey(agent.path, newer);
    const found = await waitFor("the new login's agent to be used", async () => {
      const result = await sshAdd(daemon.socket, ["-l"]);
      return result.code === 0 ? result : undefined;
    }, 5000);
    assert.match(found.stdout, /newer-login/);
  });
});
