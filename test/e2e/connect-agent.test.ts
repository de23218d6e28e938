import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { LaptopTerminal } from "../helpers/laptop.js";
import { makeNetwork, type TestNetwork } from "../helpers/netns.js";
import { BIN, Cleanup, requireRoot, run, sleep, tempDir, waitFor } from "../helpers/process.js";
import { startTestHost, type TestHost } from "../helpers/sshd.js";

const skip = requireRoot();

/**
 * connect's remote session and the agent: ssh runs connect's remote command without an
 * interactive shell, so the rc line does not run there (Debian's ~/.bashrc returns at once when
 * not interactive). The session must still get the stable socket when the host has ssh-anchor.
 */
describe("connect: the remote tmux session gets the stable socket", { skip }, () => {
  const cleanup = new Cleanup();
  let network: TestNetwork;
  let host: TestHost;
  let laptop: LaptopTerminal;
  let logs: string;
  before(async () => {
    network = await makeNetwork(cleanup);
    host = await startTestHost(cleanup, {
      serverNamespace: network.server,
      clientNamespace: network.client,
      address: network.serverAddress,
      // As Debian's ~/.bashrc: nothing below this line runs for `ssh host command`.
      rcLine: 'case $- in *i*) ;; *) return ;; esac\neval "$(ssh-anchor init bash)"',
    });
    laptop = new LaptopTerminal(network, cleanup);
    logs = await tempDir();
    cleanup.add(() => run("rm", ["-rf", logs]));
  });
  after(() => cleanup.run());

  const logText = (log: string) => readFile(log, "utf8").catch(() => "");
  async function waitForLog(log: string, pane: string, pattern: RegExp, what: string, timeoutMs = 15_000): Promise<void> {
    try {
      await waitFor(what, async () => pattern.test(await logText(log)), timeoutMs, 50);
    } catch (error) {
      throw new Error(`${(error as Error).message}\n--- connect's log:\n${await logText(log)}--- screen:\n${await laptop.screen(pane)}`);
    }
  }
  /** The test user's tmux, on the default socket connect's session uses. */
  const tmux = (args: string) => host.asUser(`tmux ${args}`);
  const capture = async (target: string) => (await tmux(`capture-pane -p -J -t ${target}`)).stdout;

  it("after a reconnect, the session's SSH_AUTH_SOCK is the stable path and windows without a shell reach the agent; nothing else is touched", async () => {
    // A tmux server that an earlier plain `ssh host tmux ...` started with that login's own socket.
    const earlier = await host.ssh("tmux new-session -d -s earlier");
    assert.equal(earlier.code, 0, earlier.stderr);
    const globalBefore = (await tmux("show-environment -g SSH_AUTH_SOCK")).stdout.trim();
    assert.match(globalBefore, /^SSH_AUTH_SOCK=\/tmp\/ssh-/);
    const earlierBefore = (await tmux("show-environment -t earlier SSH_AUTH_SOCK")).stdout.trim();
    const pane = await laptop.open({ SSH_AUTH_SOCK: host.laptopAgent.path, TERM: "xterm-256color" });
    const log = join(logs, "connect.log");
    await laptop.type(pane, `${BIN} connect --log ${log} --session agent ${host.sshOptions.join(" ")}; echo "EXIT=$?"`);
    await waitForLog(log, pane, /connected in/, "connect to attach");
    await waitFor("the session", async () => (await tmux("has-session -t agent")).code === 0, 10_000);
    // The stable socket, wherever the host puts it: the daemon the prelude started says.
    const stable = (JSON.parse((await host.anchor("status --json")).stdout) as { socket: string }).socket;
    assert.match(stable, /\/agent\.sock$/);

    // One rule (issue 18): connect points the session it attaches, and nothing else: not tmux's
    // global environment, not the other session (doctor --fix is for those).
    assert.equal((await tmux("show-environment -g SSH_AUTH_SOCK")).stdout.trim(), globalBefore, "tmux's global environment is untouched");
    assert.equal((await tmux("show-environment -t earlier SSH_AUTH_SOCK")).stdout.trim(), earlierBefore, "the other session is untouched");
    assert.equal((await tmux("show-environment -t agent SSH_AUTH_SOCK")).stdout.trim(), `SSH_AUTH_SOCK=${stable}`, "connect points its session at the stable socket");
    // A window started without a shell before the cut: it keeps the environment it started with.
    const probe = await tmux(`new-window -d -t agent -n probe 'while read -r line; do ssh-add -l >/dev/null 2>&1; echo "probe-rc=$?"; done'`);
    assert.equal(probe.code, 0, probe.stderr);

    await network.cut();
    await waitForLog(log, pane, /network: address-lost/, "connect to notice the cut", 5000);
    await sleep(2000);
    await network.restore();
    await waitForLog(log, pane, /re-attached \d+ ms after/, "connect to re-attach");
    await sleep(500);

    const global = await tmux("show-environment -g SSH_AUTH_SOCK");
    assert.equal(global.stdout.trim(), globalBefore, "tmux's global environment, still untouched");
    const session = await tmux("show-environment -t agent SSH_AUTH_SOCK");
    assert.equal(session.stdout.trim(), `SSH_AUTH_SOCK=${stable}`, "the session's environment, as update-environment set it at the attach");

    // A new window without a shell, after the reconnect.
    const fresh = await tmux(`new-window -d -t agent -n fresh 'ssh-add -l; echo "fresh-rc=$?"; sleep 60'`);
    assert.equal(fresh.code, 0, fresh.stderr);
    const freshScreen = await waitFor("the new window's ssh-add -l", async () => {
      const screen = await capture("agent:fresh");
      return /fresh-rc=\d+/.test(screen) && screen;
    }, 10_000, 100);
    assert.match(freshScreen, /fresh-rc=0/, freshScreen);
    assert.match(freshScreen, /laptop-key \(ED25519\)/);

    // The window from before the cut reaches the agent of the new connection.
    await tmux("send-keys -t agent:probe Enter");
    const probeScreen = await waitFor("the old window's ssh-add -l", async () => {
      const screen = await capture("agent:probe");
      return /probe-rc=\d+/.test(screen) && screen;
    }, 10_000, 100);
    assert.match(probeScreen, /probe-rc=0/, "a window started before the reconnect still reaches the agent");

    // doctor sees connect's session on the stable socket (and warns, rightly, about the global
    // environment and the session an earlier plain ssh left with its dead login's socket).
    const doctor = await host.anchor("doctor --json");
    const report = JSON.parse(doctor.stdout) as { findings: Array<{ area: string; verdict: string; title: string; details?: string[] }> };
    const server = report.findings.find((f) => f.area === "tmux" && f.title.startsWith("tmux server"));
    assert.ok(server?.details?.includes(`session agent: SSH_AUTH_SOCK=${stable}`), JSON.stringify(report.findings, null, 2));

    await laptop.keys(pane, "C-b", "d");
    await laptop.waitForScreen(pane, /EXIT=0/, "connect to exit 0 after detaching");
  });

  it("changes nothing on a host without ssh-anchor: the session keeps the login's socket", async () => {
    // connect's remote command, run as sshd would run it, on a PATH without ssh-anchor.
    const { remoteCommand } = await import("../../src/features/connect/remote-command.js");
    const { parseConnectArgs } = await import("../../src/features/connect/args.js");
    const command = remoteCommand(parseConnectArgs(["--session", "plain", "h"]));
    const socketDir = await tempDir();
    cleanup.add(() => run("tmux", ["-S", join(socketDir, "s"), "kill-server"]));
    cleanup.add(() => run("rm", ["-rf", socketDir]));
    // A PATH of its own, holding the shells and tmux but no ssh-anchor, even where one is
    // installed in /usr/bin (npm's global prefix on Debian).
    const bin = join(socketDir, "bin");
    await run("mkdir", ["-p", bin]);
    for (const tool of ["bash", "sh", "tmux"]) {
      assert.equal((await run("sh", ["-c", `ln -s "$(command -v ${tool})" ${bin}/${tool}`])).code, 0);
    }
    const pane = await laptop.open({ TERM: "xterm-256color" });
    const login = "/tmp/ssh-NoAnchorHere/agent.4242";
    // TMUX_TMPDIR keeps this tmux apart from every other.
    await laptop.type(pane, `env -i HOME=${socketDir} TERM=xterm-256color TMUX_TMPDIR=${socketDir} PATH=${bin} SSH_AUTH_SOCK=${login} ${bin}/bash -c "${command.replaceAll('"', '\\"').replaceAll("$", "\\$")}"; echo "EXIT=$?"`);
    const server = join(socketDir, `tmux-${process.getuid?.() ?? 0}`, "default");
    const global = await waitFor("the session to start", async () => {
      const shown = await run("tmux", ["-S", server, "show-environment", "-g", "SSH_AUTH_SOCK"]);
      return shown.code === 0 && shown.stdout.trim();
    }, 10_000, 100);
    assert.equal(global, `SSH_AUTH_SOCK=${login}`);
    const onPath = await run("/bin/sh", ["-c", "command -v ssh-anchor"], { env: { PATH: bin } });
    assert.notEqual(onPath.code, 0, "ssh-anchor is not on that PATH");
    await run("tmux", ["-S", server, "detach-client", "-s", "plain"]);
    await laptop.waitForScreen(pane, /EXIT=0/, "the plain session to detach");
    // It says so, once, in one line (issue 19 item 3).
    const said = (await laptop.screen(pane)).split("\n").filter((line) => line.startsWith("ssh-anchor: "));
    assert.equal(said.length, 1, said.join("\n"));
    assert.match(said[0] as string, /^ssh-anchor: not found on the host \(PATH, ~\/\.local\/bin\): the tmux session keeps the socket of this login, .*run ssh-anchor install on this laptop/);
    // A reconnect says nothing more.
    const again = remoteCommand(parseConnectArgs(["--session", "plain", "h"]), { quiet: true });
    const quiet = await run(`${bin}/sh`, ["-c", again.replace(/exec tmux new-session .*'$/, "'")], {
      env: { HOME: socketDir, PATH: bin, TMUX_TMPDIR: socketDir, SSH_AUTH_SOCK: login },
    });
    assert.equal(quiet.stderr, "", "a reconnect is quiet");
  });

  it("finds an install in ~/.local/bin on sshd's bare PATH (issue 19 item 3)", async () => {
    const { remoteCommand } = await import("../../src/features/connect/remote-command.js");
    const { parseConnectArgs } = await import("../../src/features/connect/args.js");
    const command = remoteCommand(parseConnectArgs(["--session", "local", "h"]));
    const home = await tempDir();
    const env = { HOME: home, PATH: process.env.PATH ?? "/usr/bin:/bin" };
    cleanup.add(() => run("rm", ["-rf", home]));
    cleanup.add(() => run(BIN, ["stop"], { env }));
    cleanup.add(() => run("tmux", ["-S", join(home, `tmux-${process.getuid?.() ?? 0}`, "default"), "kill-server"]));
    // The shells, tmux, node and what the launcher uses on PATH (as /usr/bin holds them),
    // ssh-anchor only in ~/.local/bin.
    const bin = join(home, "bin");
    const local = join(home, ".local", "bin");
    await run("mkdir", ["-p", bin, local]);
    for (const tool of ["bash", "sh", "tmux", "node", "readlink", "id"]) {
      assert.equal((await run("sh", ["-c", `ln -s "$(command -v ${tool})" ${bin}/${tool}`])).code, 0);
    }
    assert.equal((await run("ln", ["-s", BIN, join(local, "ssh-anchor")])).code, 0);
    const pane = await laptop.open({ TERM: "xterm-256color" });
    const login = "/tmp/ssh-NoAgentHere/agent.4243";
    await laptop.type(pane, `env -i HOME=${home} TERM=xterm-256color TMUX_TMPDIR=${home} PATH=${bin} SSH_AUTH_SOCK=${login} ${bin}/bash -c "${command.replaceAll('"', '\\"').replaceAll("$", "\\$")}"; echo "EXIT=$?"`);
    const server = join(home, `tmux-${process.getuid?.() ?? 0}`, "default");
    const session = await waitFor("the session to start", async () => {
      const shown = await run("tmux", ["-S", server, "show-environment", "-t", "=local", "SSH_AUTH_SOCK"]);
      return shown.code === 0 && shown.stdout.trim();
    }, 15_000, 100).catch(async (error: Error) => {
      throw new Error(`${error.message}\n--- screen:\n${await laptop.screen(pane)}`);
    });
    const stable = (JSON.parse((await run(BIN, ["status", "--json"], { env })).stdout) as { socket: string }).socket;
    assert.ok(stable.startsWith(home), stable);
    assert.equal(session, `SSH_AUTH_SOCK=${stable}`, `the session got the stable socket of the install in ~/.local/bin\n--- screen:\n${await laptop.screen(pane)}`);
    await run("tmux", ["-S", server, "detach-client", "-s", "local"]);
    await laptop.waitForScreen(pane, /EXIT=0/, "the session to detach");
    const screen = await laptop.screen(pane);
    assert.ok(!screen.split("\n").some((line) => line.startsWith("ssh-anchor: ")), `nothing to say:\n${screen}`);
  });
});
