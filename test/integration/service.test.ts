import assert from "node:assert/strict";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { socketAcceptsConnections } from "../../src/shared/core/dial.js";
import { startActivator } from "../helpers/activator.js";
import { addKey, makeKey, sshAdd, startAgent } from "../helpers/agent.js";
import { BIN, Cleanup, run, tempDir } from "../helpers/process.js";

/** Fails in CI, skips loudly elsewhere, when a tool the test drives is missing. */
async function need(t: { skip(message: string): void }, tool: string): Promise<boolean> {
  if ((await run("which", [tool])).code === 0) return true;
  if (process.env.CI === "true") throw new Error(`${tool} is missing: .ci/run must install it`);
  const reason = `SKIPPED: ${tool} is not installed`;
  process.stderr.write(`\n*** ${reason} ***\n`);
  t.skip(reason);
  return false;
}

/** `ExecStart=` of a generated unit as argv (the test's paths need no quoting). */
function execStart(unit: string): string[] {
  const line = unit.split("\n").find((l) => l.startsWith("ExecStart="));
  assert.ok(line, "the service has an ExecStart=");
  return line.slice("ExecStart=".length).split(" ");
}

describe("ssh-anchor service", () => {
  const cleanup = new Cleanup();
  let base: string;
  let env: NodeJS.ProcessEnv;
  let unitDir: string;
  before(async () => {
    base = await tempDir();
    cleanup.add(() => run("rm", ["-rf", base]));
    await mkdir(join(base, "home"), { mode: 0o700 });
    await mkdir(join(base, "tmp"), { mode: 0o700 });
    env = { ...process.env, HOME: join(base, "home"), XDG_CONFIG_HOME: join(base, "config"), SSH_ANCHOR_SOCKET: "" };
    unitDir = join(base, "config", "systemd", "user");
  });
  after(() => cleanup.run());

  it("writes units that systemd-analyze verify accepts, for a plain and an awkward socket path", async (t) => {
    if (!(await need(t, "systemd-analyze"))) return;
    const runtime = join(base, "runtime");
    await mkdir(runtime, { mode: 0o700 });
    for (const socket of [join(base, "s1", "agent.sock"), join(base, "odd dir 100%", "agent.sock")]) {
      const written = await run(BIN, ["service", "install", "--no-start", "--socket", socket, "--idle-exit", "30", "--tmp-dir", join(base, "tmp")], { env });
      assert.equal(written.code, 0, written.stderr);
      assert.match(written.stdout, /wrote .*ssh-anchor\.socket\nwrote .*ssh-anchor\.service\n/);
      const socketUnit = await readFile(join(unitDir, "ssh-anchor.socket"), "utf8");
      assert.match(socketUnit, /^SocketMode=0600$/m);
      assert.equal(socketUnit.match(/^ListenStream=(.*)$/m)?.[1], socket.replace(/%/g, "%%"));
      const verified = await run("systemd-analyze", ["--user", "verify", join(unitDir, "ssh-anchor.socket"), join(unitDir, "ssh-anchor.service")], {
        env: { ...env, XDG_RUNTIME_DIR: runtime },
      });
      assert.equal(verified.code, 0, verified.stderr);
      assert.equal(verified.stderr, "", "no warnings either");
    }
  });

  it("--dry-run prints the units and writes nothing", async () => {
    const dry = await run(BIN, ["service", "install", "--dry-run", "--socket", join(base, "dry", "agent.sock")], { env: { ...env, XDG_CONFIG_HOME: join(base, "dry-config") } });
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /^# .*dry-config\/systemd\/user\/ssh-anchor\.socket$/m);
    assert.match(dry.stdout, /^ExecStart=.* run --socket .*dry\/agent\.sock --idle-exit 600$/m);
    await assert.rejects(readFile(join(base, "dry-config", "systemd", "user", "ssh-anchor.socket")), { code: "ENOENT" });
  });

  it("the unit's own ExecStart serves the socket when activated, and exits when idle", async () => {
    const socket = join(base, "exec", "agent.sock");
    await mkdir(join(base, "exec"), { mode: 0o700 });
    const agent = await startAgent(cleanup, join(base, "tmp", "ssh-Unit", "agent.9000030"));
    await addKey(agent.path, await makeKey(base, "unit-key"));
    const written = await run(BIN, ["service", "install", "--no-start", "--socket", socket, "--idle-exit", "1", "--tmp-dir", join(base, "tmp")], { env });
    assert.equal(written.code, 0, written.stderr);
    const command = execStart(await readFile(join(unitDir, "ssh-anchor.service"), "utf8"));
    const activator = await startActivator(cleanup, socket, command, { ...env, MALLOC_ARENA_MAX: "1" });
    const listed = await sshAdd(socket, ["-l"]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /unit-key/);
    assert.equal((await activator.nth("exited", 1, 8000)).status, 0);
    await activator.stop();
  });

  it("install tells systemd, hands over a running daemon's socket, and notes linger; uninstall undoes it", async () => {
    // No systemd instance in CI: stand-ins for systemctl and loginctl record what they are asked.
    const bin = join(base, "fake-bin");
    await mkdir(bin);
    const calls = join(base, "calls");
    await writeFile(join(bin, "systemctl"), `#!/bin/sh\necho "systemctl $*" >> ${calls}\ncase "$*" in *is-active*) echo inactive; exit 3 ;; esac\n`);
    await writeFile(join(bin, "loginctl"), `#!/bin/sh\necho "loginctl $*" >> ${calls}\necho no\n`);
    await chmod(join(bin, "systemctl"), 0o755);
    await chmod(join(bin, "loginctl"), 0o755);
    const fakeEnv = { ...env, PATH: `${bin}:${process.env.PATH}`, XDG_CONFIG_HOME: join(base, "config2") };
    const socket = join(base, "handover", "agent.sock");
    cleanup.add(() => run(BIN, ["stop", "--socket", socket], { env }));
    assert.equal((await run(BIN, ["start", "--socket", socket, "--tmp-dir", join(base, "tmp")], { env })).code, 0);

    const installed = await run(BIN, ["service", "install", "--socket", socket], { env: fakeEnv });
    assert.equal(installed.code, 0, installed.stderr);
    assert.match(installed.stdout, /stopped the daemon the rc line had started/);
    assert.match(installed.stdout, /enabled ssh-anchor\.socket: systemd listens on .*handover\/agent\.sock/);
    assert.match(installed.stdout, /note: linger is off: .* loginctl enable-linger/);
    assert.equal(await socketAcceptsConnections(socket, 500), false, "the socket is free for systemd to bind");
    const asked = (await readFile(calls, "utf8")).split("\n");
    assert.deepEqual(asked.filter((line) => line.startsWith("systemctl")), [
      "systemctl --user daemon-reload",
      "systemctl --user is-active ssh-anchor.socket",
      "systemctl --user enable --now ssh-anchor.socket",
    ]);

    const status = await run(BIN, ["service", "status", "--socket", socket, "--json"], { env: fakeEnv });
    assert.equal(status.code, 3, "installed but (per the stand-in) not listening");
    assert.equal(JSON.parse(status.stdout).installed, true);

    const removed = await run(BIN, ["service", "uninstall", "--socket", socket], { env: fakeEnv });
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(removed.stdout, /removed .*ssh-anchor\.socket\nremoved .*ssh-anchor\.service\n/);
    assert.match(await readFile(calls, "utf8"), /systemctl --user disable --now ssh-anchor\.socket/);
    assert.match((await run(BIN, ["service", "uninstall"], { env: fakeEnv })).stdout, /not installed/);
  });

  it("without a reachable systemd user instance: one line, non-zero, and the units are left written", async () => {
    const noBus = { ...env, XDG_CONFIG_HOME: join(base, "config3"), XDG_RUNTIME_DIR: join(base, "no-runtime"), DBUS_SESSION_BUS_ADDRESS: `unix:path=${join(base, "no-bus")}` };
    const failed = await run(BIN, ["service", "install", "--socket", join(base, "nobus", "agent.sock")], { env: noBus });
    assert.equal(failed.code, 1);
    assert.match(failed.stderr, /^ssh-anchor: (systemctl --user daemon-reload failed: .*|systemctl is not installed.*)\n$/);
    assert.ok(await readFile(join(base, "config3", "systemd", "user", "ssh-anchor.service"), "utf8"));
  });
});
