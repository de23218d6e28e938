import assert from "node:assert/strict";
import { lstat, mkdir, readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { startActivator } from "../helpers/activator.js";
import { addKey, makeKey, sshAdd, startAgent } from "../helpers/agent.js";
import { connect } from "node:net";
import { socketAcceptsConnections } from "../../src/shared/core/dial.js";
import { forwardedSocketPath } from "../helpers/daemon.js";
import { BIN, Cleanup, run, sleep, spawnTracked, tempDir, waitFor } from "../helpers/process.js";

/**
 * Socket activation end to end without a systemd instance: the activator holds the listening
 * socket as a .socket unit does, the daemon serves it on fd 3 and exits when idle, and clients
 * that connect while it is down are served by the next start without seeing an error.
 */
describe("socket activation with an idle exit", () => {
  const cleanup = new Cleanup();
  let base: string;
  let env: NodeJS.ProcessEnv;
  before(async () => {
    base = await tempDir();
    cleanup.add(() => run("rm", ["-rf", base]));
    await mkdir(join(base, "home"), { mode: 0o700 });
    await mkdir(join(base, "tmp"), { mode: 0o700 });
    env = { ...process.env, HOME: join(base, "home"), SSH_ANCHOR_SOCKET: "" };
  });
  after(() => cleanup.run());

  it("serves, exits after the idle period, and the next start serves whoever connected meanwhile", async () => {
    const socket = join(base, "run", "agent.sock");
    await mkdir(join(base, "run"), { mode: 0o700 });
    const agent = await startAgent(cleanup, join(base, "tmp", "ssh-Idle", "agent.9000020"));
    await addKey(agent.path, await makeKey(base, "idle-key"));
    const daemon = [BIN, "run", "--socket", socket, "--tmp-dir", join(base, "tmp"), "--idle-exit", "1"];
    const activator = await startActivator(cleanup, socket, daemon, env);
    assert.equal(activator.count("started"), 0, "nothing runs before the first connection");

    const first = await sshAdd(socket, ["-l"]);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /idle-key/);
    const started = await activator.nth("started", 1);
    const pid = Number((await readFile(`${socket}.pid`, "utf8").catch(() => "0")).trim());
    assert.ok(pid === 0 || pid === started.pid, "the activated process is the daemon");

    // Idle for 1 s: it exits with status 0, leaving the socket file to its holder.
    const exited = await activator.nth("exited", 1, 8000);
    assert.deepEqual(exited, { kind: "exited", pid: started.pid, status: 0 });
    assert.ok((await lstat(socket)).isSocket(), "the listening socket stays with the activator");
    await assert.rejects(lstat(`${socket}.pid`), { code: "ENOENT" });
    await assert.rejects(lstat(`${socket}.ctl`), { code: "ENOENT" });

    // A client connecting while nothing runs waits in the socket and is served by the next start.
    const second = await sshAdd(socket, ["-l"]);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /idle-key/);
    assert.equal(second.stderr, "");
    await activator.nth("started", 2);

    // Clients arriving around the moment of the idle exit: none of them may see an error.
    for (const gap of [950, 1000, 1020, 1050, 1100, 1200]) {
      await sleep(gap);
      const listed = await sshAdd(socket, ["-l"]);
      assert.equal(listed.code, 0, `a client ${gap} ms after the last one: ${listed.stderr}`);
      assert.match(listed.stdout, /idle-key/);
    }
    assert.ok(activator.count("started") >= 3, `the daemon exited and came back: ${JSON.stringify(activator.events)}`);
    for (const event of activator.events) if (event.kind === "exited") assert.equal(event.status, 0);
    await activator.stop();
  });

  it("stays up while a client connection is open, however long", async () => {
    const socket = join(base, "open", "agent.sock");
    await mkdir(join(base, "open"), { mode: 0o700 });
    const activator = await startActivator(cleanup, socket, [BIN, "run", "--socket", socket, "--tmp-dir", join(base, "tmp"), "--idle-exit", "1"], env);
    const client = connect({ path: socket });
    await new Promise<void>((resolve, reject) => client.once("connect", resolve).once("error", reject));
    await activator.nth("started", 1);
    await sleep(2500);
    assert.equal(activator.count("exited"), 0, "no idle exit while a client is connected");
    client.destroy();
    const exited = await activator.nth("exited", 1, 8000);
    assert.equal(exited.status, 0);
    await activator.stop();
  });

  it("without socket activation --idle-exit changes nothing: the daemon stays up", async () => {
    const socket = join(base, "plain", "agent.sock");
    const child = spawnTracked(cleanup, BIN, ["run", "--socket", socket, "--tmp-dir", join(base, "tmp"), "--idle-exit", "1"], env);
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    await waitFor("the daemon", () => socketAcceptsConnections(socket, 500));
    await sleep(2000);
    assert.equal(child.exitCode, null, "still running after the idle period");
    assert.match(stderr, /--idle-exit applies only under socket activation/);
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    child.kill("SIGTERM");
    assert.equal(await exited, 0);
  });

  it("the rc line beside it: exports the stable socket and starts no daemon of its own, running or idle", async () => {
    const socket = join(base, "rc", "agent.sock");
    await mkdir(join(base, "rc"), { mode: 0o700 });
    const agent = await startAgent(cleanup, join(base, "tmp", "ssh-Rc", "agent.9000021"));
    await addKey(agent.path, await makeKey(base, "rc-key"));
    const activator = await startActivator(cleanup, socket, [BIN, "run", "--socket", socket, "--tmp-dir", join(base, "tmp"), "--idle-exit", "1"], env);
    const launcherDir = join(BIN, "..");
    const login = () =>
      run("bash", ["-c", 'eval "$(ssh-anchor init bash)"; echo "SOCK=$SSH_AUTH_SOCK"; ssh-add -l'], {
        env: { ...env, PATH: `${launcherDir}:${process.env.PATH}`, SSH_ANCHOR_SOCKET: socket, SSH_AUTH_SOCK: agent.path },
      });
    for (const state of ["idle (nothing running)", "running"]) {
      if (state === "running") await sshAdd(socket, ["-l"]);
      const shell = await login();
      assert.equal(shell.code, 0, `${state}: ${shell.stderr}`);
      assert.equal(shell.stderr, "", state);
      assert.match(shell.stdout, new RegExp(`SOCK=${socket}\n`), state);
      assert.match(shell.stdout, /rc-key/, state);
    }
    await sleep(300);
    assert.equal(activator.count("started") - activator.count("exited") <= 1, true, "one daemon at a time, the activated one");
    const pgrep = await run("pgrep", ["-f", `^ssh-anchor run --socket ${socket}`]);
    assert.ok(pgrep.stdout.trim().split("\n").filter(Boolean).length <= 1, `no second daemon: ${pgrep.stdout}`);
    await activator.stop();
  });
});

/**
 * Per-identity scopes under socket activation with an idle exit (issue 18, item 3): a login while
 * the daemon is idle gets its scope, an idle period never takes a pane's scoped socket away, and
 * a removed scoped socket is bound again although the stable socket is systemd's.
 */
describe("per-identity scopes under socket activation with an idle exit", () => {
  const cleanup = new Cleanup();
  let base: string;
  let env: NodeJS.ProcessEnv;
  let socket: string;
  let logFile: string;
  let activator: Awaited<ReturnType<typeof startActivator>>;
  let alice: Awaited<ReturnType<typeof startAgent>>;
  let bob: Awaited<ReturnType<typeof startAgent>>;
  let aliceScoped = "";
  const launcherDir = join(BIN, "..");
  /** What the daemon logged and what the activator saw, for a failure's message. */
  const dump = async () => `\nactivator: ${JSON.stringify(activator.events)}\nlog:\n${await readFile(logFile, "utf8").catch(() => "(none)")}`;
  /** A login's shell with the per-identity rc line, or a pane's that holds `holding` already. */
  const shell = (agent: string, script: string) =>
    run("bash", ["-c", `eval "$(ssh-anchor init --per-identity bash)"; printf 'SOCK=%s\\n' "$SSH_AUTH_SOCK"; ${script}`], {
      env: { ...env, PATH: `${launcherDir}:${process.env.PATH}`, SSH_AUTH_SOCK: agent },
      timeoutMs: 20_000,
    });

  before(async () => {
    base = await tempDir();
    cleanup.add(() => run("rm", ["-rf", base]));
    await mkdir(join(base, "home"), { mode: 0o700 });
    await mkdir(join(base, "tmp"), { mode: 0o700 });
    await mkdir(join(base, "run"), { mode: 0o700 });
    socket = join(base, "run", "agent.sock");
    logFile = join(base, "daemon.log");
    env = { ...process.env, HOME: join(base, "home"), SSH_ANCHOR_SOCKET: socket };
    alice = await startAgent(cleanup, forwardedSocketPath(join(base, "tmp"), "Alice00001"));
    bob = await startAgent(cleanup, forwardedSocketPath(join(base, "tmp"), "Bob0000002"));
    await addKey(alice.path, await makeKey(base, "alice-key"));
    await addKey(bob.path, await makeKey(base, "bob-key"));
    const daemon = [BIN, "run", "--socket", socket, "--tmp-dir", join(base, "tmp"), "--idle-exit", "1", "--log-file", logFile, "--verbose"];
    activator = await startActivator(cleanup, socket, daemon, env);
  });
  after(() => cleanup.run());

  it("a login while the daemon is idle (exited, systemd holds the socket) gets its own scope", async () => {
    // The daemon runs once and exits idle: what a login finds most of the time.
    const first = await sshAdd(socket, ["-l"]);
    assert.equal(first.code, 0, first.stderr);
    await activator.nth("exited", 1, 8000);
    await assert.rejects(lstat(`${socket}.ctl`), { code: "ENOENT" }, "idle: no control socket");

    const login = await shell(alice.path, "ssh-add -l");
    assert.equal(login.stderr, "", await dump());
    const scoped = /^SOCK=(.*)$/m.exec(login.stdout)?.[1] ?? "";
    assert.match(scoped, /\/id-[0-9a-f]{16}\.sock$/, `the login exports its scoped socket: ${login.stdout}${await dump()}`);
    assert.equal(dirname(scoped), dirname(socket));
    assert.match(login.stdout, /alice-key/);
    assert.doesNotMatch(login.stdout, /bob-key/);
    aliceScoped = scoped;
    assert.equal(activator.count("started"), 2, `one activation for the login: ${await dump()}`);
  });

  it("after an idle period, a pane holding the scoped socket still lists its person's keys", async () => {
    assert.ok(aliceScoped, "the login above got a scope");
    await sleep(3000); // three idle periods, nothing connected
    assert.ok((await lstat(aliceScoped)).isSocket(), `the scoped socket is still there${await dump()}`);
    const pane = await shell(aliceScoped, "ssh-add -l");
    assert.equal(pane.stderr, "", await dump());
    assert.match(pane.stdout, new RegExp(`^SOCK=${aliceScoped}$`, "m"), "the pane keeps its scoped socket");
    assert.match(pane.stdout, /alice-key/, await dump());
    assert.doesNotMatch(pane.stdout, /bob-key/);
    assert.equal(activator.count("exited"), 1, `no idle exit while a scope is served${await dump()}`);
    assert.match(await readFile(logFile, "utf8"), /staying up: 1 per-identity socket would be gone with the daemon/);
    // Another person logging in meanwhile gets their own scope, not Alice's.
    const other = await shell(bob.path, "ssh-add -l");
    assert.equal(other.stderr, "", await dump());
    assert.match(other.stdout, /bob-key/);
    assert.doesNotMatch(other.stdout, /alice-key/);
    assert.doesNotMatch(other.stdout, new RegExp(`SOCK=${aliceScoped}`));
  });

  it("binds a removed scoped socket again while socket-activated, within the check interval", async () => {
    await run("rm", ["-f", aliceScoped]);
    // The daemon looks at its socket files every 5 s.
    await waitFor(`${aliceScoped} to be back${await dump()}`, async () => (await lstat(aliceScoped).catch(() => undefined))?.isSocket(), 12_000, 200);
    const listed = await sshAdd(aliceScoped, ["-l"]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /alice-key/);
    assert.doesNotMatch(listed.stdout, /bob-key/);
  });

  it("after the daemon stopped, a pane's shell brings the scoped socket back (systemd starts it)", async () => {
    const pid = Number((await readFile(`${socket}.pid`, "utf8")).trim());
    process.kill(pid, "SIGTERM");
    await waitFor(`the daemon to exit${await dump()}`, () => activator.events.some((event) => event.kind === "exited" && event.pid === pid), 8000);
    await assert.rejects(lstat(aliceScoped), { code: "ENOENT" });
    // A new pane in Alice's session: its rc line sees the scoped socket missing and starts the daemon.
    const pane = await shell(aliceScoped, "ssh-add -l");
    assert.equal(pane.stderr, "", await dump());
    assert.match(pane.stdout, new RegExp(`^SOCK=${aliceScoped}$`, "m"));
    assert.match(pane.stdout, /alice-key/, await dump());
    await activator.stop();
  });
});
