import assert from "node:assert/strict";
import { chmod, mkdir, readFile, readlink, stat, symlink, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { socketAcceptsConnections } from "../../src/shared/core/dial.js";
import { startAgent } from "../helpers/agent.js";
import { BIN, Cleanup, REPO, requireRoot, run, spawnTracked, tempDir, waitFor } from "../helpers/process.js";

/** Each shell: how to evaluate the init code, then print two variables. */
const SHELLS = {
  bash: ['eval "$(ssh-anchor init bash)"', 'printf "%s|%s" "$SSH_AUTH_SOCK" "$SSH_ANCHOR_ORIGINAL_SOCK"'],
  zsh: ['eval "$(ssh-anchor init zsh)"', 'printf "%s|%s" "$SSH_AUTH_SOCK" "$SSH_ANCHOR_ORIGINAL_SOCK"'],
  sh: ['eval "$(ssh-anchor init sh)"', 'printf "%s|%s" "$SSH_AUTH_SOCK" "$SSH_ANCHOR_ORIGINAL_SOCK"'],
  fish: ["ssh-anchor init fish | source", 'printf "%s|%s" "$SSH_AUTH_SOCK" "$SSH_ANCHOR_ORIGINAL_SOCK"'],
} as const;
const SHELL_BINARY = { bash: "bash", zsh: "zsh", sh: "dash", fish: "fish" } as const;

describe("shell integration (init)", () => {
  const cleanup = new Cleanup();
  let base: string;
  before(async () => {
    base = await tempDir();
    cleanup.add(() => run("rm", ["-rf", base]));
  });
  after(() => cleanup.run());

  it("prints the same code from the Node-free launcher path as from the CLI", async () => {
    for (const shell of ["bash", "zsh", "sh", "fish"]) {
      for (const args of [["init", shell], ["init", "--link", shell]]) {
        const fast = await run(BIN, args);
        // As the launcher starts Node: with the path it was run as.
        const node = await run(process.execPath, [join(REPO, "dist", "cli.js"), ...args], { env: { ...process.env, SSH_ANCHOR_LAUNCHER: BIN } });
        assert.equal(fast.code, 0);
        assert.equal(fast.stdout, node.stdout, args.join(" "));
        assert.match(fast.stdout, /SSH_AUTH_SOCK/);
      }
    }
  });

  it("finds its package through chains of symlinks, npm's global layout or any other", async () => {
    const expected = (await run(BIN, ["init", "bash"])).stdout;
    // npm -g: <prefix>/bin/ssh-anchor -> ../lib/node_modules/ssh-anchor/bin/ssh-anchor
    const prefix = join(base, "prefix");
    await mkdir(join(prefix, "bin"), { recursive: true });
    await mkdir(join(prefix, "lib", "node_modules"), { recursive: true });
    await symlink(REPO, join(prefix, "lib", "node_modules", "ssh-anchor"));
    await symlink("../lib/node_modules/ssh-anchor/bin/ssh-anchor", join(prefix, "bin", "ssh-anchor"));
    // A link in ~/bin to a link to the checkout's launcher.
    const links = join(base, "links");
    await mkdir(links);
    await symlink(BIN, join(links, "real"));
    await symlink("real", join(links, "ssh-anchor"));
    for (const launcher of [join(prefix, "bin", "ssh-anchor"), join(links, "ssh-anchor")]) {
      const result = await run(launcher, ["init", "bash"]);
      assert.equal(result.code, 0, result.stderr);
      // The first line names the command as it was run (the link: it stays across an upgrade).
      assert.equal(result.stdout, expected.replace(/^__ssh_anchor_bin=.*\n/, `__ssh_anchor_bin=${launcher}\n`), launcher);
    }
  });

  for (const [shell, [load, show]] of Object.entries(SHELLS)) {
    it(`${shell}: exports the stable socket, keeps the original, starts the daemon detached, prints nothing`, async () => {
      const binary = SHELL_BINARY[shell as keyof typeof SHELL_BINARY];
      const socket = join(base, shell, "agent.sock");
      cleanup.add(() => run(BIN, ["stop", "--socket", socket]));
      const env = {
        ...process.env,
        HOME: base,
        PATH: `${join(REPO, "bin")}:${process.env.PATH}`,
        SSH_ANCHOR_SOCKET: socket,
        SSH_AUTH_SOCK: "/tmp/ssh-Forwarded1/agent.123",
      };
      // execFile waits for stdout/stderr to close: a daemon holding them would time this out.
      const first = await run(binary, ["-c", `${load}; ${show}`], { env, timeoutMs: 10_000 });
      assert.equal(first.stderr, "");
      assert.equal(first.stdout, `${socket}|/tmp/ssh-Forwarded1/agent.123`);
      assert.ok(await socketAcceptsConnections(socket), "the daemon must be running");
      const sessions = await run("ps", ["-o", "sid=,pid=", "-p", String(process.pid)]);
      const daemonSession = await run("ps", ["-o", "sid=", "-p", (await run("cat", [`${socket}.pid`])).stdout.trim()]);
      assert.notEqual(daemonSession.stdout.trim(), sessions.stdout.trim().split(/\s+/)[0], "the daemon has its own session");

      // Running already: the code must not need ssh-anchor (nor Node) at all.
      const code = (await run(BIN, ["init", shell])).stdout;
      const fast = await run(binary, ["-c", `${shell === "fish" ? `echo '${code.replaceAll("'", "\\'")}' | source` : `eval '${code.replaceAll("'", `'"'"'`)}'`}; ${show}`], {
        env: { ...env, PATH: "/usr/bin:/bin", SSH_AUTH_SOCK: socket },
      });
      assert.equal(fast.stderr, "");
      assert.equal(fast.stdout, `${socket}|`, "inside a session already anchored, the original stays unset");
    });
  }

  for (const shell of ["bash", "zsh", "sh", "fish"] as const) {
    it(`${shell}: starts the daemon when the pid file names a live process that is not it (a reused pid)`, async () => {
      const directory = join(base, `reused-${shell}`);
      await mkdir(directory, { mode: 0o700 });
      const socket = join(directory, "agent.sock");
      cleanup.add(() => run(BIN, ["stop", "--socket", socket]));
      // What a daemon killed with SIGKILL leaves: its socket file, and its pid, now someone else's.
      const bound = await run("python3", ["-c", "import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])", socket]);
      assert.equal(bound.code, 0, bound.stderr);
      const stranger = spawnTracked(cleanup, "sleep", ["60"]);
      await writeFile(`${socket}.pid`, `${stranger.pid}\n`);
      const [load, show] = SHELLS[shell];
      const result = await run(SHELL_BINARY[shell], ["-c", `${load}; ${show}`], {
        env: { ...process.env, HOME: base, PATH: `${join(REPO, "bin")}:${process.env.PATH}`, SSH_ANCHOR_SOCKET: socket, SSH_AUTH_SOCK: "" },
        timeoutMs: 10_000,
      });
      assert.equal(result.stderr, "");
      assert.equal(result.stdout, `${socket}|`);
      assert.ok(await socketAcceptsConnections(socket), "the daemon must have been started, not assumed");
      const pid = (await readFile(`${socket}.pid`, "utf8")).trim();
      assert.notEqual(pid, String(stranger.pid));
      assert.match(await readFile(`/proc/${pid}/comm`, "utf8"), /^ssh-anchor/);
    });
  }

  for (const shell of ["bash", "zsh", "sh", "fish"] as const) {
    it(`${shell}: link mode points the link at this login's agent and exports the link, silently`, async () => {
      const agent = await startAgent(cleanup, join(base, `ssh-Link${shell}`, "agent.77"));
      const link = join(base, ".ssh", `anchor-${hostname()}`, "link.sock");
      const load = shell === "fish" ? "ssh-anchor init --link fish | source" : `eval "$(ssh-anchor init --link ${shell})"`;
      const result = await run(SHELL_BINARY[shell], ["-c", `${load}; printf "%s" "$SSH_AUTH_SOCK"`], {
        env: { ...process.env, HOME: base, PATH: `${join(REPO, "bin")}:${process.env.PATH}`, SSH_AUTH_SOCK: agent.path },
      });
      assert.equal(result.stderr, "");
      assert.equal(result.stdout, link);
      assert.equal(await readlink(link), agent.path);
      agent.kill();
    });
  }

  for (const shell of ["bash", "zsh", "sh", "fish"] as const) {
    it(`${shell}: without SSH_ANCHOR_SOCKET, the socket is in ~/.ssh/anchor-<host>, a directory it makes 0700`, async () => {
      const home = join(base, `home-${shell}`);
      await mkdir(home, { mode: 0o700 });
      const socket = join(home, ".ssh", `anchor-${hostname()}`, "agent.sock");
      cleanup.add(() => run(BIN, ["stop", "--socket", socket]));
      const [load, show] = SHELLS[shell];
      const env: NodeJS.ProcessEnv = { ...process.env, HOME: home, PATH: `${join(REPO, "bin")}:${process.env.PATH}`, SSH_AUTH_SOCK: "" };
      delete env.SSH_ANCHOR_SOCKET;
      const result = await run(SHELL_BINARY[shell], ["-c", `${load}; ${show}`], { env, timeoutMs: 10_000 });
      assert.equal(result.stderr, "");
      assert.equal(result.stdout, `${socket}|`);
      assert.equal(((await stat(join(home, ".ssh", `anchor-${hostname()}`))).mode & 0o777).toString(8), "700");
      // And again without Node: the fast path finds the same place by itself.
      const fast = await run(SHELL_BINARY[shell], ["-c", `${load}; ${show}`], { env: { ...env, PATH: `${join(REPO, "bin")}:/usr/bin:/bin` } });
      assert.equal(fast.stdout, `${socket}|`);
    });

    it(`${shell}: a socket and pid file planted by another user are never exported`, { skip: requireRoot() }, async () => {
      const planted = join(base, `planted-${shell}`);
      await mkdir(planted, { mode: 0o755 });
      const socket = join(planted, "agent.sock");
      spawnTracked(cleanup, "python3", ["-c", "import socket,sys,time; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(); time.sleep(30)", socket]);
      await waitFor("the planted socket", async () => (await run("test", ["-S", socket])).code === 0, 5000);
      await run("cp", ["/bin/sleep", join(planted, "ssh-anchor")]);
      const impostor = spawnTracked(cleanup, "setpriv", ["--reuid=nobody", "--regid=nogroup", "--clear-groups", join(planted, "ssh-anchor"), "60"]);
      await waitFor("the impostor", async () => (await run("cat", [`/proc/${impostor.pid}/comm`])).stdout.startsWith("ssh-anchor"), 5000);
      await writeFile(`${socket}.pid`, `${impostor.pid}\n`);
      await run("chown", ["-R", "nobody:nogroup", planted]);
      const [load, show] = SHELLS[shell];
      const result = await run(SHELL_BINARY[shell], ["-c", `${load}; ${show}`], {
        env: { ...process.env, HOME: base, PATH: `${join(REPO, "bin")}:${process.env.PATH}`, SSH_ANCHOR_SOCKET: socket, SSH_AUTH_SOCK: "/tmp/ssh-Mine1/agent.5" },
        timeoutMs: 10_000,
      });
      assert.equal(result.stdout, "/tmp/ssh-Mine1/agent.5|/tmp/ssh-Mine1/agent.5", "SSH_AUTH_SOCK stays as it was");
      assert.match(result.stderr, new RegExp(`^ssh-anchor: refusing to use ${planted}: it is owned by uid 65534 \\(nobody\\), not you.*\\n$`));
    });
  }

  it("keeps the original SSH_AUTH_SOCK and says why in one line when the daemon cannot start", async () => {
    const open = join(base, "world-writable");
    await mkdir(open);
    await chmod(open, 0o777);
    const result = await run("bash", ["-c", `${SHELLS.bash[0]}; ${SHELLS.bash[1]}`], {
      env: {
        ...process.env,
        PATH: `${join(REPO, "bin")}:${process.env.PATH}`,
        SSH_ANCHOR_SOCKET: join(open, "agent.sock"),
        SSH_AUTH_SOCK: "/tmp/ssh-Forwarded2/agent.7",
      },
    });
    assert.equal(result.stdout, "/tmp/ssh-Forwarded2/agent.7|/tmp/ssh-Forwarded2/agent.7");
    assert.match(result.stderr, /^ssh-anchor: refusing to use .*world-writable: it is writable by group or others.*\n$/);
  });
});
