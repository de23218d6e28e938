import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { TestAgent } from "../helpers/agent.js";
import { LaptopTerminal } from "../helpers/laptop.js";
import { makeNetwork, type TestNetwork } from "../helpers/netns.js";
import { BIN, Cleanup, requireRoot, run, tempDir, waitFor } from "../helpers/process.js";
import { startTestHost, type Login, type TestHost } from "../helpers/sshd.js";

const skip = requireRoot();

const SCOPED = /\/id-[0-9a-f]{16}\.sock$/;

/**
 * connect on a shared account with per-identity on (issue 18, item 1): Bob's
 * `connect -A --session bob` gives his session his own scope and touches nothing else; Alice's
 * session, tmux's global environment and Alice's screen session (even one whose name begins
 * with Bob's) keep what they had, and a new window there lists Alice's keys only.
 */
describe("connect on a per-identity account touches only its own session, with that login's scope", { skip }, () => {
  const cleanup = new Cleanup();
  let network: TestNetwork;
  let host: TestHost;
  let laptop: LaptopTerminal;
  let alice: TestAgent;
  let bob: TestAgent;
  let aliceLogin: Login;
  let logs: string;
  before(async () => {
    network = await makeNetwork(cleanup);
    host = await startTestHost(cleanup, {
      serverNamespace: network.server,
      clientNamespace: network.client,
      address: network.serverAddress,
      // Runs for sshd's commands too (bash reads ~/.bashrc under sshd): connect's prelude then
      // starts from a scope socket, and must still find the login's own.
      rcLine: 'eval "$(ssh-anchor init --per-identity bash)"',
    });
    laptop = new LaptopTerminal(network, cleanup);
    alice = await host.addLaptopAgent("alice");
    bob = await host.addLaptopAgent("bob");
    // Alice stays logged in: her scope has a live agent, so her windows list her key.
    aliceLogin = await host.login(alice);
    logs = await tempDir();
    cleanup.add(() => run("rm", ["-rf", logs]));
  });
  after(async () => {
    await aliceLogin?.end().catch(() => undefined);
    await cleanup.run();
  });

  /** The test user's tmux on the default server, the one connect's session uses. */
  const tmux = (args: string) => host.asUser(`tmux ${args}`);
  const envOf = async (target: string) => (await tmux(`show-environment ${target} SSH_AUTH_SOCK`)).stdout.trim();
  const logText = (log: string) => readFile(log, "utf8").catch(() => "");

  /** Bob runs connect in a laptop terminal; resolves once the session is attached. */
  async function bobConnects(options: string, session: string, exists: () => Promise<boolean>, sshOptions = host.sshOptions): Promise<{ pane: string; log: string }> {
    const pane = await laptop.open({ SSH_AUTH_SOCK: bob.path, TERM: "xterm-256color" });
    const log = join(logs, `${session}.log`);
    await laptop.type(pane, `${BIN} connect --log ${log} ${options} --session ${session} ${sshOptions.join(" ")}; echo "EXIT=$?"`);
    try {
      await waitFor("connect to attach", async () => /connected in/.test(await logText(log)) && (await exists()), 20_000, 100);
    } catch (error) {
      throw new Error(`${(error as Error).message}\n--- connect's log:\n${await logText(log)}--- screen:\n${await laptop.screen(pane)}`);
    }
    return { pane, log };
  }

  /** What `ssh-add -L` lists in a new window a command opens (the file it writes, read back). */
  async function listedInNewWindow(open: (command: string) => Promise<unknown>, name: string): Promise<string> {
    const out = join(host.home, `listed-${name}.txt`);
    await host.asUser(`rm -f ${out}`);
    await open(`ssh-add -L >${out}.tmp 2>&1; echo "rc=$?" >>${out}.tmp; mv ${out}.tmp ${out}; sleep 60`);
    return waitFor(`ssh-add -L in a new window of ${name}`, async () => {
      const text = await readFile(out, "utf8").catch(() => "");
      return /rc=\d+/.test(text) && text;
    }, 10_000, 100);
  }

  const onlyKeysOf = (listed: string, person: string, other: string) => {
    assert.match(listed, /rc=0/, listed);
    assert.match(listed, new RegExp(` ${person}-key$`, "m"), listed);
    assert.ok(!listed.includes(`${other}-key`), `${person}'s new window must never list ${other}'s key:\n${listed}`);
  };

  it("tmux: Bob's connect gives his session his scope; Alice's session and the global environment keep theirs", async () => {
    const made = await host.ssh("tmux new-session -d -s alice", 20_000, alice);
    assert.equal(made.code, 0, made.stderr);
    const aliceScope = (await envOf("-t alice")).replace(/^SSH_AUTH_SOCK=/, "");
    assert.match(aliceScope, SCOPED, "Alice's session holds her scope");
    const globalBefore = await envOf("-g");

    const { pane } = await bobConnects("", "bob", async () => (await tmux("has-session -t =bob")).code === 0);

    assert.equal(await envOf("-t alice"), `SSH_AUTH_SOCK=${aliceScope}`, "Alice's session is untouched");
    const global = await envOf("-g");
    assert.equal(global, globalBefore, "tmux's global environment is untouched");
    assert.notEqual(global, `SSH_AUTH_SOCK=${host.stableSocket}`);
    const bobScope = (await envOf("-t bob")).replace(/^SSH_AUTH_SOCK=/, "");
    assert.match(bobScope, SCOPED, "Bob's session holds a scope");
    assert.notEqual(bobScope, aliceScope, "his own, not Alice's");

    onlyKeysOf(await listedInNewWindow((command) => tmux(`new-window -d -t =alice: '${command}'`), "alice"), "alice", "bob");
    onlyKeysOf(await listedInNewWindow((command) => tmux(`new-window -d -t =bob: '${command}'`), "bob"), "bob", "alice");

    await laptop.keys(pane, "C-b", "d");
    await laptop.waitForScreen(pane, /EXIT=0/, "connect to exit 0 after detaching");
    assert.doesNotMatch(await laptop.screen(pane), /ssh-anchor: /, "nothing to say when the login is scoped");
  });

  it("screen: Bob's connect makes his own session (not Alice's \"bobby\") and points only it at his scope", async () => {
    const made = await host.ssh("screen -dmS bobby", 20_000, alice);
    assert.equal(made.code, 0, made.stderr);
    const sessions = async () => (await host.asUser("screen -ls")).stdout;
    const exact = async (name: string) => new RegExp(`^\\s*(\\d+\\.${name})\\s`, "m").exec(await sessions())?.[1];
    const bobby = await exact("bobby");
    assert.ok(bobby, await sessions());

    const { pane } = await bobConnects("--screen", "bob", async () => (await exact("bob")) !== undefined);
    assert.match(await sessions(), /\d+\.bobby\s.*Detached/, `Bob did not attach Alice's session:\n${await sessions()}`);
    const own = await exact("bob");
    assert.ok(own && own !== bobby);

    const inScreen = (target: string) => (command: string) => host.asUser(`screen -S ${target} -X screen sh -c '${command}'`);
    onlyKeysOf(await listedInNewWindow(inScreen(bobby), "bobby"), "alice", "bob");
    onlyKeysOf(await listedInNewWindow(inScreen(own), "bob-screen"), "bob", "alice");

    await laptop.keys(pane, "C-a", "d");
    await laptop.waitForScreen(pane, /EXIT=0/, "connect to exit 0 after detaching screen");
  });

  it("a login that cannot be scoped keeps its own socket (here: none), never the stable one, and connect says why in one line", async () => {
    const noForwarding = host.sshOptions.filter((option) => option !== "-A");
    const { pane, log } = await bobConnects("", "unscoped", async () => (await tmux("has-session -t =unscoped")).code === 0, noForwarding);
    const env = await envOf("-t unscoped");
    assert.equal(env, "-SSH_AUTH_SOCK", "no agent socket in the session: never the stable socket");
    const listed = await listedInNewWindow((command) => tmux(`new-window -d -t =unscoped: '${command}'`), "unscoped");
    assert.doesNotMatch(listed, /alice-key|bob-key/, listed);
    await laptop.keys(pane, "C-b", "d");
    await laptop.waitForScreen(pane, /EXIT=0/, "connect to exit 0 after detaching");
    // Said once, in one line: counted on the whole screen, so that whatever a loaded machine
    // left before it on the line (a prompt's remains) does not hide it.
    const screen = await laptop.screen(pane);
    const said = screen.match(/ssh-anchor: SSH_AUTH_SOCK is not set: [^\n]*; the tmux session unscoped gets no agent socket/g) ?? [];
    assert.equal(said.length, 1, `said ${said.length} times:\n--- the laptop's screen:\n${screen}\n--- connect's log:\n${await logText(log)}`);
  });
});
