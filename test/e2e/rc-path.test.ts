import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { chmod, cp, mkdir, readFile, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { addKey, makeKey, startAgent, type TestAgent } from "../helpers/agent.js";
import { Cleanup, requireRoot, run, spawnTracked, tempDir, waitFor, type RunResult } from "../helpers/process.js";
import { removeAccount } from "../helpers/accounts.js";
import { freePort, stableDirectory, TEST_USER } from "../helpers/sshd.js";

/**
 * Issue 19: an ordinary user (no root) on a stock Debian account, with the distribution's
 * skeleton dotfiles (useradd -m copies /etc/skel: ~/.profile runs ~/.bashrc BEFORE it adds
 * ~/.local/bin to PATH, and ~/.bashrc returns at once when not interactive), installs the tarball
 * into ~/.local as the README says and runs setup. Then, through a private sshd (its bare PATH):
 * a login's command, a login shell, a tmux pane and a screen window all get the stable socket
 * with no "command not found"; the seed scenario (an old pane keeps its agent after its login
 * ends) works; doctor FAILs a login whose line does not run and names the fix. The account is
 * made here under a name of its own and removed afterwards.
 */
const USER = `${TEST_USER}-rc`;
const SSHD_PATH = "/usr/local/bin:/usr/bin:/bin:/usr/games";


async function must(command: string, args: string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<string> {
  const result = await run(command, args, { timeoutMs: 120_000, ...options });
  if (result.code !== 0) throw new Error(`${command} ${args.join(" ")} failed (${result.code}): ${result.stderr}${result.stdout}`);
  return result.stdout;
}


describe("an ordinary user with Debian's skeleton dotfiles, ssh-anchor in ~/.local: every kind of shell gets the stable socket", { skip: requireRoot() }, () => {
  const cleanup = new Cleanup();
  let base: string;
  let home: string;
  let port: number;
  let sshdLog = "";
  let agent: TestAgent;
  let stable: string;

  const sshArgs = () => ["-p", String(port), "-F", "none", "-A", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR", `${USER}@127.0.0.1`];
  const ssh = (command: string, timeoutMs = 30_000) => run("ssh", [...sshArgs(), command], { env: { ...process.env, SSH_AUTH_SOCK: agent.path }, timeoutMs });
  /** As the user, without a login (what a shell of theirs would run), with a plain environment. */
  const asUser = (command: string, timeoutMs = 60_000) =>
    run("runuser", ["-u", USER, "--", "env", "-i", `HOME=${home}`, `USER=${USER}`, `LOGNAME=${USER}`, "SHELL=/bin/bash", `PATH=${SSHD_PATH}`, `SCREENDIR=${home}/.screen`, "sh", "-c", command], {
      timeoutMs,
    });
  const explain = (result: RunResult) => `status ${result.code}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}\nsshd log (tail):\n${sshdLog.split("\n").slice(-10).join("\n")}`;

  /** A login held open: the command runs after the user's start-up files; ends when the test says. */
  function holdLogin(command: string): { child: ChildProcess; output: () => string; end: () => void } {
    const child = spawn("ssh", [...sshArgs(), command], { env: { ...process.env, SSH_AUTH_SOCK: agent.path }, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
    cleanup.add(() => child.kill("SIGKILL"));
    return { child, output: () => output, end: () => child.kill("SIGTERM") };
  }

  /** What a file of the user's says once it has a line, waited for with a dump of `dump()` on failure. */
  async function fileOf(name: string, what: string, dump: () => Promise<string>, pattern = /\n$/): Promise<string> {
    try {
      return await waitFor(what, async () => {
        const text = await readFile(join(home, name), "utf8").catch(() => "");
        return pattern.test(text) && text;
      }, 20_000, 100);
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${await dump()}`);
    }
  }
  const tmuxDump = async () => `tmux pane:\n${(await asUser("tmux capture-pane -p -t seed")).stdout}\nprocesses:\n${(await run("ps", ["-u", USER, "-o", "pid,args"])).stdout}`;
  const screenDump = async () => {
    await asUser(`screen -S seed -X hardcopy ${home}/screen.dump`);
    return `screen window:\n${await readFile(join(home, "screen.dump"), "utf8").catch(() => "(no hardcopy)")}\nprocesses:\n${(await run("ps", ["-u", USER, "-o", "pid,args"])).stdout}`;
  };

  before(async () => {
    base = await tempDir("anchor-rc-");
    await chmod(base, 0o755);
    cleanup.add(() => run("rm", ["-rf", base]));
    await removeAccount(USER);
    await must("useradd", ["-m", "-s", "/bin/bash", USER]);
    cleanup.add(() => removeAccount(USER));
    await must("usermod", ["-p", "*", USER]);
    home = (await must("getent", ["passwd", USER])).split(":")[5] as string;
    stable = join(stableDirectory(home), "agent.sock");

    // The tarball, as a user would copy it over, installed as the README says (no root).
    await must("npm", ["pack", "--pack-destination", base], { env: { ...process.env }, timeoutMs: 180_000 });
    const tarball = join(base, (await readdir(base)).find((name) => name.endsWith(".tgz")) as string);
    await chmod(tarball, 0o644);
    const installed = await asUser(`npm install -g --offline --no-audit --no-fund --prefix "$HOME/.local" ${tarball}`, 180_000);
    assert.equal(installed.code, 0, explain(installed));

    const laptop = join(base, "laptop");
    await mkdir(laptop, { mode: 0o700 });
    const key = await makeKey(laptop, "laptop-key");
    agent = await startAgent(cleanup, join(laptop, "agent", "sock"));
    await addKey(agent.path, key);
    await cp(`${key}.pub`, join(base, "authorized_keys"));
    await chmod(join(base, "authorized_keys"), 0o644);
    port = await freePort();
    await must("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(base, "hostkey")]);
    await writeFile(
      join(base, "sshd_config"),
      [
        `Port ${port}`, "ListenAddress 127.0.0.1", `HostKey ${join(base, "hostkey")}`, `AuthorizedKeysFile ${join(base, "authorized_keys")}`,
        `PidFile ${join(base, "sshd.pid")}`, `AllowUsers ${USER}`, "AllowAgentForwarding yes", "StrictModes no", "UsePAM no",
        "PasswordAuthentication no", "KbdInteractiveAuthentication no", "",
      ].join("\n"),
    );
    await mkdir("/run/sshd", { recursive: true, mode: 0o755 });
    const sshd = spawnTracked(cleanup, "/usr/sbin/sshd", ["-D", "-e", "-f", join(base, "sshd_config")]);
    sshd.stderr?.on("data", (chunk: Buffer) => (sshdLog += chunk.toString()));
    await waitFor(`sshd to accept logins (log: ${sshdLog})`, async () => (await ssh("true", 5000)).code === 0, 15_000, 200);
  });
  after(() => cleanup.run());

  it("setup, run as installed, writes the absolute line first in ~/.bashrc and warns of nothing", async () => {
    assert.match(await readFile(join(home, ".profile"), "utf8"), /\.bashrc[\s\S]*\.local\/bin/, "the skeleton's ~/.profile: ~/.bashrc before ~/.local/bin");
    const setup = await asUser(`"$HOME/.local/bin/ssh-anchor" setup`);
    assert.equal(setup.code, 0, explain(setup));
    assert.equal(setup.stderr, "", "no warning: the line will run");
    const bashrc = await readFile(join(home, ".bashrc"), "utf8");
    assert.ok(bashrc.startsWith('# >>> ssh-anchor >>>\neval "$("$HOME/.local/bin/ssh-anchor" init bash)"\n# <<< ssh-anchor <<<\n'), bashrc.slice(0, 200));
    const again = await asUser(`"$HOME/.local/bin/ssh-anchor" setup --dry-run`);
    assert.match(again.stdout, /^already set up/m, "install's nothing-to-do check still holds");
  });

  it("a login's own command (sshd's bare PATH) and a login shell get the stable socket, with nothing on stderr", async () => {
    const command = await ssh('printf "sock=%s path=%s\\n" "$SSH_AUTH_SOCK" "$PATH"');
    assert.equal(command.code, 0, explain(command));
    assert.match(command.stdout, new RegExp(`^sock=${stable} path=${SSHD_PATH}\\n$`), "ssh host cmd: ~/.local/bin is not on PATH, the socket is the stable one all the same");
    assert.equal(command.stderr, "", explain(command));
    // A login shell started afresh from the login's own socket, with sshd's PATH (/etc/profile resets it).
    const login = await ssh(`env SSH_AUTH_SOCK="$SSH_ANCHOR_ORIGINAL_SOCK" PATH=${SSHD_PATH} bash -lic 'printf "sock=%s\\n" "$SSH_AUTH_SOCK"' </dev/null`);
    assert.match(login.stdout, new RegExp(`^sock=${stable}$`, "m"), explain(login));
    assert.doesNotMatch(login.stderr, /not found|ssh-anchor/, explain(login));
  });

  it("the seed scenario: a tmux pane and a screen window started from a login's own socket keep reaching an agent after that login ends", async () => {
    await asUser('mkdir -m 700 -p "$HOME/.screen"');
    // The multiplexers start from the first login's own socket, as they would without ssh-anchor.
    const first = holdLogin('printf "orig=%s\\n" "$SSH_ANCHOR_ORIGINAL_SOCK"; SSH_AUTH_SOCK=$SSH_ANCHOR_ORIGINAL_SOCK tmux new -d -s seed; SSH_AUTH_SOCK=$SSH_ANCHOR_ORIGINAL_SOCK SCREENDIR=$HOME/.screen screen -dmS seed; echo started; exec sleep 600');
    const forwarded = (await waitFor("the first login's socket and its tmux and screen", () => /orig=(\/\S+)\n[\s\S]*started/.exec(first.output())?.[1], 20_000)) as string;
    await asUser(`tmux send-keys -t seed 'echo "$SSH_AUTH_SOCK" > ~/tmux.sock' Enter`);
    assert.equal((await fileOf("tmux.sock", "the tmux pane's SSH_AUTH_SOCK", tmuxDump)).trim(), stable, await tmuxDump());
    // screen's stuff expands $VARIABLES itself (to its own environment's): printenv names none.
    await asUser(`screen -S seed -X stuff 'printenv SSH_AUTH_SOCK > ~/screen.sock\n'`);
    assert.equal((await fileOf("screen.sock", "the screen window's SSH_AUTH_SOCK", screenDump)).trim(), stable, await screenDump());

    // The first login ends (its socket goes); a second one comes.
    first.end();
    await waitFor(`${forwarded} to disappear`, async () => (await run("test", ["-e", forwarded])).code !== 0, 10_000);
    const second = holdLogin("echo in; exec sleep 600");
    await waitFor("the second login", () => second.output().includes("in\n"), 20_000);
    await asUser(`tmux send-keys -t seed 'ssh-add -l > ~/tmux.keys 2>&1' Enter`);
    assert.match(await fileOf("tmux.keys", "ssh-add -l in the old tmux pane", tmuxDump), /laptop-key/);
    await asUser(`screen -S seed -X stuff 'ssh-add -l > ~/screen.keys 2>&1\n'`);
    assert.match(await fileOf("screen.keys", "ssh-add -l in the old screen window", screenDump), /laptop-key/);
    second.end();
  });

  it("doctor runs each kind of shell: all ok with setup's line; a line that does not run FAILs, with the fix", async () => {
    const good = await ssh('"$HOME/.local/bin/ssh-anchor" doctor');
    assert.match(good.stdout, /^ok +rc +a login shell \(ssh host, a tmux pane\) gets the stable socket/m, explain(good));
    assert.match(good.stdout, /^ok +rc +a command over ssh \(ssh host cmd\) gets the stable socket/m, explain(good));
    assert.doesNotMatch(good.stdout, /^(FAIL|warn) +rc /m, explain(good));

    const bashrc = join(home, ".bashrc");
    const original = await readFile(bashrc, "utf8");
    try {
      // A hand-written line by name, as the README's manual line, where ssh-anchor is not on PATH.
      await writeFile(bashrc, original.replace('"$HOME/.local/bin/ssh-anchor" init bash', "ssh-anchor init bash"));
      const bad = await ssh('"$HOME/.local/bin/ssh-anchor" doctor');
      assert.equal(bad.code, 1, explain(bad));
      assert.match(bad.stderr, /ssh-anchor: command not found/, "the login itself says so");
      assert.match(bad.stdout, /^FAIL +rc +a login shell \(ssh host, a tmux pane\) does not get the stable socket: bash -lic/m, explain(bad));
      assert.match(bad.stdout, /^ +it said: .*ssh-anchor: command not found$/m, explain(bad));
      assert.match(bad.stdout, /^ +fix: in ~\/\.bashrc line 2: eval "\$\("\$HOME\/\.local\/bin\/ssh-anchor" init bash\)"/m, explain(bad));
      // setup recognises its own older (plain) line and replaces it, never stacking a second.
      const upgraded = await asUser(`"$HOME/.local/bin/ssh-anchor" setup`);
      assert.equal(upgraded.code, 0, explain(upgraded));
      assert.match(upgraded.stdout, /is an older setup's line: setup replaces it/, explain(upgraded));
      assert.equal(await readFile(bashrc, "utf8"), original);
    } finally {
      await writeFile(bashrc, original);
    }
  });
});
