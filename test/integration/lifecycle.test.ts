import assert from "node:assert/strict";
import { chmod, chown, lstat, mkdir, readFile, unlink } from "node:fs/promises";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { socketAcceptsConnections } from "../../src/shared/core/dial.js";
import { addKey, makeKey, sshAdd, startAgent } from "../helpers/agent.js";
import { forwardsDirectory, remoteForwardPath } from "../../src/shared/core/forwards.js";
import { BIN, Cleanup, run, sleep, spawnTracked, tempDir, waitFor } from "../helpers/process.js";

const isRoot = process.getuid?.() === 0;

describe("daemon lifecycle", () => {
  const cleanup = new Cleanup();
  let base: string;
  let env: NodeJS.ProcessEnv;
  let counter = 0;
  before(async () => {
    base = await tempDir();
    cleanup.add(() => run("rm", ["-rf", base]));
    await mkdir(join(base, "home"), { mode: 0o700 });
    await mkdir(join(base, "tmp"), { mode: 0o700 });
    env = { ...process.env, HOME: join(base, "home"), SSH_ANCHOR_SOCKET: "" };
  });
  after(() => cleanup.run());

  /** A fresh socket path, and a cleanup that stops whatever daemon ends up serving it. */
  function socketPath(): string {
    const socket = join(base, `d${++counter}`, "agent.sock");
    cleanup.add(() => run(BIN, ["stop", "--socket", socket], { env }));
    return socket;
  }
  const anchor = (args: string[]) =>
    run(BIN, ["start", "run"].includes(args[0] as string) ? [...args, "--tmp-dir", join(base, "tmp")] : args, { env });
  const pidIn = async (socket: string) => Number((await readFile(`${socket}.pid`, "utf8")).trim());

  it("starts once: a second start is a no-op, and the socket is 0600 in a 0700 directory", async () => {
    const socket = socketPath();
    const first = await anchor(["start", "--socket", socket]);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /started \(pid \d+\)/);
    const second = await anchor(["start", "--socket", socket]);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /already running/);
    const pid = await pidIn(socket);
    assert.match(second.stdout, new RegExp(`pid ${pid}\\b`));
    const daemons = await run("pgrep", ["-f", `run --socket ${socket}`]);
    assert.deepEqual(daemons.stdout.trim().split("\n"), [String(pid)]);
    assert.equal((await lstat(socket)).mode & 0o777, 0o600);
    assert.equal((await lstat(join(socket, ".."))).mode & 0o777, 0o700);
    assert.equal((await lstat(`${socket}.ctl`)).mode & 0o777, 0o600);
  });

  it("replaces the socket of a daemon killed with SIGKILL, but never a live daemon's", async () => {
    const socket = socketPath();
    assert.equal((await anchor(["start", "--socket", socket])).code, 0);
    const live = await pidIn(socket);
    const refused = await anchor(["run", "--socket", socket]);
    assert.equal(refused.code, 3);
    assert.equal(refused.stderr.trim(), `ssh-anchor: a daemon is already serving ${socket}`);
    assert.ok(await socketAcceptsConnections(socket));
    assert.equal(await pidIn(socket), live);

    process.kill(live, "SIGKILL");
    await waitFor("the killed daemon to be gone", async () => (await run("kill", ["-0", String(live)])).code !== 0);
    assert.ok((await lstat(socket)).isSocket(), "a SIGKILLed daemon leaves its socket behind");
    const restarted = await anchor(["start", "--socket", socket]);
    assert.equal(restarted.code, 0, restarted.stderr);
    assert.notEqual(await pidIn(socket), live);
    assert.ok(await socketAcceptsConnections(socket));
  });

  it("stops on SIGTERM and SIGINT: exit 0, socket, control socket and pid file removed", async () => {
    for (const signal of ["SIGTERM", "SIGINT"] as const) {
      const socket = socketPath();
      const daemon = spawnTracked(cleanup, BIN, ["run", "--socket", socket, "--tmp-dir", join(base, "tmp")], env);
      await waitFor("the socket", () => socketAcceptsConnections(socket, 500));
      const exited = new Promise<number | null>((resolve) => daemon.once("exit", (code) => resolve(code)));
      daemon.kill(signal);
      assert.equal(await exited, 0);
      for (const file of [socket, `${socket}.ctl`, `${socket}.pid`]) {
        await assert.rejects(lstat(file), { code: "ENOENT" }, `${file} must be removed after ${signal}`);
      }
    }
  });

  it("keeps serving, and stops on SIGTERM, when its stderr breaks (a terminal closed, a reader gone)", async () => {
    // Logging the broken stderr's error to the same stderr kept it failing: 100% CPU, deaf to
    // SIGTERM (red team).
    const socket = socketPath();
    const daemon = spawnTracked(cleanup, BIN, ["run", "--socket", socket, "--tmp-dir", join(base, "tmp"), "--verbose"], env);
    await waitFor("the socket", () => socketAcceptsConnections(socket, 500));
    daemon.stderr?.destroy();
    for (let i = 0; i < 3; i += 1) {
      const listed = await sshAdd(socket, ["-l"], 5000);
      assert.match(listed.stdout, /no identities/, `request ${i + 1} after stderr broke: ${listed.stderr}`);
    }
    const exited = new Promise<number | null>((resolve) => daemon.once("exit", (code) => resolve(code)));
    daemon.kill("SIGTERM");
    const code = await Promise.race([exited, sleep(5000).then(() => "still running after SIGTERM")]);
    assert.equal(code, 0);
  });

  it("stops on SIGTERM with a forward's stable socket served, a leftover of an earlier run replaced at start", async () => {
    // A login's forward (a listening socket in ~/.ssh/anchor-forwards) is there at start, and a
    // socket file left by an earlier run sits at its stable path. Two binds of it at once are
    // held by test/unit/forward-servers.test.ts; this is the whole daemon's stop around it.
    // A home of its own: the other tests' daemons, still running, must not see this forward.
    const home = join(base, "home-forwards");
    const forwardEnv = { ...env, HOME: home };
    await mkdir(forwardsDirectory(home), { recursive: true, mode: 0o700 });
    // A forward that keeps each connection open, as sshd's does, until the client closes it.
    const forward = createServer((connection) => connection.on("error", () => undefined).resume());
    await new Promise<void>((resolve) => forward.listen(remoteForwardPath(home, "opener", "tok1"), resolve));
    cleanup.add(() => new Promise((resolve) => forward.close(resolve)));
    for (let round = 0; round < 5; round++) {
      const socket = socketPath();
      const stable = join(dirname(socket), "opener.sock");
      await mkdir(dirname(socket), { mode: 0o700 });
      // A socket file nobody listens on (bound, never listening, the process gone).
      await run("python3", ["-c", `import socket; s = socket.socket(socket.AF_UNIX); s.bind(${JSON.stringify(stable)})`]);
      const daemon = spawnTracked(cleanup, BIN, ["run", "--socket", socket, "--tmp-dir", join(base, "tmp")], forwardEnv);
      let log = "";
      daemon.stderr?.on("data", (chunk: Buffer) => (log += chunk.toString()));
      await waitFor("the forward's stable socket", () => socketAcceptsConnections(stable, 500), 10_000, 50, () => log);
      const exited = new Promise<number | null>((resolve) => daemon.once("exit", (code) => resolve(code)));
      daemon.kill("SIGTERM");
      const code = await Promise.race([exited, sleep(5000).then(() => "still running 5 s after SIGTERM")]);
      assert.equal(code, 0, `round ${round + 1}: ${code}\n${log}`);
    }
  });

  it("stops on SIGTERM when its directory is being removed at the same moment (a logout removing XDG_RUNTIME_DIR)", async () => {
    for (let round = 0; round < 8; round++) {
      const socket = socketPath();
      const daemon = spawnTracked(cleanup, BIN, ["run", "--socket", socket, "--tmp-dir", join(base, "tmp")], env);
      let log = "";
      daemon.stderr?.on("data", (chunk: Buffer) => (log += chunk.toString()));
      // Started (the pid file is written last), then the removal: the daemon takes its
      // directory back and binds again while the signal asks it to stop.
      await waitFor("the daemon's pid file", async () => (await readFile(`${socket}.pid`, "utf8").catch(() => "")).trim() === String(daemon.pid), 10_000, 20, () => log);
      const exited = new Promise<number | null>((resolve) => daemon.once("exit", (code) => resolve(code)));
      const removal = run("rm", ["-rf", dirname(socket)]);
      await sleep(round);
      daemon.kill("SIGTERM");
      await removal;
      const code = await Promise.race([exited, sleep(5000).then(() => "still running 5 s after SIGTERM")]);
      assert.equal(code, 0, `round ${round + 1}: ${code}\n${log}`);
    }
  });

  it("rescans on SIGHUP and keeps serving", async () => {
    const socket = socketPath();
    const daemon = spawnTracked(cleanup, BIN, ["run", "--socket", socket, "--tmp-dir", join(base, "tmp")], env);
    let log = "";
    daemon.stderr?.on("data", (chunk: Buffer) => (log += chunk.toString()));
    await waitFor("the socket", () => socketAcceptsConnections(socket, 500));
    daemon.kill("SIGHUP");
    await waitFor("the rescan to be logged", () => /SIGHUP: rescanning agents/.test(log), 3000);
    assert.ok(await socketAcceptsConnections(socket));
  });

  it("takes its socket back when someone deletes it", async () => {
    const socket = socketPath();
    assert.equal((await anchor(["start", "--socket", socket])).code, 0);
    await unlink(socket);
    await waitFor("the socket to be re-created", () => socketAcceptsConnections(socket, 500), 10_000, 200);
    assert.equal((await lstat(socket)).mode & 0o777, 0o600);
  });

  it("refuses a socket directory that others can write to, saying how to fix it", async () => {
    const directory = join(base, "open");
    await mkdir(directory);
    await chmod(directory, 0o777);
    const result = await anchor(["start", "--socket", join(directory, "agent.sock")]);
    assert.equal(result.code, 1);
    assert.equal(
      result.stderr,
      `ssh-anchor: refusing to use ${directory}: it is writable by group or others (mode 0777); run: chmod go-w ${directory}\n`,
    );
    assert.equal((await lstat(directory)).mode & 0o777, 0o777, "permissions are never changed behind the user's back");
  });

  it("refuses a socket directory owned by someone else", { skip: isRoot ? false : "needs root to chown" }, async () => {
    const directory = join(base, "theirs");
    await mkdir(directory, { mode: 0o700 });
    await chown(directory, 65534, 65534);
    const result = await anchor(["start", "--socket", join(directory, "agent.sock")]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^ssh-anchor: refusing to use .*: it is owned by uid 65534 \(nobody\), not you; someone else may be trying to intercept your agent/);
    assert.equal(result.stderr.split("\n").length, 2, "one line");
  });

  it("with SSH_ANCHOR_DRY_START=1 (doctor's shells), start says where it would serve, refuses as start would, and makes nothing", async () => {
    const dry = { ...env, SSH_ANCHOR_DRY_START: "1" };
    const socket = join(base, "dry", "agent.sock");
    const result = await run(BIN, ["start", "--print-socket", "--socket", socket], { env: dry });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, `${socket}\n`);
    await assert.rejects(lstat(join(base, "dry")), { code: "ENOENT" }, "nothing made");
    const deep = await run(BIN, ["start", "--print-socket", "--socket", join(base, "no", "such", "agent.sock")], { env: dry });
    assert.equal(deep.code, 1);
    assert.match(deep.stderr, /its parent directory does not exist/);
  });

  it("says a shared directory is only the wrong place for the socket, not an attack (stop --socket /tmp, a typo)", async () => {
    const result = await anchor(["stop", "--socket", "/tmp/agent.sock"]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^ssh-anchor: refusing to use \/tmp\/agent\.sock: .*; give --socket a path in a directory of your own\n$/);
  });

  it("refuses a socket path too long to bind, in one line", async () => {
    const result = await anchor(["start", "--socket", join(base, "x".repeat(120), "agent.sock")]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^ssh-anchor: socket path .* is too long: .* choose a shorter one with --socket or SSH_ANCHOR_SOCKET\n$/);
  });

  it("serves a socket passed by systemd (socket activation) and leaves its file to systemd", async (t) => {
    if ((await run("which", ["systemd-socket-activate"])).code !== 0) {
      if (process.env.CI === "true") throw new Error("systemd-socket-activate is missing: .ci/run must install systemd");
      t.skip("SKIPPED: systemd-socket-activate is not installed");
      return;
    }
    const socket = join(base, "activated", "agent.sock");
    await mkdir(join(base, "activated"), { mode: 0o700 });
    const agent = await startAgent(cleanup, join(base, "tmp", "ssh-Activated", "agent.9000010"));
    await addKey(agent.path, await makeKey(base, "activated-key"));
    // systemd-socket-activate binds the socket and execs the daemon on the first connection.
    const activator = spawnTracked(cleanup, "systemd-socket-activate", ["-l", socket, BIN, "run", "--socket", socket, "--tmp-dir", join(base, "tmp")], env);
    await waitFor("the activator to listen", async () => (await lstat(socket).catch(() => undefined))?.isSocket(), 5000);
    const listed = await sshAdd(socket, ["-l"]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /activated-key/);
    // The first connection is served the moment the daemon listens, a little before its pid file.
    const pid = await waitFor("the pid file", () => pidIn(socket), 5000);
    assert.equal(pid, activator.pid, "the activator became the daemon");
    const exited = new Promise<number | null>((resolve) => activator.once("exit", (code) => resolve(code)));
    activator.kill("SIGTERM");
    assert.equal(await exited, 0);
    assert.ok((await lstat(socket)).isSocket(), "the socket file is systemd's: the daemon leaves it");
  });

  it("stop is idempotent, status tells running from not running", async () => {
    const socket = socketPath();
    assert.equal((await anchor(["start", "--socket", socket])).code, 0);
    const status = await anchor(["status", "--socket", socket, "--json"]);
    assert.equal(status.code, 0);
    assert.equal(JSON.parse(status.stdout).running, true);
    assert.match((await anchor(["stop", "--socket", socket])).stdout, /stopped/);
    assert.match((await anchor(["stop", "--socket", socket])).stdout, /was not running/);
    const stopped = await anchor(["status", "--socket", socket]);
    assert.equal(stopped.code, 3);
    assert.match(stopped.stdout, /not running.*ssh-anchor start/);
  });
});
