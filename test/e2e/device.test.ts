import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, before, describe, it } from "node:test";
import type { TestAgent } from "../helpers/agent.js";
import { inTmux, TMUX, type PaneResult } from "../helpers/panes.js";
import { Cleanup, explainAll, requireRoot, section, sleep, waitFor } from "../helpers/process.js";
import { startTestHost, type TestHost } from "../helpers/sshd.js";

const skip = requireRoot();

/** An interactive `ssh -tt -A` login: a person at a device, whose typing reaches the remote pty. */
interface TtyLogin {
  readonly forwardedSocket: string;
  /** Types a line into the login's terminal and waits until the remote side has read it. */
  type(line: string): Promise<void>;
  freeze(): void;
  thaw(): void;
}

interface AgentStatus {
  path: string;
  kind: string;
  state: string;
  createdAt: string;
  login?: number | null;
  terminal?: string | null;
  lastInputAt?: string | null;
}
interface Status {
  route: string | null;
  routeReason?: string;
  agents: AgentStatus[];
}

/**
 * Issue 21 part 1: two devices logged in at once, each with its own laptop agent (its own key).
 * The stable socket follows the device the person types at; a new login's own command still
 * uses its own agent; the zombie rule still wins over recent typing.
 */
describe("routes to the device the person is at (issue 21)", { skip }, () => {
  const cleanup = new Cleanup();
  let host: TestHost;
  let deskAgent: TestAgent;
  let phoneAgent: TestAgent;
  let desk: TtyLogin;
  let laptop: TtyLogin;

  const status = async (): Promise<Status> => JSON.parse((await host.anchor("status --json")).stdout) as Status;
  const agentOf = async (login: TtyLogin) => (await status()).agents.find((agent) => agent.path === login.forwardedSocket);
  /** The pane's last `ssh-add -l` listed `key` and not `not`; else the daemon's view and the logins' processes. */
  const lists = async (result: PaneResult, key: string, not: string) => {
    const last = result.screen.slice(result.screen.lastIndexOf("ssh-add -l"));
    if (result.rc === 0 && last.includes(`${key} (ED25519)`) && !last.includes(`${not} (ED25519)`)) return;
    const why = await explainAll(
      async () => section("status --json", (await host.anchor("status --json")).stdout),
      async () => section("the test user's sshd processes", (await host.asUser("ps -o pid,ppid,tty,comm,args -u $(id -u) | grep -v ' ps '; ls -l --time=atime --time-style=full-iso /dev/pts; for p in $(pgrep -u $(id -u) sshd); do stat -c '%n %U' /proc/$p; ls -l /proc/$p/fd 2>&1 | grep -v pipe; echo children: $(cat /proc/$p/task/$p/children 2>&1); done; grep -E \"$HOME/.ssh/agent/|/tmp/ssh-\" /proc/net/unix")).stdout),
      host.explain,
    )();
    assert.fail(`expected ${key} and not ${not} (rc ${result.rc}):\n${result.screen}\n${why}`);
  };

  const ttyLogin = async (agent: TestAgent): Promise<TtyLogin> => {
    const remote = `printf 'sock=%s\\n' "\${SSH_ANCHOR_ORIGINAL_SOCK:-$SSH_AUTH_SOCK}"; while IFS= read -r line; do printf 'got:%s\\n' "$line"; done`;
    const child = spawn("ssh", ["-tt", ...host.sshOptions, remote], { env: { ...process.env, SSH_AUTH_SOCK: agent.path }, stdio: ["pipe", "pipe", "pipe"] });
    cleanup.add(() => {
      child.kill("SIGCONT");
      child.kill("SIGKILL");
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const explain = explainAll(() => section("the tty login's output", `${output}\nexit: ${child.exitCode ?? child.signalCode ?? "running"}`), host.explain);
    const socket = await waitFor("the tty login's forwarded socket", () => /sock=(\/\S+)\r?\n/.exec(output)?.[1], { timeoutMs: 15_000, explain });
    await waitFor("the login's agent to be known live", async () => (await agentOf({ forwardedSocket: socket } as TtyLogin))?.state === "live", { timeoutMs: 10_000, intervalMs: 200, explain });
    return {
      forwardedSocket: socket,
      type: async (line) => {
        child.stdin.write(`${line}\n`);
        // The remote shell printed it back: it has read it from the pty (the pty's atime moved).
        await waitFor(`"${line}" to be read on the remote terminal`, () => output.includes(`got:${line}`), { timeoutMs: 10_000, explain });
      },
      freeze: () => child.kill("SIGSTOP"),
      thaw: () => child.kill("SIGCONT"),
    };
  };

  /** The kernel records terminal input at 8 s granularity: input counts as later than `since`
   * only once it falls in a later 8-second slot (docs/how-it-works.md). The kernel reads its
   * seconds from a clock updated at each tick, which may still say the last slot a few ms after
   * it ended: input typed that soon is not recorded (seen once under load), hence the margin. */
  const pastTheSlotOf = async (since: number) => {
    const slot = (ms: number) => Math.floor(ms / 8000);
    const marginMs = 300;
    while (slot(Date.now() - marginMs) <= slot(since)) await sleep(100);
  };

  before(async () => {
    host = await startTestHost(cleanup);
    deskAgent = await host.addLaptopAgent("desk");
    phoneAgent = await host.addLaptopAgent("phone");
    const created = await host.ssh(`${TMUX} new -d -s device`);
    assert.equal(created.code, 0, created.stderr);
  });
  after(() => cleanup.run());

  it("typing into the older login's terminal makes ssh-add -l in a tmux pane list that login's key", async () => {
    desk = await ttyLogin(deskAgent);
    laptop = await ttyLogin(host.laptopAgent);
    // Nobody typed since the laptop logged in: the newest login, as before.
    await lists(await inTmux(host, "device", "NEWEST", "ssh-add -l"), host.keyComment, "desk-key");
    const laptopAgent = await agentOf(laptop);
    assert.ok(laptopAgent, "the laptop's agent is in status");
    await pastTheSlotOf(Date.parse(laptopAgent.createdAt));
    await desk.type("at-the-desk");
    await lists(await inTmux(host, "device", "DESK", "ssh-add -l"), "desk-key", host.keyComment);

    // status says where a request goes and why, with each login's terminal and last input.
    const report = await status();
    assert.equal(report.route, desk.forwardedSocket);
    assert.match(report.routeReason ?? "", /its terminal \/dev\/pts\/\d+ had keyboard input \d+ s ago/);
    const deskStatus = report.agents.find((agent) => agent.path === desk.forwardedSocket);
    assert.ok(deskStatus?.login && deskStatus.terminal?.startsWith("/dev/pts/") && deskStatus.lastInputAt, JSON.stringify(deskStatus));
    assert.ok(Date.now() - Date.parse(deskStatus.lastInputAt) < 30_000, `last input ${deskStatus.lastInputAt}`);
    const text = (await host.anchor("status")).stdout;
    assert.match(text, /why: +its terminal \/dev\/pts\/\d+ had keyboard input/);
    assert.match(text, new RegExp(`login: sshd ${deskStatus.login}, terminal ${deskStatus.terminal}, last input \\d+ s ago`));
    const doctor = (await host.anchor("doctor")).stdout;
    assert.match(doctor, new RegExp(`a request now would reach ${desk.forwardedSocket}: its terminal /dev/pts/\\d+ had keyboard input`), doctor);

    // Back at the laptop: the route follows.
    await pastTheSlotOf(Date.now());
    await laptop.type("back-at-the-laptop");
    await lists(await inTmux(host, "device", "LAPTOP", "ssh-add -l"), host.keyComment, "desk-key");
    await pastTheSlotOf(Date.now());
    await desk.type("at-the-desk-again");
    await lists(await inTmux(host, "device", "DESK2", "ssh-add -l"), "desk-key", host.keyComment);
  });

  it("a new non-interactive login's own command still lists its own key, 5 of 5", async () => {
    for (let i = 0; i < 5; i++) {
      const result = await host.ssh("ssh-add -l", 20_000, phoneAgent);
      if (result.code === 0 && /phone-key \(ED25519\)/.test(result.stdout) && !/desk-key|laptop-key/.test(result.stdout)) continue;
      const why = await explainAll(async () => section("status --json", (await host.anchor("status --json")).stdout), host.explain)();
      assert.fail(`#${i + 1}: rc ${result.code}, expected phone-key only: ${result.stdout}${result.stderr}\n${why}`);
    }
    // Those logins are over: the pane is back at the desk, where the person typed last.
    await lists(await inTmux(host, "device", "AFTER", "ssh-add -l"), "desk-key", host.keyComment);
  });

  it("skips the login typed into last within 1 s when its laptop sleeps (the zombie rule wins)", async () => {
    assert.equal((await status()).route, desk.forwardedSocket, "the desk is where requests go");
    desk.freeze();
    try {
      const first = await inTmux(host, "device", "ZOMBIE", "ssh-add -l");
      await lists(first, host.keyComment, "desk-key");
      assert.ok(first.ms < 1000, `the first request next to a sleeping, last-typed-into login took ${first.ms} ms`);
      const report = await status();
      assert.equal(report.agents.find((agent) => agent.path === desk.forwardedSocket)?.state, "zombie");
      assert.equal(report.route, laptop.forwardedSocket);
      assert.match(report.routeReason ?? "", /1 unresponsive login \(zombie\) tried last/);
    } finally {
      desk.thaw();
    }
  });

  // OpenSSH <= 10.0's ssh-agent names its /tmp socket after the pid it had before it forked,
  // gone at once under eval: that name alone once made it look like a login's, the newest one.
  it("an ssh-agent started with eval on the host comes after every login's agent", async () => {
    const started = await host.asUser(
      `ssh-keygen -q -t ed25519 -N '' -C local-key -f ~/local-key && export TMPDIR=/tmp && eval "$(ssh-agent -s)" >/dev/null && ssh-add -q ~/local-key && echo "$SSH_AUTH_SOCK $SSH_AGENT_PID"`,
    );
    assert.equal(started.code, 0, started.stderr);
    const [socket, pid] = started.stdout.trim().split(" ");
    cleanup.add(() => host.asUser(`kill ${pid}; rm -f ~/local-key ~/local-key.pub`));
    const known = await waitFor("the daemon to know the local agent", async () => (await status()).agents.find((agent) => agent.path === socket), {
      timeoutMs: 10_000,
      intervalMs: 200,
      explain: host.explain,
    });
    const { route } = await status();
    assert.ok(route === desk.forwardedSocket || route === laptop.forwardedSocket, `the route is a login's agent, not ${route} (the local one: ${socket})`);
    await lists(await inTmux(host, "device", "LOCAL", "ssh-add -l"), route === desk.forwardedSocket ? "desk-key" : host.keyComment, "local-key");
    assert.equal(known.kind, "local", JSON.stringify(known));
  });
});
