import assert from "node:assert/strict";
import { lstat, mkdir, readFile, readlink, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { startAgent } from "../helpers/agent.js";
import { BIN, Cleanup, run, tempDir } from "../helpers/process.js";

describe("setup", () => {
  const cleanup = new Cleanup();
  let home: string;
  before(async () => {
    home = await tempDir();
    cleanup.add(() => run("rm", ["-rf", home]));
  });
  after(() => cleanup.run());

  const setup = (args: string[]) => run(BIN, ["setup", ...args], { env: { ...process.env, HOME: home } });

  for (const [name, original] of [
    ["a file ending with a newline", "alias ll='ls -l'\nexport EDITOR=vi\n"],
    ["a file whose last line has no newline", "alias ll='ls -l'\nexport EDITOR=vi"],
  ] as const) {
    it(`changes ${name} once, keeps a backup, and --undo restores it byte for byte`, async () => {
      const rc = join(home, ".bashrc");
      const config = join(home, ".ssh", "config");
      await mkdir(join(home, ".ssh"), { recursive: true, mode: 0o700 });
      await writeFile(rc, original);
      await writeFile(config, "Host work\n    User me\n");

      const dry = await setup(["--shell", "bash", "--ssh-config", "--dry-run"]);
      assert.equal(dry.code, 0, dry.stderr);
      assert.match(dry.stdout, /^\+eval "\$\(ssh-anchor init bash\)"$/m);
      assert.match(dry.stdout, /^\+    IdentityAgent \/tmp\/ssh-anchor-%i\/agent\.sock$/m);
      assert.equal(await readFile(rc, "utf8"), original, "--dry-run changes nothing");
      assert.match(dry.stdout, /^dry run: nothing was written$/m, "--dry-run says so");
      assert.equal(await lstat(`${rc}.ssh-anchor-backup`).catch(() => undefined), undefined, "--dry-run writes no backup");

      const applied = await setup(["--shell", "bash", "--ssh-config"]);
      assert.equal(applied.code, 0, applied.stderr);
      assert.match(applied.stdout, new RegExp(`^backup of ${rc.replaceAll(".", "\\.")}: ${rc.replaceAll(".", "\\.")}\\.ssh-anchor-backup$`, "m"), "says where the backup is");
      const once = await readFile(rc, "utf8");
      assert.ok(once.startsWith(original));
      assert.equal((once.match(/ssh-anchor init bash/g) ?? []).length, 1);
      assert.ok((await readFile(config, "utf8")).startsWith("# >>> ssh-anchor >>>\n"), "IdentityAgent first: ssh takes the first value");
      assert.equal(await readFile(`${rc}.ssh-anchor-backup`, "utf8"), original);

      const again = await setup(["--shell", "bash", "--ssh-config"]);
      assert.match(again.stdout, /already set up/);
      assert.equal(await readFile(rc, "utf8"), once);

      // bash -i really runs the line it added (ssh-anchor on PATH, a socket path of the test's).
      const interactive = await run("bash", ["-i", "-c", 'echo "sock=$SSH_AUTH_SOCK"'], {
        env: { ...process.env, HOME: home, PATH: `${join(BIN, "..")}:${process.env.PATH}`, SSH_ANCHOR_SOCKET: join(home, "a", "agent.sock") },
      });
      assert.match(interactive.stdout, new RegExp(`sock=${home}/a/agent.sock`));
      await run(BIN, ["stop", "--socket", join(home, "a", "agent.sock")]);

      const undone = await setup(["--shell", "bash", "--undo"]);
      assert.equal(undone.code, 0, undone.stderr);
      assert.equal(await readFile(rc, "utf8"), original);
      assert.equal(await readFile(config, "utf8"), "Host work\n    User me\n");
      // The backup still holds the original, not the file as setup had changed it.
      assert.equal(await readFile(`${rc}.ssh-anchor-backup`, "utf8"), original, "--undo leaves the backup alone");
      assert.match(undone.stdout, /^the backup .*\.bashrc\.ssh-anchor-backup is left as it was/m);
      assert.match(undone.stdout, /^removed; .*keeps serving until: ssh-anchor stop\)$/m, "says the daemon is still running");
      assert.match((await setup(["--shell", "bash", "--undo"])).stdout, /nothing to undo/);

      // A second setup after an undo keeps the first backup too: it is the original.
      await writeFile(rc, `${original}\n# edited later\n`);
      assert.equal((await setup(["--shell", "bash"])).code, 0);
      assert.equal(await readFile(`${rc}.ssh-anchor-backup`, "utf8"), original, "the first change's original is kept");
      assert.equal((await setup(["--shell", "bash", "--undo"])).code, 0);
      await run("rm", ["-f", `${rc}.ssh-anchor-backup`, `${config}.ssh-anchor-backup`]);
    });
  }

  it("names the shells it supports when $SHELL is another, or when it cannot tell", async () => {
    const result = await run(BIN, ["setup"], { env: { ...process.env, HOME: home, SHELL: "/bin/tcsh" } });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^ssh-anchor: your shell \(tcsh, from \$SHELL\) is not supported: setup knows bash, zsh, sh and fish; name one with --shell\n$/);
    const unset = await run(BIN, ["setup"], { env: { ...process.env, HOME: home, SHELL: "" } });
    assert.equal(unset.code, 2);
    assert.match(unset.stderr, /^ssh-anchor: cannot tell your shell \(\$SHELL is not set\): name it with --shell bash\|zsh\|sh\|fish\n$/);
  });

  it("sets up dash and ksh as sh, in ~/.profile", async () => {
    for (const env of [{ SHELL: "/bin/dash" }, { SHELL: "/bin/ksh" }]) {
      const result = await run(BIN, ["setup", "--dry-run"], { env: { ...process.env, HOME: home, ...env } });
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /\.profile/);
      assert.match(result.stdout, /^\+eval "\$\(ssh-anchor init sh\)"$/m);
    }
    assert.equal((await setup(["--shell", "dash", "--dry-run"])).code, 0);
  });
});

describe("ssh-anchor rc (a ~/.ssh/rc for link mode)", () => {
  const cleanup = new Cleanup();
  after(() => cleanup.run());

  it("points the link at the login's agent, still hands the X11 cookie to xauth, and prints nothing", async () => {
    const base = await tempDir();
    cleanup.add(() => run("rm", ["-rf", base]));
    const rcFile = join(base, "rc");
    await writeFile(rcFile, (await run(BIN, ["rc"])).stdout);
    const agent = await startAgent(cleanup, join(base, "ssh-Login", "agent.123"));
    const authority = join(base, "Xauthority");
    const link = join(base, ".ssh", `anchor-${hostname()}`, "link.sock");
    // As sshd runs it: /bin/sh, "protocol cookie" on standard input, DISPLAY set by X11 forwarding.
    const result = await run("sh", [rcFile], {
      env: { ...process.env, HOME: base, SSH_AUTH_SOCK: agent.path, DISPLAY: "localhost:10.0", XAUTHORITY: authority },
      input: "MIT-MAGIC-COOKIE-1 0123456789abcdef0123456789abcdef\n",
    });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "", "~/.ssh/rc must not write to stdout");
    assert.equal(await readlink(link), agent.path);
    assert.ok((await lstat(link)).isSymbolicLink());
    const cookies = await run("xauth", ["-f", authority, "list"]);
    assert.match(cookies.stdout, /\/unix:10\s+MIT-MAGIC-COOKIE-1\s+0123456789abcdef0123456789abcdef/);
  });
});
