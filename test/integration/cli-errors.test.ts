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
    [["connect", "--frob", "h"], /^ssh-anchor: unknown option '--frob'; see ssh-anchor connect --help$/],
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

  /**
   * Usage errors have ONE shape in every command, whoever parses it (commander, connect's and
   * install's own parsers): what went wrong, the closest known word when one is close, and the
   * help to read. `ssh-anchor: unknown option '--fixx' (did you mean --fix?); see ssh-anchor doctor --help`
   */
  const typos: Array<[string[], string, string | undefined, string]> = [
    // [arguments, what went wrong, the suggestion, the command whose help to see]
    [["run", "--verbos"], "unknown option '--verbos'", "--verbose", "run"],
    [["start", "--quite"], "unknown option '--quite'", "--quiet", "start"],
    [["stop", "--sockt"], "unknown option '--sockt'", "--socket", "stop"],
    [["status", "--jsno"], "unknown option '--jsno'", "--json", "status"],
    [["init", "--per-identiy", "bash"], "unknown option '--per-identiy'", "--per-identity", "init"],
    [["connect", "--sesion", "work", "h"], "unknown option '--sesion'", "--session", "connect"],
    [["connect", "--screne=1", "h"], "unknown option '--screne'", "--screen", "connect"],
    [["install", "--forse", "h"], "unknown option '--forse'", "--force", "install"],
    [["install", "--dryrun", "h"], "unknown option '--dryrun'", "--dry-run", "install"],
    [["doctor", "--fixx"], "unknown option '--fixx'", "--fix", "doctor"],
    [["link", "--quiett"], "unknown option '--quiett'", "--quiet", "link"],
    [["rc", "--hepl"], "unknown option '--hepl'", "--help", "rc"],
    [["setup", "--completion"], "unknown option '--completion'", "--completions", "setup"],
    [["scope", "--jason"], "unknown option '--jason'", "--json", "scope"],
    [["service", "install", "--no-strat"], "unknown option '--no-strat'", "--no-start", "service install"],
    [["service", "uninstall", "--sokcet"], "unknown option '--sokcet'", "--socket", "service uninstall"],
    [["service", "status", "--jsn"], "unknown option '--jsn'", "--json", "service status"],
    [["completion", "--hepl", "bash"], "unknown option '--hepl'", "--help", "completion"],
    [["--verison"], "unknown option '--verison'", "--version", ""],
    [["stauts"], "unknown command 'stauts'", "status", ""],
    [["help", "stauts"], "unknown command 'stauts'", "status", ""],
    [["service", "instal"], "unknown command 'instal'", "install", "service"],
    [["help", "service", "instal"], "unknown command 'service instal'", "install", "service"],
    // Nothing close: no suggestion, the same shape.
    [["doctor", "--zzzzzz"], "unknown option '--zzzzzz'", undefined, "doctor"],
    [["connect", "--zzzzzz", "h"], "unknown option '--zzzzzz'", undefined, "connect"],
    [["install", "--zzzzzz", "h"], "unknown option '--zzzzzz'", undefined, "install"],
    [["frobnicate"], "unknown command 'frobnicate'", undefined, ""],
    // The other usage errors of every parser point at the help too.
    [["connect", "--log"], "--log needs a value", undefined, "connect"],
    [["install"], "no host: ssh-anchor install [options] [ssh options] [user@]host", undefined, "install"],
    [["install", "--force=yes", "h"], "option '--force' takes no value", undefined, "install"],
    [["run", "--reply-timeout", "abc"], '--reply-timeout takes a positive whole number, not "abc"', undefined, "run"],
    [["init"], "missing required argument 'shell'", undefined, "init"],
  ];
  for (const [args, what, suggestion, command] of typos) {
    it(`ssh-anchor ${args.join(" ")}: the one shape of a usage error${suggestion ? `, suggesting ${suggestion}` : ""}`, async () => {
      const result = await run(BIN, args, { env, timeoutMs: 10_000 });
      assert.equal(result.code, 2, `exit status\n${result.stderr}`);
      assert.equal(result.stdout, "", "nothing on stdout");
      const help = command === "" ? "ssh-anchor --help" : `ssh-anchor ${command} --help`;
      assert.equal(result.stderr, `ssh-anchor: ${what}${suggestion ? ` (did you mean ${suggestion}?)` : ""}; see ${help}\n`);
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
