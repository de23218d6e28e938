import assert from "node:assert/strict";
import { copyFile, mkdir, readFile, readlink, stat, symlink } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { addKey, makeKey, startAgent } from "../helpers/agent.js";
import { BIN, Cleanup, REPO, run, tempDir } from "../helpers/process.js";
import { withoutBinaryLine } from "../helpers/shell-code.js";

/**
 * The single executable on a host without Node: PATH holds the executable (as `ssh-anchor`, the
 * name the shell code calls) and a few system tools, but no `node`.
 */
describe("single executable without node on PATH", () => {
  const cleanup = new Cleanup();
  let base: string;
  let exe: string;
  let env: NodeJS.ProcessEnv;
  before(async () => {
    base = await tempDir();
    cleanup.add(() => run("rm", ["-rf", base]));
    const built = await run(process.execPath, [join(REPO, "scripts", "build-sea.mjs"), join(base, "out", "ssh-anchor")], { timeoutMs: 120_000 });
    assert.equal(built.code, 0, built.stderr);
    const bin = join(base, "bin");
    await mkdir(bin);
    exe = join(bin, "ssh-anchor");
    await copyFile(join(base, "out", "ssh-anchor"), exe);
    for (const tool of ["sh", "bash", "ssh-add", "cat"]) {
      const found = await run("sh", ["-c", `command -v ${tool}`]);
      await symlink(found.stdout.trim(), join(bin, tool));
    }
    await mkdir(join(base, "home"), { mode: 0o700 });
    await mkdir(join(base, "tmp"), { mode: 0o700 });
    env = { PATH: bin, HOME: join(base, "home"), SSH_ANCHOR_SOCKET: join(base, "s", "agent.sock") };
    assert.notEqual((await run(join(bin, "sh"), ["-c", "command -v node"], { env })).code, 0, "node must not be on PATH");
  });
  after(async () => {
    await run(exe, ["stop"], { env });
    await cleanup.run();
  });

  it("is one file, smaller than 150 MB, and reports its version", async () => {
    assert.ok((await stat(exe)).size < 150 * 1024 * 1024);
    const version = await run(exe, ["--version"], { env });
    assert.equal(version.stdout.trim(), JSON.parse(await readFile(join(REPO, "package.json"), "utf8")).version);
  });

  it("prints exactly the shell code of the npm install for every shell, link mode included", async () => {
    for (const args of [["init", "bash"], ["init", "zsh"], ["init", "sh"], ["init", "fish"], ["init", "--link", "bash"], ["init", "--link", "fish"], ["init", "--link", "--no-prompt", "zsh"], ["init", "--per-identity", "bash"], ["init", "--per-identity", "fish"]]) {
      const single = await run("ssh-anchor", args, { env });
      const launcher = await run(BIN, args);
      assert.equal(single.code, 0, single.stderr);
      // The first line names the command that printed it (each its own, by the path it was run as).
      assert.equal(single.stdout.split("\n")[0], args.includes("fish") ? `set -g __ssh_anchor_bin ${exe}` : `__ssh_anchor_bin=${exe}`);
      assert.equal(withoutBinaryLine(single.stdout), withoutBinaryLine(launcher.stdout), `ssh-anchor ${args.join(" ")}`);
    }
    // The files as they are in this checkout, in the order bin/ssh-anchor prints them.
    const files = await Promise.all(["location.sh", "init.sh"].map((name) => readFile(join(REPO, "shell", name), "utf8")));
    assert.equal(withoutBinaryLine((await run("ssh-anchor", ["init", "bash"], { env })).stdout), files.join(""));
    // Silent even when NODE_OPTIONS changes V8's flags (a code cache would be rejected, loudly).
    const quiet = await run("ssh-anchor", ["init", "bash"], { env: { ...env, NODE_OPTIONS: "--max-old-space-size=100" } });
    assert.equal(quiet.stderr, "");
    assert.equal(withoutBinaryLine(quiet.stdout), files.join(""));
    const unknown = await run("ssh-anchor", ["init", "tcsh"], { env });
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /^ssh-anchor: unknown shell "tcsh"/);
  });

  it("status says it is not running, then the daemon it starts serves ssh-add -l through the init line", async () => {
    const stopped = await run("ssh-anchor", ["status"], { env });
    assert.equal(stopped.code, 3);
    assert.match(stopped.stdout, /not running/);

    const agent = await startAgent(cleanup, join(base, "tmp", "ssh-Single", "agent.9000040"));
    await addKey(agent.path, await makeKey(base, "single-key"));
    const started = await run("ssh-anchor", ["start", "--tmp-dir", join(base, "tmp")], { env });
    assert.equal(started.code, 0, started.stderr);
    const pid = Number((await readFile(join(base, "s", "agent.sock.pid"), "utf8")).trim());
    assert.equal(await readlink(`/proc/${pid}/exe`), exe, "the daemon is the single executable itself");

    // The rc line, as a login shell runs it: sees the daemon running (no start), exports the socket.
    const shell = await run("bash", ["-c", 'eval "$(ssh-anchor init bash)"; echo "SOCK=$SSH_AUTH_SOCK"; ssh-add -l'], {
      env: { ...env, SSH_AUTH_SOCK: agent.path },
    });
    assert.equal(shell.code, 0, shell.stderr);
    assert.match(shell.stdout, new RegExp(`SOCK=${join(base, "s", "agent.sock")}\n`));
    assert.match(shell.stdout, /single-key/);
    assert.equal(shell.stderr, "");

    const running = await run("ssh-anchor", ["status"], { env });
    assert.equal(running.code, 0, running.stderr);
    assert.match(running.stdout, /running \(pid \d+/);
    assert.match(running.stdout, new RegExp(`route: +${agent.path}`));
    assert.match((await run("ssh-anchor", ["stop"], { env })).stdout, /stopped/);
  });

  it("service install names the executable itself in ExecStart, with no node", async () => {
    const dry = await run("ssh-anchor", ["service", "install", "--dry-run"], { env });
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, new RegExp(`^ExecStart=${exe} run --socket ${join(base, "s", "agent.sock")} --idle-exit 600$`, "m"));
  });
});

