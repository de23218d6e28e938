import assert from "node:assert/strict";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { LaptopTerminal } from "../helpers/laptop.js";
import { makeNetwork, type TestNetwork } from "../helpers/netns.js";
import { BIN, Cleanup, requireRoot, run, section, sleep, tempDir, waitFor } from "../helpers/process.js";
import { startTestHost, type TestHost } from "../helpers/sshd.js";
import { addKey, makeKey, startAgent } from "../helpers/agent.js";

const skip = requireRoot();

describe("connect: a session that survives dropped connections (network namespaces)", { skip }, () => {
  const cleanup = new Cleanup();
  let network: TestNetwork;
  let host: TestHost;
  let laptop: LaptopTerminal;
  let logs: string;
  let counter = 0;
  before(async () => {
    network = await makeNetwork(cleanup);
    host = await startTestHost(cleanup, {
      serverNamespace: network.server,
      clientNamespace: network.client,
      address: network.serverAddress,
    });
    laptop = new LaptopTerminal(network, cleanup, host.explain);
    logs = await tempDir();
    cleanup.add(() => run("rm", ["-rf", logs]));
  });
  after(() => cleanup.run());

  /** Opens a laptop terminal and runs connect in it; returns the pane and the log file. */
  async function connect(extra: string, destinationOptions: readonly string[] = host.sshOptions) {
    const pane = await laptop.open({ SSH_AUTH_SOCK: host.laptopAgent.path, TERM: "xterm-256color" });
    const log = join(logs, `connect-${++counter}.log`);
    await laptop.type(pane, `${BIN} connect --log ${log} ${extra} ${destinationOptions.join(" ")}; echo "EXIT=$?"`);
    return { pane, log };
  }

  const logText = (log: string) => readFile(log, "utf8").catch(() => "");

  /** Waits for `pattern` in connect's log; on failure the error shows the log, the screen and the remote host's state. */
  async function waitForLog(log: string, pane: string, pattern: RegExp, what: string, timeoutMs = 15_000): Promise<void> {
    await waitFor(what, async () => pattern.test(await logText(log)), {
      timeoutMs,
      explain: laptop.explainPane(pane, async () => section("connect's log", await logText(log))),
    });
  }

  /** The remote shell's prompt: /etc/bash.bashrc's (Debian: `user@host:~$`), or bash's own (`bash-5.2$`). */
  const prompt = () => new RegExp(`^(?:${host.user}@[^\\s:]+:\\S*|bash-[\\d.]+)\\$ *$`, "m");

  /**
   * Waits until the remote session takes keys: a multiplexer client of this connection (not
   * `previous`, the one before a cut) is attached to `session` and the laptop's screen shows the
   * remote shell's prompt. connect logs "connected" once ssh is in, before its remote command
   * has started the client (and, in a new session, before the shell has read its rc): keys
   * typed earlier may reach a terminal that is not yet the pane's. Returns the client's pid.
   */
  async function remoteReady(pane: string, log: string, session: string, multiplexer: "tmux" | "screen" = "tmux", previous?: string): Promise<string> {
    const client = async (): Promise<string | undefined> => {
      if (multiplexer === "tmux") {
        const listed = await host.asUser(`tmux list-clients -t ${session} -F '#{client_pid}'`);
        return listed.stdout.trim().split("\n").filter(Boolean).pop();
      }
      const listed = await host.asUser("screen -ls");
      // `\t<pid>.<name>\t(<date>)\t(Attached)`
      if (!new RegExp(`\\.${session}\\s.*\\(Attached\\)`).test(listed.stdout)) return undefined;
      return (await run("pgrep", ["-n", "-u", host.user, "-x", "screen"])).stdout.trim() || undefined;
    };
    let seen: string | undefined;
    await waitFor(`a new ${multiplexer} client attached to the remote session ${session}, and the remote prompt on the laptop's screen`, async () => {
      seen = await client();
      return seen !== undefined && seen !== previous && prompt().test(await laptop.screen(pane));
    }, {
      timeoutMs: 30_000,
      intervalMs: 100,
      explain: laptop.explainPane(pane, async () => section("connect's log", await logText(log)), () => `--- the client seen: ${seen ?? "none"} (before: ${previous ?? "none"})\n`),
    });
    return seen as string;
  }

  it("attaches the remote session, and re-attaches by itself after a link cut; shell state survives", async () => {
    const { pane, log } = await connect("--session cut");
    await waitForLog(log, pane, /connected in/, "connect to attach");
    const first = await remoteReady(pane, log, "cut");
    await laptop.type(pane, "export MARK=anchor42; echo ready-$((40+2))");
    await laptop.waitForScreen(pane, /ready-42/, "the remote shell to answer");

    await network.cut();
    await waitForLog(log, pane, /network: address-lost/, "connect to notice the cut", 5000);
    const countdown = /connection lost; reconnecting in \d+ s, attempt (\d+); Enter: retry now, Ctrl-C: quit/;
    await laptop.waitForScreen(pane, countdown, "the status line");
    await sleep(4000);
    const announced = countdown.exec(await laptop.screen(pane))?.[1];
    await network.restore();
    await waitForLog(log, pane, /re-attached \d+ ms after/, "connect to re-attach");
    // The countdown numbers attempts as the log does: the one it announced is the one that got through.
    assert.match(await logText(log), new RegExp(`attempt ${announced}: connected in`), `the countdown said attempt ${announced}:\n${await logText(log)}`);
    await remoteReady(pane, log, "cut", "tmux", first);
    await laptop.type(pane, 'echo "mark=$MARK"');
    await laptop.waitForScreen(pane, /mark=anchor42/, "the shell state to have survived");

    // With the switcher on the remote host, the agent works in the re-attached pane.
    await laptop.type(pane, 'ssh-add -l; echo "agent-rc=$?"');
    const agent = await laptop.waitForScreen(pane, /agent-rc=(\d+)/, "ssh-add -l in the re-attached pane");
    assert.equal(agent[1], "0", await laptop.screen(pane));
    assert.match(await laptop.screen(pane), /laptop-key \(ED25519\)/);

    // Detaching ends connect with status 0, and it does not reconnect.
    await laptop.keys(pane, "C-b", "d");
    await laptop.waitForScreen(pane, /EXIT=0/, "connect to exit 0 after detaching");
    await sleep(1500);
    assert.match(await logText(log), /ssh exited with status 0; done\n$/, "nothing may follow a detach");
  });

  it("re-attaches quickly when the laptop's address changes with the link up", async () => {
    const { pane, log } = await connect("--session move");
    await waitForLog(log, pane, /connected in/, "connect to attach");
    const first = await remoteReady(pane, log, "move");
    await laptop.type(pane, "export MARK=moved; echo ready-$((1+1))");
    await laptop.waitForScreen(pane, /ready-2/, "the remote shell");
    const before = (await logText(log)).split("\n").length;
    const moved = performance.now();
    await network.moveClient();
    await waitFor("connect to re-attach from the new address", async () => {
      const lines = (await logText(log)).split("\n").slice(before - 1).join("\n");
      return /re-attached/.test(lines);
    }, { timeoutMs: 10_000, explain: laptop.explainPane(pane, async () => section("connect's log", await logText(log))) });
    const took = performance.now() - moved;
    assert.ok(took < 3000, `re-attached ${Math.round(took)} ms after the address change`);
    await remoteReady(pane, log, "move", "tmux", first);
    await laptop.type(pane, 'echo "mark=$MARK"');
    await laptop.waitForScreen(pane, /mark=moved/, "the session state");
    // Ending the remote shell ends the session: connect exits 0.
    await laptop.type(pane, "exit");
    await laptop.waitForScreen(pane, /EXIT=0/, "connect to exit 0 when the session ends");
  });

  it("notices a silent loss by keepalives, and re-attaches within seconds of the network's return", async () => {
    const { pane, log } = await connect("--session silent");
    await waitForLog(log, pane, /connected in/, "connect to attach");
    const first = await remoteReady(pane, log, "silent");
    await laptop.type(pane, "export MARK=silent; echo ready-$((3+3))");
    await laptop.waitForScreen(pane, /ready-6/, "the remote shell");
    // Packets vanish; nothing changes on the laptop, so only keepalives can tell.
    const silenced = performance.now();
    await network.silence();
    await waitForLog(log, pane, /connection lost after/, "the keepalives to notice", 15_000);
    const noticed = performance.now() - silenced;
    assert.ok(noticed < 10_000, `noticed after ${Math.round(noticed)} ms`);
    await sleep(3000);
    const returned = performance.now();
    await network.unsilence();
    await waitForLog(log, pane, /re-attached/, "connect to re-attach");
    assert.ok(performance.now() - returned < 4000, `re-attached ${Math.round(performance.now() - returned)} ms after the return`);
    await remoteReady(pane, log, "silent", "tmux", first);
    await laptop.type(pane, 'echo "mark=$MARK"');
    await laptop.waitForScreen(pane, /mark=silent/, "the session state");
    await laptop.keys(pane, "C-b", "d");
    await laptop.waitForScreen(pane, /EXIT=0/, "connect to exit 0");
  });

  it("does not ride on a ControlMaster from the config, whose dead connection would stall it", async () => {
    const config = join(logs, "ssh_config");
    const control = join(logs, "master-%C");
    await writeFile(config, `Host *\n    ControlMaster auto\n    ControlPath ${control}\n    ControlPersist 600\n`);
    const withConfig = host.sshOptions.map((option) => (option === "none" ? config : option));
    // A master made by another ssh, as a user's other terminal would have.
    const [ip, ...masterArgs] = network.inClient("ssh", [...withConfig, "true"]);
    const master = await run(ip, masterArgs, { env: { ...process.env, SSH_AUTH_SOCK: host.laptopAgent.path } });
    assert.equal(master.code, 0, master.stderr);
    const { pane, log } = await connect("--session mastered", withConfig);
    await waitForLog(log, pane, /connected in/, "connect to attach");
    const first = await remoteReady(pane, log, "mastered");
    await network.cut();
    await sleep(2000);
    await network.restore();
    await waitForLog(log, pane, /re-attached/, "connect to re-attach despite the dead master");
    // "re-attached" means ssh is connected; tmux needs a moment more before it takes keys.
    await remoteReady(pane, log, "mastered", "tmux", first);
    await laptop.type(pane, "echo back-$((5+5))");
    await laptop.waitForScreen(pane, /back-10/, "the re-attached remote shell");
    await laptop.keys(pane, "C-b", "d");
    await laptop.waitForScreen(pane, /EXIT=0/, "connect to exit 0");
    await run("pkill", ["-f", `ssh .*${config}`]); // the master, left running by ControlPersist
  });

  it("works the same with GNU screen", async () => {
    const { pane, log } = await connect("--screen --session scr");
    await waitForLog(log, pane, /connected in/, "connect to attach");
    const first = await remoteReady(pane, log, "scr", "screen");
    await laptop.type(pane, "export MARK=screened; echo ready-$((2+2))");
    await laptop.waitForScreen(pane, /ready-4/, "the remote shell in screen");
    await network.cut();
    await sleep(3000);
    await network.restore();
    await waitForLog(log, pane, /re-attached/, "connect to re-attach");
    await remoteReady(pane, log, "scr", "screen", first);
    await laptop.type(pane, 'echo "mark=$MARK"');
    await laptop.waitForScreen(pane, /mark=screened/, "the screen session state");
    await laptop.keys(pane, "C-a", "d");
    await laptop.waitForScreen(pane, /EXIT=0/, "connect to exit 0 after detaching screen");
  });

  it("still runs the user's own LocalCommand, and still knows when it is connected", async () => {
    const ran = join(logs, "own-local-command-ran");
    const { pane, log } = await connect(`--session own -o PermitLocalCommand=yes -o 'LocalCommand=touch ${ran}'`);
    await waitForLog(log, pane, /connected in/, "connect to see the connection through its marker");
    await waitFor("the user's LocalCommand to have run", () => readFile(ran).then(() => true, () => false), { timeoutMs: 5000, explain: laptop.explainPane(pane) });
    await remoteReady(pane, log, "own");
    await laptop.keys(pane, "C-b", "d");
    await laptop.waitForScreen(pane, /EXIT=0/, "connect to exit 0 after detaching");
  });

  it("leaves the terminal sane when ssh dies without cleaning up", async () => {
    const { pane, log } = await connect("--session sane");
    await waitForLog(log, pane, /connected in/, "connect to attach");
    const first = await remoteReady(pane, log, "sane");
    const format = (name: string) => run("tmux", ["-L", laptop.socketName, "display", "-p", "-t", pane, name]);
    assert.equal((await format("#{alternate_on}")).stdout.trim(), "1", "the remote tmux uses the alternate screen");
    // The laptop loses the network and ssh is killed outright: nobody restores the terminal but us.
    await network.cut();
    await run("pkill", ["-KILL", "-f", "ssh .*new-session -A -D -s sane"]);
    await laptop.waitForScreen(pane, /connection lost; reconnecting/, "the status line");
    assert.equal((await format("#{alternate_on}")).stdout.trim(), "0", "back on the normal screen");
    assert.equal((await format("#{cursor_flag}")).stdout.trim(), "1", "cursor visible");
    await network.restore();
    await waitForLog(log, pane, /re-attached/, "connect to re-attach");
    await remoteReady(pane, log, "sane", "tmux", first);
    await laptop.type(pane, "echo back-$((6+6))");
    await laptop.waitForScreen(pane, /back-12/, "the re-attached remote shell");
    await laptop.keys(pane, "C-b", "d");
    await laptop.waitForScreen(pane, /EXIT=0/, "connect to exit 0");
    await laptop.type(pane, 'for f in icanon echo; do stty -a | grep -qE "(^|[ ;])$f([ ;]|$)" && printf "%s=on " $f || printf "%s=off " $f; done; echo');
    await laptop.waitForScreen(pane, /^icanon=on echo=on $/m, "a cooked terminal (icanon, echo)");
  });

  it("leaves clean output after a detach: nothing is written over tmux's last line", async () => {
    const { pane, log } = await connect("--session tidy");
    await waitForLog(log, pane, /connected in/, "connect to attach");
    await remoteReady(pane, log, "tidy");
    await laptop.keys(pane, "C-b", "d");
    await laptop.waitForScreen(pane, /EXIT=0/, "connect to exit 0 after detaching");
    // As after plain `ssh -t host tmux`: tmux's farewell, then the shell's next output below it.
    const screen = await laptop.screen(pane);
    assert.match(screen, /\[detached \(from session tidy\)\]\n(?:.*\n)*?EXIT=0\n/, screen);
    assert.match(screen, /connect --log .* --session tidy .*; echo "EXIT=\$\?"\n/, `the command line is intact:\n${screen}`);
  });

  it("ends ssh and leaves nothing behind when its terminal is closed", async () => {
    const markers = async () => (await readdir(tmpdir())).filter((name) => name.startsWith("ssh-anchor-connect-")).length;
    const before = await markers();
    const { pane, log } = await connect("--session closed");
    await waitForLog(log, pane, /connected in/, "connect to attach");
    assert.equal(await markers(), before + 1);
    await run("tmux", ["-L", laptop.socketName, "kill-session", "-t", pane]);
    await waitForLog(log, pane, /stopped by SIGHUP/, "connect to stop on SIGHUP", 5000);
    await waitFor("connect's ssh to end", async () => (await run("pgrep", ["-f", "ssh .*-s closed'?$"])).code !== 0, {
      timeoutMs: 5000,
      explain: async () => section("ssh processes", (await run("pgrep", ["-a", "-f", "ssh .*-s closed"])).stdout),
    });
    assert.equal(await markers(), before);
  });

  it("exits non-zero within seconds when the port is closed or the key is refused", async () => {
    const closed = host.sshOptions.map((option) => (option === String(host.port) ? "1" : option));
    const started = performance.now();
    const [ip, ...refusedArgs] = network.inClient(BIN, ["connect", ...closed]);
    const refused = await run(ip, refusedArgs, {
      env: { ...process.env, SSH_AUTH_SOCK: host.laptopAgent.path },
      timeoutMs: 15_000,
    });
    assert.equal(refused.code, 255, refused.stderr);
    assert.match(refused.stderr, /Connection refused/);
    assert.match(refused.stderr, /ssh-anchor: could not connect/);
    assert.ok(performance.now() - started < 5000);

    const strangerKeys = await tempDir();
    cleanup.add(() => run("rm", ["-rf", strangerKeys]));
    const stranger = await startAgent(cleanup, join(strangerKeys, "agent.sock"));
    await addKey(stranger.path, await makeKey(strangerKeys, "stranger"));
    const [, ...deniedArgs] = network.inClient(BIN, ["connect", ...host.sshOptions]);
    const denied = await run(ip, deniedArgs, {
      env: { ...process.env, SSH_AUTH_SOCK: stranger.path },
      timeoutMs: 15_000,
    });
    assert.equal(denied.code, 255);
    assert.match(denied.stderr, /Permission denied/);
  });
});
