import assert from "node:assert/strict";
import { mkdir, readFile, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { DoctorReport } from "../../src/features/doctor/doctor.js";
import { environmentVariable } from "../../src/features/doctor/environ.js";
import { addKey, makeKey, startAgent, type TestAgent } from "../helpers/agent.js";
import { BIN, Cleanup, run, tempDir, waitFor } from "../helpers/process.js";

/** The environment without any locale: ssh sends no LANG, and many servers set none. doctor
 * parses tmux's output, which must hold in the C locale (tmux 3.3 prints a tab as "_" there). */
function withoutLocale(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([key]) => key !== "LANG" && key !== "LANGUAGE" && !key.startsWith("LC_")));
}

/** doctor against real tmux servers and real agents, in a sandbox of its own, in the C locale. */
describe("doctor", () => {
  const cleanup = new Cleanup();
  let base: string;
  let env: NodeJS.ProcessEnv;
  let socket: string;
  let live: TestAgent;
  before(async () => {
    base = await tempDir();
    cleanup.add(() => run("rm", ["-rf", base]));
    socket = join(base, "anchor", "agent.sock");
    env = {
      ...withoutLocale(process.env),
      HOME: join(base, "home"),
      TMUX_TMPDIR: join(base, "tmux"),
      SCREENDIR: join(base, "screen"),
      SSH_ANCHOR_SOCKET: socket,
      NO_COLOR: "1",
    };
    await mkdir(join(base, "home"), { mode: 0o700 });
    await mkdir(join(base, "tmux"), { mode: 0o700 });
    await mkdir(join(base, "screen"), { mode: 0o700 });
    // A live login's agent where sshd would put it, holding a key.
    live = await startAgent(cleanup, `/tmp/ssh-DocLive${process.pid}/agent.9000001`);
    cleanup.add(() => run("rm", ["-rf", `/tmp/ssh-DocLive${process.pid}`]));
    await addKey(live.path, await makeKey(base, "doctor-key"));
  });
  after(async () => {
    await run("tmux", ["-L", "doc", "kill-server"], { env });
    await run(BIN, ["stop"], { env });
    await cleanup.run();
  });

  const doctor = async (args: string[], extraEnv: NodeJS.ProcessEnv = {}) => {
    const result = await run(BIN, ["doctor", ...args], { env: { ...env, ...extraEnv }, timeoutMs: 30_000 });
    return { result, report: args.includes("--json") ? (JSON.parse(result.stdout) as DoctorReport) : undefined };
  };

  it("names a tmux pane that still holds a dead forwarded socket, and fails", async () => {
    const gone = await startAgent(cleanup, `/tmp/ssh-DocGone${process.pid}/agent.9000002`);
    cleanup.add(() => run("rm", ["-rf", `/tmp/ssh-DocGone${process.pid}`]));
    const created = await run("tmux", ["-L", "doc", "new", "-d", "-s", "broken"], { env: { ...env, SSH_AUTH_SOCK: gone.path } });
    assert.equal(created.code, 0, created.stderr);
    gone.kill(); // the login ended; the pane's shell still holds its socket path
    const { result, report } = await doctor(["--json"], { SSH_AUTH_SOCK: gone.path });
    assert.equal(result.code, 1);
    const pane = report?.findings.find((f) => f.area === "tmux" && f.title.includes("broken:0.0"));
    assert.ok(pane, JSON.stringify(report?.findings, null, 2));
    assert.equal(pane.verdict, "fail");
    assert.match(pane.title, new RegExp(`holds a dead socket ${gone.path.replaceAll(".", "\\.")}`));
    assert.equal(pane.fix, `export SSH_AUTH_SOCK=${socket}`);
    const shell = report?.findings.find((f) => f.area === "shell");
    assert.equal(shell?.verdict, "fail");
    const agent = report?.agents.find((a) => a.path === live.path);
    assert.equal(agent?.state, "live");
    assert.match(agent?.keys[0]?.comment ?? "", /doctor-key/);

    // The same in words, without colour when NO_COLOR is set or stdout is not a terminal.
    const text = (await doctor([], { SSH_AUTH_SOCK: gone.path })).result.stdout;
    assert.match(text, /^FAIL tmux +tmux doc broken:0\.0 \(bash\) holds a dead socket/m);
    assert.doesNotMatch(text, /\u001b\[/);
  });

  it("--fix starts the daemon and makes new tmux panes get the stable socket", async () => {
    const { result, report } = await doctor(["--fix", "--json"], { SSH_AUTH_SOCK: "" });
    assert.ok(report?.repairs.some((r) => r.startsWith("started the daemon")), result.stdout);
    assert.ok(report?.repairs.some((r) => r.includes("new panes now get")), result.stdout);
    const window = await run("tmux", ["-L", "doc", "new-window", "-t", "broken", "-P", "-F", "#{pane_pid}"], { env });
    const pid = Number(window.stdout.trim());
    // Until the pane's process has exec'd its shell, /proc shows the tmux server's environment.
    await waitFor("the new pane's shell", async () => (await readFile(`/proc/${pid}/comm`, "utf8")).trim() !== "tmux: server", 5000).catch(() => undefined);
    await waitFor("the new pane's environment", async () => (await environmentVariable(pid, "SSH_AUTH_SOCK")) === socket, 5000).catch(() => undefined);
    assert.equal(await environmentVariable(pid, "SSH_AUTH_SOCK"), socket);
    // The old pane cannot be changed from outside: doctor says what to paste there.
    assert.ok(report?.findings.some((f) => f.title.includes("broken:0.0") && f.fix === `export SSH_AUTH_SOCK=${socket}`));
  });

  it("does not fail a shell that re-pointed itself at start-up, but does fail a program that holds a dead socket", async () => {
    const dead = `/tmp/ssh-DocDead${process.pid}/agent.9000003`;
    const home = join(base, "home");
    // Debian's way: a login bash reads ~/.profile, which sources ~/.bashrc, which has the line.
    // (A login shell's /etc/profile resets PATH: ~/.bashrc puts ssh-anchor on it, as an install would.)
    await writeFile(join(home, ".bashrc"), `export PATH=${join(BIN, "..")}:$PATH\neval "$(ssh-anchor init bash)"\n`);
    await writeFile(join(home, ".profile"), 'if [ -n "$BASH_VERSION" ]; then\n    if [ -f "$HOME/.bashrc" ]; then\n\t. "$HOME/.bashrc"\n    fi\nfi\n');
    const tmux = (...args: string[]) => run("tmux", ["-L", "doc", ...args], { env });
    const created = await tmux("new", "-d", "-s", "repointed", "-e", `SSH_AUTH_SOCK=${dead}`);
    assert.equal(created.code, 0, created.stderr);
    assert.equal((await tmux("new-window", "-d", "-t", "repointed", "-e", `SSH_AUTH_SOCK=${dead}`, "sleep 300")).code, 0);
    // A shell running a command (tmux runs it with "bash -c"): it reads no start-up file.
    assert.equal((await tmux("new-window", "-d", "-t", "repointed", "-e", `SSH_AUTH_SOCK=${dead}`, "while :; do sleep 5; done")).code, 0);
    // What the shell really holds now: the stable socket, though it started with the dead one.
    await tmux("send-keys", "-t", "repointed:0", 'echo "now=$SSH_AUTH_SOCK"', "Enter");
    await waitFor("the pane's shell to answer", async () => (await tmux("capture-pane", "-p", "-t", "repointed:0")).stdout.includes(`now=${socket}`), 10_000);
    const { report } = await doctor(["--json"], { SSH_AUTH_SOCK: socket });
    const shell = report?.findings.find((f) => f.title.includes("repointed:0.0"));
    assert.ok(shell, JSON.stringify(report?.findings, null, 2));
    assert.equal(shell.verdict, "info", shell.title);
    assert.match(shell.title, /started with a dead socket .*; ~\/\.profile -> ~\/\.bashrc runs the init line/);
    const program = report?.findings.find((f) => f.title.includes("repointed:1.0"));
    assert.ok(program, JSON.stringify(report?.findings, null, 2));
    assert.equal(program.verdict, "fail");
    assert.match(program.title, /\(sleep\) holds a dead socket/);
    assert.match(program.details?.[0] ?? "", /sleep is not a shell/);
    const loop = report?.findings.find((f) => f.title.includes("repointed:2.0"));
    assert.equal(loop?.verdict, "fail", JSON.stringify(report?.findings, null, 2));
    assert.match(loop?.details?.[0] ?? "", /this bash runs a command or a script, which reads no start-up file/);
    assert.equal(report?.ok, false);

    // An rc file changed after the shell started: doctor cannot know what the shell read.
    const later = new Date(Date.now() + 60_000);
    await utimes(join(home, ".bashrc"), later, later);
    const changed = (await doctor(["--json"], { SSH_AUTH_SOCK: socket })).report?.findings.find((f) => f.title.includes("repointed:0.0"));
    assert.equal(changed?.verdict, "fail");
    assert.match(changed?.details?.[0] ?? "", /changed after this shell started/);
    assert.equal(changed?.fix, `export SSH_AUTH_SOCK=${socket}`);
  });

  it("looks for agents under --tmp-dir, as the daemon does, instead of /tmp only", async () => {
    const elsewhere = join(base, "othertmp");
    await mkdir(elsewhere, { mode: 0o700 });
    const agent = await startAgent(cleanup, join(elsewhere, "ssh-DocElsewhere", "agent.9000004"));
    const without = (await doctor(["--json"])).report;
    assert.equal(without?.agents.some((a) => a.path === agent.path), false);
    const withDir = (await doctor(["--json", "--tmp-dir", elsewhere])).report;
    assert.equal(withDir?.agents.find((a) => a.path === agent.path)?.state, "live", JSON.stringify(withDir?.agents, null, 2));
    agent.kill();
  });

  it("gives this shell's fix in the syntax of the shell doctor was typed into", async () => {
    const shellFix = (report: DoctorReport | undefined) => report?.findings.find((f) => f.area === "shell")?.fix;
    const unset = { SSH_AUTH_SOCK: undefined, SHELL: undefined };
    const fromFish = await run("fish", ["-c", `${BIN} doctor --json; true`], { env: { ...env, ...unset }, timeoutMs: 30_000 });
    assert.equal(shellFix(JSON.parse(fromFish.stdout) as DoctorReport), `set -gx SSH_AUTH_SOCK ${socket}`, fromFish.stderr);
    // Not typed into a shell (the test runner started it): $SHELL decides, else the POSIX form.
    assert.equal(shellFix((await doctor(["--json"], { ...unset, SHELL: "/usr/bin/fish" })).report), `set -gx SSH_AUTH_SOCK ${socket}`);
    assert.equal(shellFix((await doctor(["--json"], unset)).report), `export SSH_AUTH_SOCK=${socket}`);
  });

  it("exits 0 on a healthy setup", async () => {
    await run("tmux", ["-L", "doc", "kill-server"], { env });
    await writeFile(join(base, "home", ".bashrc"), 'eval "$(ssh-anchor init bash)"\n');
    await waitFor("the daemon to see the live agent", async () => {
      const status = await run(BIN, ["status", "--json"], { env });
      return JSON.parse(status.stdout).route !== null;
    }, 10_000);
    const { result, report } = await doctor(["--json"], { SSH_AUTH_SOCK: socket });
    assert.equal(result.code, 0, JSON.stringify(report?.findings.filter((f) => f.verdict === "fail"), null, 2));
    assert.equal(report?.ok, true);
    assert.ok(report?.findings.some((f) => f.area === "rc" && f.verdict === "ok"));
  });
});
