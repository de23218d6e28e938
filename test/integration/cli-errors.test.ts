import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { BIN, Cleanup, run, tempDir } from "../helpers/process.js";

/**
 * Every option error of every command is one line on stderr and exit status 2, never a stack
 * trace; nothing is started or written.
 */
describe("command-line errors", () => {
  const cleanup = new Cleanup();
  let env: NodeJS.ProcessEnv;
  before(async () => {
    const base = await tempDir();
    cleanup.add(() => run("rm", ["-rf", base]));
    env = { ...process.env, HOME: base, SSH_ANCHOR_SOCKET: join(base, "s", "agent.sock"), SHELL: "/bin/bash", NO_COLOR: "1" };
  });
  after(() => cleanup.run());

  const cases: Array<[string[], RegExp]> = [
    [["run", "--reply-timeout", "abc"], /--reply-timeout takes a positive whole number, not "abc"/],
    [["run", "--max-wait", "-1"], /--max-wait takes a positive whole number, not "-1"/],
    [["run", "--probe-timeout", "1.5"], /--probe-timeout takes a positive whole number/],
    [["run", "--probe-timeout"], /argument missing/],
    [["run", "--frob"], /unknown option '--frob'/],
    [["start", "--socket"], /argument missing/],
    [["start", "--nope"], /unknown option/],
    [["stop", "extra"], /too many arguments|unexpected/],
    [["status", "--bogus"], /unknown option/],
    [["init"], /missing required argument 'shell'/],
    [["init", "tcsh"], /unknown shell "tcsh"; use one of: bash, zsh, sh, fish/],
    [["doctor", "--nope"], /unknown option/],
    [["link", "--nope"], /unknown option/],
    [["rc", "--nope"], /unknown option/],
    [["setup", "--shell"], /argument missing/],
    [["setup", "--shell", "tcsh"], /tcsh is not supported: setup knows bash, zsh, sh and fish/],
    [["connect"], /no destination/],
    [["connect", "--max-attempts", "x", "h"], /--max-attempts takes a positive whole number, not "x"/],
    [["connect", "--max-attempts", "1.5", "h"], /--max-attempts takes a positive whole number/],
    [["connect", "--max-time", "-3", "h"], /--max-time takes a positive number/],
    [["connect", "--alive-interval", "abc", "h"], /--alive-interval takes a positive/],
    [["connect", "--log"], /--log needs a value/],
    [["connect", "--frob", "h"], /unknown option --frob/],
    [["connect", "--log", "/nonexistent-anchor-dir/connect.log", "h"], /cannot write the log \/nonexistent-anchor-dir\/connect\.log: its directory does not exist/],
    [["connect", "--session", "a b", "h"], /session name/],
    [["connect", "-o", "Bogus=1", "h"], /ssh rejected the options: .*Bad configuration option: bogus/],
    [["frobnicate"], /unknown command 'frobnicate'/],
    [["help", "frobnicate"], /unknown command 'frobnicate'/],
    [["help", "service", "frobnicate"], /unknown command 'service frobnicate'/],
    [["init", "--no-prompt", "bash"], /--no-prompt is for link mode only/],
  ];
  for (const [args, message] of cases) {
    it(`ssh-anchor ${args.join(" ")}: one line, exit 2`, async () => {
      const result = await run(BIN, args, { env, timeoutMs: 10_000 });
      assert.equal(result.code, 2, `exit status\n${result.stderr}`);
      assert.equal(result.stdout, "", "nothing on stdout");
      const lines = result.stderr.split("\n").filter(Boolean);
      assert.equal(lines.length, 1, `one line:\n${result.stderr}`);
      assert.match(lines[0] as string, /^ssh-anchor: /);
      assert.match(lines[0] as string, message);
    });
  }

  it("a standard output that cannot be written is one line and a failure, from Node and from the launcher", async () => {
    for (const args of [["status"], ["--help"], ["init", "bash"], ["init", "fish"]]) {
      const result = await run("sh", ["-c", `"$0" "$@" >/dev/full`, BIN, ...args], { env });
      assert.notEqual(result.code, 0, `${args.join(" ")} must fail`);
      const lines = result.stderr.trimEnd().split("\n");
      assert.equal(lines.length, 1, `one line for ${args.join(" ")}:\n${result.stderr}`);
      assert.doesNotMatch(result.stderr, /at .*\.js:\d+/, "no stack trace");
    }
  });

  it("help COMMAND still shows that command's help", async () => {
    const result = await run(BIN, ["help", "setup"], { env });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /Usage: ssh-anchor setup/);
  });

  it("help COMMAND SUBCOMMAND shows the subcommand's help, not its parent's", async () => {
    const result = await run(BIN, ["help", "service", "install"], { env });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^Usage: ssh-anchor service install /m);
  });

  it("aligns the top-level help's hints in two columns, with no stray continuation lines", async () => {
    const result = await run(BIN, ["--help"], { env });
    assert.equal(result.code, 0);
    const lines = result.stdout.split("\n");
    const hints = lines.slice(lines.findIndex((l) => l.startsWith("On the remote host"))).filter(Boolean);
    assert.ok(hints.length >= 3, result.stdout);
    for (const line of hints) assert.match(line, /^\S/, `a line of its own, not a continuation:\n${hints.join("\n")}`);
    const commands = new Set(hints.map((line) => line.indexOf("ssh-anchor ")));
    assert.equal(commands.size, 1, `commands in one column:\n${hints.join("\n")}`);
    const notes = new Set(hints.map((line) => /^.*?ssh-anchor \S+(?: \S+)*?( {2,})\S/.exec(line)).filter(Boolean).map((m) => (m as RegExpExecArray)[0].length));
    assert.ok(notes.size <= 1, `notes in one column:\n${hints.join("\n")}`);
  });
});
