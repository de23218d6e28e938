import assert from "node:assert/strict";
import { chown, lstat, mkdir, readFile, readlink, symlink, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { startAgent } from "../helpers/agent.js";
import { BIN, Cleanup, run, tempDir } from "../helpers/process.js";
import { SHELL_RECORDS, type InitMode } from "../../src/shared/core/shells.js";

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
      // The absolute path setup was run as, on PATH or not at login.
      assert.match(dry.stdout, new RegExp(`^\\+eval "\\$\\(${BIN.replaceAll(".", "\\.")} init bash\\)"$`, "m"));
      assert.match(dry.stdout, /^\+    IdentityAgent \/tmp\/ssh-anchor-%i\/agent\.sock$/m);
      assert.equal(await readFile(rc, "utf8"), original, "--dry-run changes nothing");
      assert.match(dry.stdout, /^dry run: nothing was written$/m, "--dry-run says so");
      assert.equal(await lstat(`${rc}.ssh-anchor-backup`).catch(() => undefined), undefined, "--dry-run writes no backup");

      const applied = await setup(["--shell", "bash", "--ssh-config"]);
      assert.equal(applied.code, 0, applied.stderr);
      assert.match(applied.stdout, new RegExp(`^backup of ${rc.replaceAll(".", "\\.")}: ${rc.replaceAll(".", "\\.")}\\.ssh-anchor-backup$`, "m"), "says where the backup is");
      const once = await readFile(rc, "utf8");
      // First in ~/.bashrc: Debian's returns early in a non-interactive shell (ssh host cmd).
      assert.ok(once.startsWith(`# >>> ssh-anchor >>>\neval "$(${BIN} init bash)"\n# <<< ssh-anchor <<<\n`) && once.endsWith(original), once);
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

  // Issue 19: ssh-anchor in ~/.local/bin (npm's link to the package), never on the PATH a shell
  // starts with. The distributions' stock start-up files, in the parts that matter here:
  // Debian's and Ubuntu's ~/.bashrc return at once when not interactive, and ~/.profile adds
  // ~/.local/bin only after sourcing it; Fedora's ~/.bash_profile sources ~/.bashrc, which sources
  // /etc/bashrc and adds ~/.local/bin itself, after where setup puts its line.
  const debian = {
    ".bashrc": "# If not running interactively, don't do anything\ncase $- in\n    *i*) ;;\n      *) return;;\nesac\n",
    ".profile": 'if [ -n "$BASH_VERSION" ]; then\n    if [ -f "$HOME/.bashrc" ]; then\n\t. "$HOME/.bashrc"\n    fi\nfi\nif [ -d "$HOME/.local/bin" ] ; then\n    PATH="$HOME/.local/bin:$PATH"\nfi\n',
  };
  const fedora = {
    ".bashrc":
      '# .bashrc\n\n# Source global definitions\nif [ -f /etc/bashrc ]; then\n    . /etc/bashrc\nfi\n\n# User specific environment\nif ! [[ "$PATH" =~ "$HOME/.local/bin:$HOME/bin:" ]]; then\n    PATH="$HOME/.local/bin:$HOME/bin:$PATH"\nfi\nexport PATH\n',
    ".bash_profile": "# .bash_profile\n\n# Get the aliases and functions\nif [ -f ~/.bashrc ]; then\n    . ~/.bashrc\nfi\n",
  };
  for (const [shell, runs, dotfiles, distribution] of [
    ["bash", [["-i", "-c"], ["-l", "-c"], ["-c"]], debian, "Debian's"],
    ["bash", [["-i", "-c"], ["-l", "-c"], ["-c"]], fedora, "Fedora's"],
    ["zsh", [["-i", "-c"], ["-l", "-i", "-c"]], debian, "Debian's"],
    ["sh", [["-l", "-c"]], debian, "Debian's"],
    ["fish", [["-c"], ["-l", "-i", "-c"]], debian, "Debian's"],
  ] as const) {
    it(`${shell}: the line setup writes runs ssh-anchor by its absolute path, with ssh-anchor on no PATH (${distribution} start-up files)`, async () => {
      const own = await tempDir();
      cleanup.add(() => run("rm", ["-rf", own]));
      await mkdir(join(own, ".local", "bin"), { recursive: true });
      await symlink(BIN, join(own, ".local", "bin", "ssh-anchor"));
      for (const [file, text] of Object.entries(dotfiles)) await writeFile(join(own, file), text);
      const bare = { HOME: own, PATH: "/usr/local/bin:/usr/bin:/bin:/usr/games", TERM: "dumb" };
      const setup = await run(join(own, ".local", "bin", "ssh-anchor"), ["setup", "--shell", shell], { env: bare });
      assert.equal(setup.code, 0, setup.stderr);
      assert.equal(setup.stderr, "", "no warning: the line will run");
      assert.match(setup.stdout, shell === "fish" ? /^\+"\$HOME\/\.local\/bin\/ssh-anchor" init fish \| source$/m : new RegExp(`^\\+eval "\\$\\("\\$HOME/\\.local/bin/ssh-anchor" init ${shell}\\)"$`, "m"));
      const socket = join(own, "a", "agent.sock");
      cleanup.add(() => run(BIN, ["stop", "--socket", socket]));
      for (const args of runs) {
        const started = await run(shell, [...args, 'printf "sock=%s\\n" "$SSH_AUTH_SOCK"'], {
          // SSH_CLIENT: bash reads ~/.bashrc for a command sshd runs (ssh host cmd).
          env: { ...bare, SSH_ANCHOR_SOCKET: socket, SSH_AUTH_SOCK: "/tmp/ssh-Forwarded9/agent.1", ...(shell === "bash" ? { SSH_CLIENT: "127.0.0.1 1 22" } : {}) },
          timeoutMs: 15_000,
        });
        assert.match(started.stdout, new RegExp(`^sock=${socket}$`, "m"), `${shell} ${args.join(" ")}: ${started.stdout}${started.stderr}`);
        assert.doesNotMatch(started.stderr, /not found|ssh-anchor/, `${shell} ${args.join(" ")}`);
      }
    });
  }

  it("warns when the line would run an ssh-anchor in a temporary directory, or one it cannot name", async () => {
    const elsewhere = await tempDir();
    cleanup.add(() => run("rm", ["-rf", elsewhere]));
    await symlink(BIN, join(elsewhere, "ssh-anchor"));
    const transient = await run(join(elsewhere, "ssh-anchor"), ["setup", "--shell", "bash", "--dry-run"], { env: { ...process.env, HOME: home } });
    assert.equal(transient.code, 0, transient.stderr);
    assert.match(transient.stderr, /^ssh-anchor: warning: the line runs \/tmp\/\S+\/ssh-anchor, which is in a temporary directory and will not be there at a later login: install ssh-anchor/m);
    const unnamed = await run(process.execPath, [join(BIN, "..", "..", "dist", "cli.js"), "setup", "--shell", "bash", "--dry-run"], { env: { ...process.env, HOME: home } });
    assert.match(unnamed.stdout, /^\+eval "\$\(ssh-anchor init bash\)"$/m, "by name, when it cannot tell its own path");
    assert.match(unnamed.stderr, /^ssh-anchor: warning: setup cannot tell where this ssh-anchor is .*the line runs it by name/m);
  });

  it("sets up dash and ksh as sh, in ~/.profile", async () => {
    for (const env of [{ SHELL: "/bin/dash" }, { SHELL: "/bin/ksh" }]) {
      const result = await run(BIN, ["setup", "--dry-run"], { env: { ...process.env, HOME: home, ...env } });
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /\.profile/);
      assert.match(result.stdout, /^\+eval "\$\(\S*\/ssh-anchor init sh\)"$/m);
    }
    assert.equal((await setup(["--shell", "dash", "--dry-run"])).code, 0);
  });
});

describe("setup: one init line per shell, never the shared socket where per-identity is on (issue 18)", () => {
  const cleanup = new Cleanup();
  after(() => cleanup.run());

  /** A fresh home of its own for each case. */
  const freshHome = async () => {
    const home = await tempDir();
    cleanup.add(() => run("rm", ["-rf", home]));
    return home;
  };
  const setupIn = (home: string, args: string[]) => run(BIN, ["setup", ...args], { env: { ...process.env, HOME: home, SSH_ANCHOR_SOCKET: "" } });
  const write = async (home: string, file: string, text: string) => {
    await mkdir(join(home, file, ".."), { recursive: true });
    await writeFile(join(home, file), text);
  };

  it("adds nothing after a hand-written per-identity line, in every shell's syntax, and says where it is", async () => {
    for (const shell of SHELL_RECORDS) {
      const home = await freshHome();
      const original = `# my own\n${shell.rcLine("init --per-identity")}\nalias ll='ls -l'\n`;
      await write(home, shell.rcFile, original);
      const result = await setupIn(home, ["--shell", shell.name]);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(await readFile(join(home, shell.rcFile), "utf8"), original, `${shell.name}: the file is unchanged`);
      assert.match(result.stdout, new RegExp(`per-identity is on for this account \\(~/${shell.rcFile.replaceAll(".", "\\.")} line 2 runs init --per-identity\\)`));
      assert.match(result.stdout, new RegExp(`^~/${shell.rcFile.replaceAll(".", "\\.")} line 2 already runs ssh-anchor init --per-identity$`, "m"));
      assert.match(result.stdout, /^already set up: nothing to change$/m);
      // Asked for link mode or IdentityAgent there: refused in one line, nothing written.
      for (const flag of ["--link", "--ssh-config"]) {
        const refused = await setupIn(home, ["--shell", shell.name, flag]);
        assert.equal(refused.code, 1, `${flag}: ${refused.stdout}`);
        assert.match(refused.stderr, /^ssh-anchor: per-identity is on for this account \(.* line 2 runs init --per-identity\): .*whoever logged in last.*\n$/);
        assert.equal(await readFile(join(home, shell.rcFile), "utf8"), original);
      }
      assert.equal(await lstat(join(home, ".ssh", "config")).catch(() => undefined), undefined, "no IdentityAgent written");
    }
  });

  it("recognises every form, written by hand or sourced from a saved script, and refuses a second line of another form", async () => {
    const forms: InitMode[] = ["init", "init --link", "init --per-identity"];
    for (const shell of SHELL_RECORDS) {
      const saved = join(".config", `ssh-anchor-saved.${shell.scripts}`);
      for (const present of forms) {
        for (const how of ["line", "saved script"] as const) {
          const home = await freshHome();
          let line = shell.rcLine(present);
          if (how === "saved script") {
            // The saved script init's help suggests, its form read from its text.
            const script = await run(BIN, ["init", ...present.split(" ").slice(1), shell.name]);
            await write(home, saved, script.stdout);
            line = shell.scripts === "fish" ? `test -r ~/${saved}; and source ~/${saved}` : `[ -r "$HOME/${saved}" ] && . "$HOME/${saved}"`;
          }
          const original = `export EDITOR=vi\n${line}\n`;
          await write(home, shell.rcFile, original);
          const label = `${shell.name}, ${present} as a ${how}`;
          // setup without a flag: per-identity where the line is that one, else the daemon's line.
          const plain = await setupIn(home, ["--shell", shell.name]);
          if (present === "init --link") {
            assert.equal(plain.code, 1, `${label}: ${plain.stdout}`);
            assert.match(plain.stderr, new RegExp(`^ssh-anchor: ~/${shell.rcFile.replaceAll(".", "\\.")} line 2 already runs ssh-anchor init --link: setup adds no second init line \\(the last one run wins\\); change that line to: .*\n$`), label);
          } else {
            assert.equal(plain.code, 0, `${label}: ${plain.stderr}`);
            assert.match(plain.stdout, new RegExp(`line 2 already runs ssh-anchor ${present}$`, "m"), label);
          }
          assert.equal(await readFile(join(home, shell.rcFile), "utf8"), original, `${label}: unchanged`);
          // Another form asked for: refused, naming the file and the line, never a second line.
          const other = present === "init --link" ? "--per-identity" : "--link";
          const asked = await setupIn(home, ["--shell", shell.name, other]);
          assert.equal(asked.code, 1, `${label} then setup ${other}: ${asked.stdout}`);
          assert.match(asked.stderr, /^ssh-anchor: (~\/\S+ line 2 already runs ssh-anchor init|per-identity is on for this account \(~\/\S+ line 2 runs)/, label);
          assert.equal(await readFile(join(home, shell.rcFile), "utf8"), original, `${label}: unchanged after ${other}`);
        }
      }
    }
  });

  it("writes the per-identity line where another shell's file or the daemon's scope registry says per-identity is on", async () => {
    const home = await freshHome();
    await write(home, ".zshrc", `${SHELL_RECORDS[1].rcLine("init --per-identity")}\n`);
    const result = await setupIn(home, ["--shell", "bash"]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^per-identity is on for this account \(~\/\.zshrc line 1 runs init --per-identity\): setup writes the per-identity line$/m);
    assert.match(await readFile(join(home, ".bashrc"), "utf8"), /^eval "\$\(\S*\/ssh-anchor init --per-identity bash\)"$/m);
    assert.doesNotMatch(await readFile(join(home, ".bashrc"), "utf8"), /init bash\)/);

    // No rc line anywhere, but the daemon remembers a scope (someone logged in with the line).
    const other = await freshHome();
    const socket = join(other, "anchor", "agent.sock");
    await mkdir(join(other, "anchor"), { mode: 0o700 });
    // Where and how the daemon keeps it (the registry beside the socket: key fingerprints only).
    await writeFile(`${socket}.scopes`, `${JSON.stringify([{ id: "0123456789abcdef", keys: ["SHA256:x"], lastLoginMs: 0 }], null, 1)}\n`);
    const registry = await run(BIN, ["setup", "--shell", "sh"], { env: { ...process.env, HOME: other, SSH_ANCHOR_SOCKET: socket } });
    assert.equal(registry.code, 0, registry.stderr);
    assert.match(registry.stdout, /per-identity is on for this account \(the daemon remembers per-identity scopes in .*agent\.sock\.scopes\)/);
    assert.match(await readFile(join(other, ".profile"), "utf8"), /^eval "\$\(\S*\/ssh-anchor init --per-identity sh\)"$/m);
  });

  it("edits the file a symlinked ~/.bashrc leads to, keeps the link, and --undo restores it there", async () => {
    const home = await freshHome();
    const dotfiles = join(home, "dotfiles");
    await mkdir(dotfiles, { mode: 0o700 });
    const original = "alias ll='ls -l'\n";
    await writeFile(join(dotfiles, "bashrc"), original);
    await symlink("dotfiles/bashrc", join(home, ".bashrc"));
    const applied = await setupIn(home, ["--shell", "bash"]);
    assert.equal(applied.code, 0, applied.stderr);
    assert.match(applied.stdout, new RegExp(`~/\\.bashrc is a symlink: setup changes the file it leads to, ${dotfiles}/bashrc, and keeps the link`));
    assert.ok((await lstat(join(home, ".bashrc"))).isSymbolicLink(), "still a link");
    assert.equal(await readlink(join(home, ".bashrc")), "dotfiles/bashrc", "leading where it did");
    const changed = await readFile(join(dotfiles, "bashrc"), "utf8");
    assert.ok(changed.endsWith(original) && changed.includes(`eval "$(${BIN} init bash)"`), changed);
    assert.equal(await readFile(join(home, ".bashrc.ssh-anchor-backup"), "utf8"), original, "the backup beside the link holds the original");
    assert.deepEqual((await run("ls", ["-A", dotfiles])).stdout.split("\n").filter(Boolean), ["bashrc"], "nothing left in the dotfiles directory");
    assert.match((await setupIn(home, ["--shell", "bash"])).stdout, /already set up/);

    const undone = await setupIn(home, ["--shell", "bash", "--undo"]);
    assert.equal(undone.code, 0, undone.stderr);
    assert.ok((await lstat(join(home, ".bashrc"))).isSymbolicLink(), "still a link after --undo");
    assert.equal(await readlink(join(home, ".bashrc")), "dotfiles/bashrc");
    assert.equal(await readFile(join(dotfiles, "bashrc"), "utf8"), original, "--undo restores the target byte for byte");
  });

  it("refuses a symlinked ~/.bashrc that leads to another user's file or nowhere, and changes nothing", async () => {
    const home = await freshHome();
    const foreign = join(home, "foreign");
    await writeFile(foreign, "theirs\n");
    await chown(foreign, 65534, 65534);
    await symlink(foreign, join(home, ".bashrc"));
    const refused = await setupIn(home, ["--shell", "bash"]);
    assert.equal(refused.code, 1, refused.stdout);
    assert.match(refused.stderr, /^ssh-anchor: .*\.bashrc leads to .*foreign, owned by uid 65534.*, not you: setup changes only a regular file of yours.*nothing was changed\n$/);
    assert.equal(await readFile(foreign, "utf8"), "theirs\n");
    assert.ok((await lstat(join(home, ".bashrc"))).isSymbolicLink());

    const dangling = await freshHome();
    await symlink(join(dangling, "gone"), join(dangling, ".bashrc"));
    const nowhere = await setupIn(dangling, ["--shell", "bash"]);
    assert.equal(nowhere.code, 1);
    assert.match(nowhere.stderr, /is a symlink that leads nowhere: .*nothing was changed\n$/);
    assert.equal(await lstat(join(dangling, "gone")).catch(() => undefined), undefined, "nothing created where it leads");
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
