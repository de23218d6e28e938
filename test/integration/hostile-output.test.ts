import assert from "node:assert/strict";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { addKey, startAgent } from "../helpers/agent.js";
import { sessionDirectory } from "../helpers/daemon.js";
import { BIN, Cleanup, run, tempDir, type RunResult } from "../helpers/process.js";

/**
 * What a key comment can hold (ssh-add keeps whatever the key file says): set the terminal's
 * title, clear the screen, forge a line of doctor's own, then C1 controls (NEL, a one-byte CSI)
 * and a right-to-left override.
 */
const FORGED = "ok   daemon     everything is fine";
const HOSTILE = `evil\u001b]0;pwned-title\u0007\u001b[2J\n${FORGED}\u0085x\u009by\u202ez`;

/** Every code point no printer may let through from data (the set of src/shared/core/text.ts). */
const UNSAFE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff]/u;

/** Asserts that `output` holds no unsafe code point and that no line of it is the forged one. */
function clean(output: string, printer: string): void {
  const unsafe = UNSAFE.exec(output);
  assert.equal(unsafe, null, `${printer} printed U+${unsafe?.[0].codePointAt(0)?.toString(16).padStart(4, "0")}: ${JSON.stringify(output)}`);

  assert.ok(!output.split("\n").some((line) => line.trimStart().startsWith(FORGED)), `${printer} printed a line starting with the forged text`);
}

/**
 * ONE test feeds every printer hostile input from real sources (a real ssh-agent's key comments,
 * a socket's file name, an environment value, ssh's messages, a typed word) and asserts that no
 * unsafe code point reaches any output: doctor (text, --json, the shared-account warning), status
 * (text, --json), scope's error line, commander's usage errors, connect's lines and its log.
 */
describe("hostile text reaches no printer raw", () => {
  const cleanup = new Cleanup();
  let base: string;
  let env: NodeJS.ProcessEnv;
  let agentDir: string;
  let hostileSocket: string;
  before(async () => {
    base = await tempDir();
    cleanup.add(() => run("rm", ["-rf", base]));
    env = {
      ...process.env,
      HOME: join(base, "home"),
      TMUX_TMPDIR: join(base, "tmux"),
      SCREENDIR: join(base, "screen"),
      SSH_ANCHOR_SOCKET: join(base, "anchor", "agent.sock"),
      NO_COLOR: "1",
    };
    for (const dir of ["home", "tmux", "screen"]) await mkdir(join(base, dir), { mode: 0o700 });
    // Two logins' agents where sshd puts them, each with a key of a different person whose
    // comment is hostile: doctor lists both and warns that the account looks shared.
    for (const [n, who] of [[1, "alice"], [2, "bob"]] as const) {
      const directory = sessionDirectory("/tmp", "by sshd", `H${n}`);
      const agent = await startAgent(cleanup, join(directory, `agent.900000${n}`));
      cleanup.add(() => run("rm", ["-rf", directory]));
      const key = join(base, `key-${who}`);
      const made = await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", `${who} ${HOSTILE}`, "-f", key]);
      assert.equal(made.code, 0, made.stderr);
      await addKey(agent.path, key);
      const listed = await run("ssh-add", ["-l"], { env: { ...process.env, SSH_AUTH_SOCK: agent.path } });
      assert.ok(listed.stdout.includes(HOSTILE), "the agent keeps the comment as the key file says it");
    }
    // A socket whose file name is hostile, in a directory the daemon is told to watch.
    agentDir = `/tmp/plh${process.pid}`;
    cleanup.add(() => run("rm", ["-rf", agentDir]));
    hostileSocket = join(agentDir, `a\u001b[2J\n${FORGED.slice(0, 14)}\u0085\u009b\u202e`);
    await startAgent(cleanup, hostileSocket);
  });
  after(async () => {
    await run("tmux", ["-L", "hostile", "kill-server"], { env });
    await run(BIN, ["stop"], { env });
    await cleanup.run();
  });

  const cli = (args: readonly string[], extra: NodeJS.ProcessEnv = {}): Promise<RunResult> => run(BIN, args, { env: { ...env, ...extra }, timeoutMs: 30_000 });

  it("every printer, fed hostile input, prints no control character, no C1, no bidi override and no forged line", async () => {
    // A shell whose SSH_AUTH_SOCK is hostile (doctor quotes it), and a tmux session holding it.
    const hostileEnvValue = `/tmp/x\u001b]0;t\u0007\n${FORGED}\u0085\u009b\u202e`;
    assert.equal((await run("tmux", ["-L", "hostile", "new", "-d", "-s", "plain"], { env })).code, 0);
    await run("tmux", ["-L", "hostile", "set-environment", "-t", "plain", "SSH_AUTH_SOCK", hostileEnvValue], { env });

    const doctorText = await cli(["doctor"], { SSH_AUTH_SOCK: hostileEnvValue });
    clean(doctorText.stdout, "doctor");
    clean(doctorText.stderr, "doctor's stderr");
    assert.match(doctorText.stdout, /alice evil\?\]0;pwned-title\?\?\[2J\?ok {3}daemon {5}everything is fine\?x\?y\?z \(ssh-ed25519\)/, doctorText.stdout);
    assert.match(doctorText.stdout, /this account looks shared/);
    assert.match(doctorText.stdout, /agent\.9000001: alice evil\?\]0;pwned-title/, "the shared-account warning names the comment, sanitised");
    assert.match(doctorText.stdout, /SSH_AUTH_SOCK points at \/tmp\/x\?\]0;t\?\?ok/);
    // tmux itself shows a control character as "_" outside a UTF-8 locale, doctor as "?".
    assert.match(doctorText.stdout, /session plain: SSH_AUTH_SOCK=\/tmp\/x[?_]\]0;t[?_][?_]ok/);

    const doctorJson = await cli(["doctor", "--json"], { SSH_AUTH_SOCK: hostileEnvValue });
    clean(doctorJson.stdout, "doctor --json");
    assert.ok(doctorJson.stdout.includes("\\u0085") && doctorJson.stdout.includes("\\u009b") && doctorJson.stdout.includes("\\u202e"), "JSON escapes C1 and bidi");
    const report = JSON.parse(doctorJson.stdout) as { findings: Array<{ title: string }>; agents: Array<{ keys: Array<{ comment: string }> }> };
    assert.ok(report.findings.some((finding) => finding.title.includes(hostileEnvValue)), "JSON loses nothing of a value it escaped");
    assert.ok(report.agents.some((agent) => agent.keys.some((key) => key.comment === `alice ${HOSTILE.replace(/[\u0000-\u001f\u0085\u009b\u202e]/g, "?")}`)));

    // The daemon watches the directory with the hostile socket name: status shows that path.
    const started = await cli(["start", "--agent-dir", agentDir]);
    assert.equal(started.code, 0, started.stderr);
    const statusText = await cli(["status"]);
    clean(statusText.stdout, "status");
    assert.match(statusText.stdout, /plh\d+\/a\?\[2J\?ok {3}daemon {3}\?\?\?/, statusText.stdout);
    const statusJson = await cli(["status", "--json"]);
    clean(statusJson.stdout, "status --json");
    assert.doesNotThrow(() => JSON.parse(statusJson.stdout));

    // scope quotes the login's socket in its error line; commander quotes an unknown option.
    const scope = await cli(["scope"], { SSH_AUTH_SOCK: hostileEnvValue });
    assert.notEqual(scope.code, 0);
    clean(scope.stderr, "scope's error line");
    assert.match(scope.stderr, /^ssh-anchor: /);
    const usage = await cli(["status", `--x${HOSTILE}`]);
    assert.equal(usage.code, 2);
    clean(usage.stderr, "a usage error");
    assert.match(usage.stderr, /^ssh-anchor: unknown option '--xevil\?\]0;pwned-title/);

    // connect: ssh (a stand-in) connects, then says hostile things and drops (then fails); connect's own
    // lines and its log quote ssh's last words and the destination as typed.
    const bin = join(base, "bin");
    await mkdir(bin, { recursive: true });
    const sshStandIn = [
      "#!/bin/sh",
      // ssh -G (connect reads the settings first): a plain answer.
      'case " $* " in *" -G "*) printf "hostname host\\nuser me\\nport 22\\n"; exit 0 ;; esac',
      // Run the LocalCommand (connect's marker: "connected"), as ssh does after authenticating.
      // Only the first time: the next attempt fails, and --max-attempts 1 gives up.
      `if [ ! -e ${base}/connected-once ]; then touch ${base}/connected-once`,
      '  for a in "$@"; do case $a in LocalCommand=*) sh -c "${a#LocalCommand=}" ;; esac; done',
      "fi",
      `printf '%s\\n' '${HOSTILE.replace(/'/g, "")}' >&2`,
      "exit 255",
    ].join("\n");
    await writeFile(join(bin, "ssh"), sshStandIn);
    await chmod(join(bin, "ssh"), 0o755);
    const log = join(base, "connect.log");
    const connect = await cli(["connect", "--log", log, "--max-attempts", "1", `me@host${"\u001b[2J\u009b\u202e"}`], { PATH: `${bin}:${env.PATH}` });
    assert.notEqual(connect.code, 0);
    // ssh's own stderr is passed through as ssh would show it (it is the session's terminal):
    // only ssh-anchor's lines are checked here.
    const own = connect.stderr.split("\n").filter((line) => line.startsWith("ssh-anchor:") || line.includes("reconnect"));
    assert.ok(own.some((line) => line.includes("gave up")), connect.stderr);
    clean(own.join("\n"), "connect's lines");
    const logged = await readFile(log, "utf8");
    clean(logged, "connect's log");
    assert.match(logged, /connection lost after \d+ s: ok {3}daemon {5}everything is fine\?x\?y\?z\n/, "the log quotes ssh's last words, sanitised");
  });
});
