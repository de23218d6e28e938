import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { chmod, mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { BASH_COMPLETION_LOADERS, bashLoaderNote } from "../../src/features/completion/install.js";
import { BIN, Cleanup, run, tempDir } from "../helpers/process.js";

/** Tab completion in real bash, zsh and fish, against the scripts `ssh-anchor completion` prints. */
describe("shell completion", () => {
  const cleanup = new Cleanup();
  let base: string;
  let env: NodeJS.ProcessEnv;
  const scripts: Record<string, string> = {};
  before(async () => {
    base = await tempDir();
    cleanup.add(() => run("rm", ["-rf", base]));
    const home = join(base, "home");
    await mkdir(join(home, ".ssh"), { recursive: true, mode: 0o700 });
    await writeFile(join(home, ".ssh", "config"), "Host devbox bastion\n  User me\nHost *.internal\n  ForwardAgent yes\nhost buildhost\n");
    // A tmux stand-in: connect --session offers the sessions it lists.
    const bin = join(base, "bin");
    await mkdir(bin);
    await writeFile(join(bin, "tmux"), "#!/bin/sh\nprintf 'work\\nscratch\\n'\n");
    await chmod(join(bin, "tmux"), 0o755);
    env = { ...process.env, HOME: home, PATH: `${bin}:${process.env.PATH}`, XDG_CONFIG_HOME: join(home, ".config"), XDG_DATA_HOME: join(home, ".local", "share") };
    for (const shell of ["bash", "zsh", "fish"]) {
      const printed = await run(BIN, ["completion", shell], { env });
      assert.equal(printed.code, 0, printed.stderr);
      scripts[shell] = join(base, `completion.${shell}`);
      await writeFile(scripts[shell]!, printed.stdout);
    }
  });
  after(() => cleanup.run());

  /** What bash offers for the words typed, the last one being completed. */
  async function bash(...words: string[]): Promise<string[]> {
    const script = `source ${scripts.bash}; COMP_WORDS=(ssh-anchor "$@"); COMP_CWORD=$#; _ssh_anchor; printf '%s\\n' "\${COMPREPLY[@]}"`;
    const result = await run("bash", ["-c", script, "bash", ...words], { env });
    assert.equal(result.code, 0, result.stderr);
    return result.stdout.split("\n").filter(Boolean).sort();
  }

  async function zsh(...words: string[]): Promise<string[]> {
    // compadd and _files stand in for zsh's completion system, which needs a terminal.
    const script = [
      "compdef() { :; }",
      'compadd() { [[ $1 == -- ]] && shift; print -l -- "$@"; }',
      "_files() { print -- FILES $@; }",
      `source ${scripts.zsh}`,
      'words=(ssh-anchor "$@"); CURRENT=${#words}',
      "_ssh_anchor",
    ].join("\n");
    const result = await run("zsh", ["-f", "-c", script, "zsh", ...words], { env });
    assert.equal(result.code, 0, result.stderr);
    return result.stdout.split("\n").filter(Boolean).sort();
  }

  async function fish(line: string): Promise<string[]> {
    const result = await run("fish", ["--no-config", "-c", `source ${scripts.fish}; complete -C ${JSON.stringify(line)}`], { env });
    assert.equal(result.code, 0, result.stderr);
    return result.stdout.split("\n").filter(Boolean).map((entry) => entry.split("\t")[0]!).sort();
  }

  it("bash: commands, nested commands, flags, shells, hosts, tmux sessions, files", async () => {
    assert.deepEqual(await bash("se"), ["service", "setup"]);
    assert.deepEqual(await bash("service", ""), ["install", "status", "uninstall"]);
    assert.ok((await bash("service", "install", "--id")).includes("--idle-exit"));
    assert.deepEqual(await bash("init", ""), ["bash", "fish", "sh", "zsh"]);
    assert.deepEqual(await bash("init", "--link", "f"), ["fish"]);
    assert.deepEqual(await bash("completion", ""), ["bash", "fish", "zsh"]);
    assert.deepEqual(await bash("setup", "--shell", ""), ["bash", "fish", "sh", "zsh"]);
    assert.deepEqual(await bash("connect", "--session", ""), ["main", "scratch", "work"]);
    assert.deepEqual(await bash("connect", "-A", ""), ["bastion", "buildhost", "devbox"]);
    assert.deepEqual(await bash("connect", "me@devbox", "--", ""), [], "after -- comes the remote command");
    assert.deepEqual(await bash("run", "--socket", join(base, "completion.b")), [join(base, "completion.bash")]);
    assert.ok((await bash("run", "--")).includes("--max-wait"));
  });

  it("zsh: the same answers", async () => {
    const zshCommands = await zsh("se");
    // compadd gets every command; zsh itself keeps those matching what is typed.
    assert.ok(["service", "setup", "connect", "completion"].every((word) => zshCommands.includes(word)));
    assert.deepEqual(await zsh("service", ""), ["install", "status", "uninstall"]);
    assert.deepEqual(await zsh("init", ""), ["bash", "fish", "sh", "zsh"]);
    assert.deepEqual(await zsh("connect", "--session", ""), ["main", "scratch", "work"]);
    assert.deepEqual(await zsh("connect", ""), ["bastion", "buildhost", "devbox"]);
    assert.deepEqual(await zsh("run", "--log-file", ""), ["FILES"]);
    assert.ok((await zsh("service", "install", "-")).includes("--idle-exit"));
  });

  it("fish: the same answers", async () => {
    assert.deepEqual(await fish("ssh-anchor se"), ["service", "setup"]);
    assert.deepEqual(await fish("ssh-anchor service "), ["install", "status", "uninstall"]);
    assert.deepEqual(await fish("ssh-anchor init "), ["bash", "fish", "sh", "zsh"]);
    assert.deepEqual(await fish("ssh-anchor connect --session "), ["main", "scratch", "work"]);
    assert.ok((await fish("ssh-anchor service install --")).includes("--idle-exit"));
    assert.ok(!(await fish("ssh-anchor service install --")).includes("--fix"), "only that command's flags");
  });

  it("host and tmux session names are data in bash, zsh and fish: nothing in them runs, and bash offers them quoted", async () => {
    const home = join(base, "hostile-home");
    const bin = join(base, "hostile-bin");
    await mkdir(join(home, ".ssh"), { recursive: true, mode: 0o700 });
    await mkdir(bin);
    const marks = join(base, "ran");
    await mkdir(marks);
    await run("rm", ["-f", "/tmp/pwned"]);
    const ran = async () => [...(await readdir(marks)), ...((await run("test", ["-e", "/tmp/pwned"])).code === 0 ? ["/tmp/pwned"] : [])];
    // A Host line and tmux session names holding command substitutions, backticks and a variable.
    const hosts = [`evil$(touch\${IFS}${marks}/host-dollar)`, `tick\`touch\${IFS}${marks}/host-tick\``, "good-host"];
    await writeFile(join(home, ".ssh", "config"), `Host ${hosts.join(" ")}\n  User me\n`);
    const sessions = ["$(touch /tmp/pwned)", `\`touch ${marks}/session-tick\``, `x$(touch\${IFS}${marks}/session-dollar)`, "$HOME", "plain"];
    await writeFile(join(bin, "tmux"), `#!/bin/sh\ncat <<'EOF'\n${sessions.join("\n")}\nEOF\n`);
    await chmod(join(bin, "tmux"), 0o755);
    const saved = env;
    env = { ...saved, HOME: home, PATH: `${bin}:${saved.PATH}` };
    try {
      // bash: every name offered, each one quoted so that the word it puts on the command line
      // is the name itself (evaluated here the way the shell will when the line runs).
      for (const [words, names] of [
        [["connect", "--session", ""], ["main", ...sessions]],
        [["connect", "-A", ""], hosts],
      ] as const) {
        const offered = await bash(...words);
        assert.equal(offered.length, names.length, `offered: ${offered.join(" | ")}`);
        const script = `for word in "$@"; do eval "printf '%s\\n' $word"; done`;
        const meant = await run("bash", ["-c", script, "bash", ...offered], { env });
        assert.deepEqual(meant.stdout.split("\n").filter(Boolean).sort(), [...names].sort());
      }
      assert.deepEqual(await bash("connect", "--session", "pl"), ["plain"], "a prefix still narrows the list");
      assert.deepEqual(await bash("connect", "-A", "go"), ["good-host"]);
      // zsh and fish: the names reach compadd / complete as data (both quote what they insert).
      assert.deepEqual(await zsh("connect", "--session", ""), ["main", ...sessions].sort());
      assert.deepEqual(await zsh("connect", ""), [...hosts].sort());
      assert.deepEqual(await fish("ssh-anchor connect --session "), ["main", ...sessions].sort());
      assert.ok((await fish("ssh-anchor connect ")).includes("good-host"));
      assert.deepEqual(await ran(), [], "nothing in a host or session name ran");
    } finally {
      env = saved;
    }
  });

  it("setup --completions saves the script where the shell finds it; setup --undo removes it", async () => {
    for (const [shell, file] of [
      ["bash", join(base, "home", ".local", "share", "bash-completion", "completions", "ssh-anchor")],
      ["fish", join(base, "home", ".config", "fish", "completions", "ssh-anchor.fish")],
      ["zsh", join(base, "home", ".local", "share", "zsh", "site-functions", "_ssh-anchor")],
    ] as const) {
      const dry = await run(BIN, ["setup", "--shell", shell, "--completions", "--dry-run"], { env });
      assert.equal(dry.code, 0, dry.stderr);
      assert.match(dry.stdout, new RegExp(`would write the ${shell} completion to ${file}`));
      await assert.rejects(readFile(file), { code: "ENOENT" });
      const done = await run(BIN, ["setup", "--shell", shell, "--completions"], { env });
      assert.equal(done.code, 0, done.stderr);
      assert.match(done.stdout, new RegExp(`wrote the ${shell} completion to ${file}`));
      assert.equal(await readFile(file, "utf8"), await readFile(scripts[shell]!, "utf8"));
      if (shell === "zsh") assert.match(done.stdout, /fpath=/);
      if (shell === "bash") {
        // Without bash-completion nothing loads the file: one line says so, and how to load it.
        const loader = BASH_COMPLETION_LOADERS.find((path) => existsSync(path));
        const note = `note: bash-completion is not installed (no /usr/share/bash-completion/bash_completion), so nothing loads ${file}: add '. ${file}' to ~/.bashrc, or install bash-completion\n`;
        if (loader === undefined) assert.ok(done.stdout.includes(note), done.stdout);
        else assert.doesNotMatch(done.stdout, /bash-completion is not installed/, `${loader} is there`);
        // The line it gives works in a bash with nothing else loaded.
        const loaded = await run("bash", ["--norc", "--noprofile", "-c", `. '${file}' && complete -p ssh-anchor`], { env });
        assert.equal(loaded.code, 0, loaded.stderr);
        assert.match(loaded.stdout, /ssh-anchor$/m);
      }
      const again = await run(BIN, ["setup", "--shell", shell, "--completions"], { env });
      assert.match(again.stdout, /up to date/);
      const dryUndo = await run(BIN, ["setup", "--shell", shell, "--undo", "--dry-run"], { env });
      assert.match(dryUndo.stdout, new RegExp(`would remove ${file}\n`));
      const undone = await run(BIN, ["setup", "--shell", shell, "--undo"], { env });
      assert.equal(undone.code, 0, undone.stderr);
      const dryAfter = await run(BIN, ["setup", "--shell", shell, "--undo", "--dry-run"], { env });
      assert.doesNotMatch(dryAfter.stdout, /would remove .*completion/, "nothing of setup's is left to remove");
      assert.match(undone.stdout, new RegExp(`removed ${file}`));
      await assert.rejects(readFile(file), { code: "ENOENT" });
    }
    const unknown = await run(BIN, ["completion", "tcsh"], { env });
    assert.equal(unknown.code, 2);
    assert.equal(unknown.stderr, 'ssh-anchor: no completion for "tcsh"; use one of: bash, zsh, fish\n');
  });
});

describe("setup --completions and bash-completion", () => {
  it("says nothing more when bash-completion's loader is there, and names the first place it looked when none is", async () => {
    const base = await tempDir();
    try {
      const loader = join(base, "bash_completion");
      await writeFile(loader, "");
      assert.equal(await bashLoaderNote("/h/c", [join(base, "absent"), loader]), undefined);
      assert.equal(
        await bashLoaderNote("/h/c", [join(base, "absent")]),
        `bash-completion is not installed (no ${join(base, "absent")}), so nothing loads /h/c: add '. /h/c' to ~/.bashrc, or install bash-completion`,
      );
    } finally {
      await run("rm", ["-rf", base]);
    }
  });
});
