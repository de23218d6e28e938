/**
 * How fast the laptop side recovers: ssh-anchor connect against autossh, in two network
 * namespaces joined by a veth pair (needs root, autossh, tmux, sshd).
 *
 *   npm run bench:connect
 *
 * For each tool: time from a link cut until it notices (its ssh client exits), time from the
 * link's return until a new client is attached to the remote tmux session, and the same for an
 * address change with the link up. Every tool runs the same remote command
 * (tmux new-session -A -D -s NAME), so "re-attached" is measured the same way for all.
 */
import { Cleanup, run, sleep, waitFor } from "../test/helpers/process.js";
import { BIN } from "../test/helpers/process.js";
import { LaptopTerminal } from "../test/helpers/laptop.js";
import { makeNetwork } from "../test/helpers/netns.js";
import { startTestHost, type TestHost } from "../test/helpers/sshd.js";
import { printTable, writeResults } from "./report.js";

/** Long enough that keepalive-based tools notice the cut before the link returns. */
const CUT_MS = Number(process.env.BENCH_CUT_MS ?? 20_000);
const GIVE_UP_MS = 120_000;

interface Tool {
  readonly name: string;
  /** The command line typed into the laptop terminal. */
  line(sshOptions: string, session: string): string;
}

const remote = (session: string) => `'tmux new-session -A -D -s ${session}'`;
const TOOLS: Tool[] = [
  { name: "ssh-anchor connect", line: (ssh, s) => `${BIN} connect --session ${s} ${ssh}` },
  {
    name: "autossh -M 0, ServerAlive 5x3",
    line: (ssh, s) => `AUTOSSH_GATETIME=0 autossh -M 0 -o ServerAliveInterval=5 -o ServerAliveCountMax=3 -t ${ssh} ${remote(s)}`,
  },
  {
    name: "autossh seed 004 (-M, POLL=5)",
    line: (ssh, s) => `AUTOSSH_GATETIME=0 AUTOSSH_FIRST_POLL=5 AUTOSSH_POLL=5 autossh -M ${20_000 + (process.pid % 20_000)} -t ${ssh} ${remote(s)}`,
  },
];

async function clientsOf(host: TestHost, session: string): Promise<string[]> {
  const result = await host.asUser(`tmux list-clients -t ${session} -F '#{client_pid}' 2>/dev/null`);
  return result.stdout.split("\n").filter(Boolean);
}

async function sshPidFor(session: string): Promise<string | undefined> {
  const result = await run("pgrep", ["-n", "-f", `(^|/)ssh .*new-session -A -D -s ${session}$`]);
  return result.stdout.trim() || undefined;
}

/** Times one disruption: until the old ssh exits, and from `recovered()` until a new client attaches. */
async function disrupt(host: TestHost, session: string, disruption: () => Promise<void>, recovery: (() => Promise<void>) | undefined) {
  const oldPid = await waitFor("the tool's ssh", () => sshPidFor(session), 30_000);
  const oldClients = new Set(await clientsOf(host, session));
  const started = performance.now();
  await disruption();
  let noticedMs: number | undefined;
  const noticed = waitFor("ssh to exit", async () => (await run("kill", ["-0", oldPid])).code !== 0, GIVE_UP_MS, 20)
    .then(() => (noticedMs = performance.now() - started))
    .catch(() => undefined);
  let recoveredAt = started;
  if (recovery) {
    await sleep(CUT_MS);
    await recovery();
    recoveredAt = performance.now();
  }
  let reattachMs: number | undefined;
  try {
    await waitFor("a new client", async () => (await clientsOf(host, session)).some((pid) => !oldClients.has(pid)), GIVE_UP_MS, 20);
    reattachMs = performance.now() - recoveredAt;
  } catch {
    // Reported as "never" below.
  }
  await Promise.race([noticed, sleep(1000)]);
  return { noticedMs, reattachMs };
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error("run as root: the bench makes network namespaces and a test user");
  if ((await run("which", ["autossh"])).code !== 0) throw new Error("autossh is missing: apt-get install -y autossh");
  const cleanup = new Cleanup();
  cleanup.add(() => run("pkill", ["-f", "autossh .*-s bench[0-9]+$"]));
  process.on("SIGINT", () => void cleanup.run().then(() => process.exit(130)));
  try {
    const network = await makeNetwork(cleanup);
    const host = await startTestHost(cleanup, { serverNamespace: network.server, clientNamespace: network.client, address: network.serverAddress });
    const laptop = new LaptopTerminal(network, cleanup);
    const sshOptions = host.sshOptions.join(" ");
    const results = [];
    for (const [index, tool] of TOOLS.entries()) {
      const session = `bench${index}`;
      console.error(`measuring ${tool.name}...`);
      const pane = await laptop.open({ SSH_AUTH_SOCK: host.laptopAgent.path, TERM: "xterm-256color" });
      await laptop.type(pane, tool.line(sshOptions, session));
      await waitFor(`${tool.name} to attach`, async () => (await clientsOf(host, session)).length > 0, 30_000);
      await sleep(1000);
      const cut = await disrupt(host, session, () => network.cut(), () => network.restore());
      await sleep(2000);
      const silent = await disrupt(host, session, () => network.silence(), () => network.unsilence());
      await sleep(2000);
      const move = await disrupt(host, session, () => network.moveClient(), undefined);
      results.push({ tool: tool.name, cut, silent, move });
      await run("tmux", ["-L", laptop.socketName, "kill-session", "-t", pane]);
      // autossh takes the pane's SIGHUP as "restart ssh" and would outlive the bench.
      await run("pkill", ["-f", `autossh .*-s ${session}$`]);
      await host.asUser(`tmux kill-session -t ${session}`);
    }
    const show = (ms: number | undefined) => (ms === undefined ? "never" : `${(ms / 1000).toFixed(1)} s`);
    printTable(
      ["tool", "link cut: noticed", "re-attached", "silent loss: noticed", "re-attached", "address change: noticed", "re-attached"],
      results.map((r) => [
        r.tool,
        show(r.cut.noticedMs),
        show(r.cut.reattachMs),
        show(r.silent.noticedMs),
        show(r.silent.reattachMs),
        show(r.move.noticedMs),
        show(r.move.reattachMs),
      ]),
    );
    console.log(`\nlink cut: the laptop's interface goes down for ${CUT_MS / 1000} s; silent loss: a blackhole route for ${CUT_MS / 1000} s,`);
    console.log("nothing changes on the laptop; re-attached: after the network returns (address change: after the change)");
    console.log("targets: re-attached within 2 s of the network returning; an address change handled within 2 s");
    console.log(`results: ${await writeResults("connect", { cutMs: CUT_MS, results })}`);
  } finally {
    await cleanup.run();
  }
}

await main();
