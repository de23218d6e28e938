import assert from "node:assert/strict";
import { chmod, mkdir, readFile, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { DoctorReport } from "../../src/features/doctor/doctor.js";
import { environmentVariable } from "../../src/features/doctor/environ.js";
import { addKey, makeKey, startAgent, type TestAgent } from "../helpers/agent.js";
import { fakeSshdPid, sessionDirectory } from "../helpers/daemon.js";
import { BIN, Cleanup, run, tempDir, waitFor } from "../helpers/process.js";

const loginDirectory = (tag: string) => sessionDirectory("/tmp", "by sshd", tag);
const localAgentDirectory = (tag: string) => sessionDirectory("/tmp", "by ssh-agent", tag);

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
    live = await startAgent(cleanup, `${loginDirectory("DL")}/agent.${fakeSshdPid()}`);
    cleanup.add(() => run("rm", ["-rf", loginDirectory("DL")]));
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
    const gone = await startAgent(cleanup, `${loginDirectory("DG")}/agent.${fakeSshdPid()}`);
    cleanup.add(() => run("rm", ["-rf", loginDirectory("DG")]));
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
    // Right after "fixed", the tmux finding says what new panes get now, not what they had (issue 19).
    const tmux = report?.findings.find((f) => f.area === "tmux");
    assert.equal(tmux?.verdict, "ok", result.stdout);
    assert.match(tmux?.title ?? "", new RegExp(`new panes get SSH_AUTH_SOCK=${socket.replaceAll(".", "\\.")}$`), result.stdout);
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
    const dead = `${loginDirectory("DD")}/agent.${fakeSshdPid()}`;
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
    // Not "it ran": doctor cannot see that from outside; it says the line is there, and starts shells to see whether it works.
    assert.match(shell.title, /started with a dead socket .*; ~\/\.profile -> ~\/\.bashrc has the init line, which re-points a shell at start-up when it runs/);
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

  it("does not offer start as the fix where start would refuse the socket's directory (someone else could swap it)", async () => {
    const open = join(base, "open-parent");
    await mkdir(open);
    await chmod(open, 0o777);
    const refused = join(open, "anchor", "agent.sock");
    const started = await run(BIN, ["start", "--socket", refused], { env });
    assert.notEqual(started.code, 0, "start refuses it");
    const daemon = (await doctor(["--json"], { SSH_ANCHOR_SOCKET: refused })).report?.findings.find((f) => f.area === "daemon");
    assert.match(daemon?.title ?? "", /cannot start there: .*open-parent is writable by group or others \(mode 0777\)/, JSON.stringify(daemon));
    assert.notEqual(daemon?.fix, "ssh-anchor start");
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

  it("without --fix starts nothing: the shells it tries say where they would point, and the daemon stays stopped", async () => {
    await run(BIN, ["stop"], { env });
    await writeFile(join(base, "home", ".bashrc"), `eval "$(${BIN} init bash)"\n`);
    const { result, report } = await doctor(["--json"], { SSH_AUTH_SOCK: socket });
    const daemon = report?.findings.find((f) => f.area === "daemon");
    assert.equal(daemon?.verdict, "fail", result.stdout);
    assert.equal(daemon?.fix, "ssh-anchor start");
    assert.ok(report?.findings.some((f) => f.area === "rc" && f.verdict === "ok"), result.stdout);
    const status = await run(BIN, ["status"], { env });
    assert.equal(status.code, 3, `doctor's shells started the daemon: ${status.stdout}`);
    await run(BIN, ["start", "--quiet"], { env });
  });

  it("exits 0 on a healthy setup", async () => {
    await run("tmux", ["-L", "doc", "kill-server"], { env });
    // By its absolute path, as setup writes it: doctor starts shells with sshd's bare PATH, where ssh-anchor is not.
    await writeFile(join(base, "home", ".bashrc"), `eval "$(${BIN} init bash)"\n`);
    await waitFor("the daemon to see the live agent", async () => {
      const status = await run(BIN, ["status", "--json"], { env });
      return JSON.parse(status.stdout).route !== null;
    }, 10_000);
    const { result, report } = await doctor(["--json"], { SSH_AUTH_SOCK: socket });
    assert.equal(result.code, 0, JSON.stringify(report?.findings.filter((f) => f.verdict === "fail"), null, 2));
    assert.equal(report?.ok, true);
    assert.ok(report?.findings.some((f) => f.area === "rc" && f.verdict === "ok"));
  });

  it("tells a local agent started with eval from a login's: the shell is told, a pane is not failed, its keys are no second person", async () => {
    // eval $(ssh-agent) names its socket after the pid it had before it forked, gone at once.
    const local = await startAgent(cleanup, `${localAgentDirectory("LA")}/agent.9000006`);
    cleanup.add(() => run("rm", ["-rf", localAgentDirectory("LA")]));
    await addKey(local.path, await makeKey(base, "local-key"));
    const created = await run("tmux", ["-L", "doc", "new", "-d", "-s", "localagent"], { env: { ...env, SSH_AUTH_SOCK: local.path } });
    assert.equal(created.code, 0, created.stderr);
    const { result, report } = await doctor(["--json"], { SSH_AUTH_SOCK: local.path });
    await run("tmux", ["-L", "doc", "kill-session", "-t", "localagent"], { env });
    assert.equal(report?.agents.find((a) => a.path === local.path)?.kind, "local", result.stdout);
    const shell = report?.findings.find((f) => f.area === "shell");
    assert.equal(shell?.verdict, "info", result.stdout);
    assert.match(shell?.title ?? "", /an agent that is not a login's forwarded one/);
    assert.equal(report?.findings.filter((f) => f.title.includes("localagent:")).length, 0, result.stdout);
    assert.equal(report?.findings.filter((f) => f.title.includes("looks shared")).length, 0, result.stdout);
  });
});

/**
 * doctor on a per-identity account (issue 18): anything that hands a shell, a pane, a tmux or
 * screen session the shared stable socket reaches whoever logged in last, and fails.
 */
describe("doctor on a per-identity account", () => {
  const cleanup = new Cleanup();
  let base: string;
  let home: string;
  let env: NodeJS.ProcessEnv;
  let socket: string;
  let scoped: string;
  const tmuxName = `perid${process.pid}`;
  const screenName = `perid${process.pid}`;
  before(async () => {
    base = await tempDir();
    cleanup.add(() => run("rm", ["-rf", base]));
    home = join(base, "home");
    socket = join(base, "anchor", "agent.sock");
    env = { ...withoutLocale(process.env), HOME: home, TMUX_TMPDIR: join(base, "tmux"), SCREENDIR: join(base, "screen"), SSH_ANCHOR_SOCKET: socket, NO_COLOR: "1", SHELL: "/bin/bash" };
    for (const directory of [home, join(base, "tmux"), join(base, "screen")]) await mkdir(directory, { mode: 0o700 });
    const live = await startAgent(cleanup, `${loginDirectory("DP")}/agent.${fakeSshdPid()}`);
    cleanup.add(() => run("rm", ["-rf", loginDirectory("DP")]));
    await addKey(live.path, await makeKey(base, "alice-key"));
    await writeFile(join(home, ".bashrc"), 'eval "$(ssh-anchor init bash)"\n');
    assert.equal((await run(BIN, ["start"], { env })).code, 0);
    cleanup.add(() => run(BIN, ["stop"], { env }));
    await waitFor("the daemon to see the live agent", async () => JSON.parse((await run(BIN, ["status", "--json"], { env })).stdout).route !== null, 10_000);
    const scope = await run(BIN, ["scope"], { env: { ...env, SSH_AUTH_SOCK: live.path } });
    assert.equal(scope.code, 0, scope.stderr);
    scoped = scope.stdout.trim();
  });
  after(async () => {
    await run("tmux", ["-L", tmuxName, "kill-server"], { env });
    await run("screen", ["-S", screenName, "-X", "quit"], { env });
    await cleanup.run();
  });

  const doctor = async (shellSocket: string) => {
    const result = await run(BIN, ["doctor", "--json"], { env: { ...env, SSH_AUTH_SOCK: shellSocket }, timeoutMs: 30_000 });
    const report = JSON.parse(result.stdout) as DoctorReport;
    const text = (await run(BIN, ["doctor"], { env: { ...env, SSH_AUTH_SOCK: shellSocket }, timeoutMs: 30_000 })).stdout;
    return { code: result.code, report, text, fails: report.findings.filter((f) => f.verdict === "fail") };
  };
  const perIdentityLine = 'eval "$(ssh-anchor init --per-identity bash)"';

  it("fails a shell holding the stable socket, per-identity on by the registry or the rc line, and names the per-identity line", async () => {
    // The daemon remembers a scope now (scope registered one): per-identity is on by the registry alone.
    const registryOnly = await doctor(socket);
    assert.equal(registryOnly.code, 1, registryOnly.text);
    assert.match(registryOnly.fails.find((f) => f.area === "shell")?.title ?? "", /per-identity is on \(the daemon remembers per-identity scopes in /);
    assert.equal(registryOnly.fails.find((f) => f.area === "rc")?.fix, 'in ~/.bashrc line 1: put eval "$(ssh-anchor init --per-identity bash)" in its place');
    // With the per-identity line by hand and this shell on the stable socket (a stale login).
    await writeFile(join(home, ".bashrc"), `${perIdentityLine}\n`);
    const { code, fails, text } = await doctor(socket);
    assert.equal(code, 1, text);
    const shell = fails.find((f) => f.area === "shell");
    assert.ok(shell, text);
    assert.match(shell.title, /SSH_AUTH_SOCK is the shared stable socket .*per-identity is on \(~\/\.bashrc line 1 runs init --per-identity\): this shell signs with whoever logged in last/);
    assert.match(shell.fix ?? "", /init --per-identity bash.*log in again/);
    assert.match(text, /^FAIL shell +SSH_AUTH_SOCK is the shared stable socket/m);
    assert.doesNotMatch(text, /nothing is broken/);
    // The person's own scoped socket: healthy, exit 0.
    const healthy = await doctor(scoped);
    assert.equal(healthy.code, 0, JSON.stringify(healthy.fails, null, 2));
    assert.match(healthy.text, /nothing is broken/);
  });

  it("fails an rc file whose plain init line follows (or precedes) the per-identity line", async () => {
    await writeFile(join(home, ".bashrc"), `${perIdentityLine}\nalias ll='ls -l'\neval "$(ssh-anchor init bash)"\n`);
    const after = await doctor(scoped);
    assert.equal(after.code, 1, after.text);
    const rc = after.fails.find((f) => f.area === "rc");
    assert.ok(rc, after.text);
    assert.match(rc.title, /~\/\.bashrc line 3 runs init after line 1's init --per-identity: the last one run wins.*shared stable socket/);
    assert.equal(rc.fix, "in ~/.bashrc line 3: delete that line");
    assert.doesNotMatch(after.text, /nothing is broken/);
    await writeFile(join(home, ".bashrc"), `eval "$(ssh-anchor init bash)"\n${perIdentityLine}\n`);
    const before = (await doctor(scoped)).fails.find((f) => f.area === "rc");
    assert.match(before?.title ?? "", /line 1 runs init before line 2's init --per-identity, which then finds the stable socket/);
    // Another shell's file with the plain line: its logins get the stable socket.
    await writeFile(join(home, ".bashrc"), `${perIdentityLine}\n`);
    await writeFile(join(home, ".zshrc"), 'eval "$(ssh-anchor init zsh)"\n');
    const zsh = (await doctor(scoped)).fails.find((f) => f.area === "rc");
    assert.equal(zsh?.fix, `in ~/.zshrc line 1: put eval "$(ssh-anchor init --per-identity zsh)" in its place`);
    await run("rm", ["-f", join(home, ".zshrc")]);
    assert.equal((await doctor(scoped)).code, 0);
  });

  it("fails a tmux session or global environment holding the stable socket, and the pane it gives", async () => {
    const tmux = (...args: string[]) => run("tmux", ["-L", tmuxName, ...args], { env: { ...env, SSH_AUTH_SOCK: scoped } });
    assert.equal((await tmux("new", "-d", "-s", "alice")).code, 0);
    assert.equal((await doctor(scoped)).code, 0, "a session on the person's scope is healthy");
    // What connect's prelude did (issue 18, item 1): the session now hands out the stable socket.
    assert.equal((await tmux("set-environment", "-t", "alice", "SSH_AUTH_SOCK", socket)).code, 0);
    const session = await doctor(scoped);
    assert.equal(session.code, 1, session.text);
    const finding = session.fails.find((f) => f.area === "tmux" && f.title.includes("session alice"));
    assert.ok(finding, session.text);
    assert.match(finding.title, /hands new panes the shared stable socket, and per-identity is on/);
    assert.match(finding.fix ?? "", /set-environment -t '\$\d+' SSH_AUTH_SOCK <that person's scoped socket>/);
    // A pane opened there holds it.
    const pid = Number((await tmux("new-window", "-t", "alice", "-P", "-F", "#{pane_pid}", "sleep 300")).stdout.trim());
    await waitFor("the new pane's environment", async () => (await environmentVariable(pid, "SSH_AUTH_SOCK")) === socket, 5000);
    const pane = (await doctor(scoped)).fails.find((f) => f.area === "tmux" && /alice:1\.0 \(sleep\) holds the shared stable socket/.test(f.title));
    assert.ok(pane, "the pane holding the stable socket fails");
    await tmux("kill-window", "-t", "alice:1");
    await tmux("set-environment", "-t", "alice", "-u", "SSH_AUTH_SOCK");
    await tmux("set-environment", "-g", "SSH_AUTH_SOCK", socket);
    const global = await doctor(scoped);
    assert.equal(global.code, 1, global.text);
    const globalFinding = global.fails.find((f) => f.area === "tmux" && f.title.includes("its global environment"));
    assert.ok(globalFinding, global.text);
    assert.match(globalFinding.fix ?? "", /set-environment -g -u SSH_AUTH_SOCK/);
    // --fix does not point tmux anywhere on a per-identity account: it still fails afterwards.
    const fixed = await run(BIN, ["doctor", "--fix", "--json"], { env: { ...env, SSH_AUTH_SOCK: scoped }, timeoutMs: 30_000 });
    assert.ok(!(JSON.parse(fixed.stdout) as DoctorReport).repairs.some((r) => r.includes("tmux")), fixed.stdout);
    assert.equal((await tmux("show-environment", "-g", "SSH_AUTH_SOCK")).stdout.trim(), `SSH_AUTH_SOCK=${socket}`);
    await tmux("kill-server");
  });

  it("fails a screen session whose environment holds the stable socket", async () => {
    const screen = (...args: string[]) => run("screen", args, { env: { ...env, SSH_AUTH_SOCK: scoped } });
    assert.equal((await screen("-dmS", screenName, "bash")).code, 0);
    await waitFor("the screen session", async () => (await screen("-ls")).stdout.includes(`.${screenName}`), 5000);
    assert.equal((await doctor(scoped)).code, 0, "a session on the person's scope is healthy");
    // What connect's screen path did: screen -X setenv.
    assert.equal((await screen("-S", screenName, "-X", "setenv", "SSH_AUTH_SOCK", socket)).code, 0);
    const { code, fails, text } = await doctor(scoped);
    assert.equal(code, 1, text);
    const finding = fails.find((f) => f.area === "screen");
    assert.ok(finding, text);
    assert.match(finding.title, new RegExp(`screen session \\d+\\.${screenName}: new windows get the shared stable socket .*per-identity is on`));
    assert.match(finding.fix ?? "", /-X setenv SSH_AUTH_SOCK <that person's scoped socket>.*unsetenv SSH_AUTH_SOCK/);
    assert.match(text, /^FAIL screen /m);
  });
});
