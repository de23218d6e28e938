/**
 * The switcher measured against direct agent access, in one run on one machine, with the
 * compared paths interleaved so that machine noise hits them alike:
 *
 *   npm run bench            (SSH_ANCHOR_BENCH_ALT=/path/to/other-switcher to add one)
 *
 * Prints tables of medians (min, max) and ratios to direct, writes bench/results/switcher.json,
 * and draws docs/bench-latency.svg. Nothing here is a pass/fail test: targets are printed beside
 * the figures.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { socketAcceptsConnections } from "../src/core/dial.js";
import { encodeMessage, REQUEST_IDENTITIES_MESSAGE } from "../src/protocol/encode.js";
import { hostHash } from "../src/discovery/host-hash.js";
import { MessageType } from "../src/protocol/messages.js";
import { addKey, makeKey, sshAdd, startAgent } from "../test/helpers/agent.js";
import { BIN, Cleanup, run, tempDir, waitFor } from "../test/helpers/process.js";
import { RawAgentClient, timeFreshConnection } from "./agent-client.js";
import { latencyChart } from "./chart.js";
import { printTable, RESULTS_DIR, summarize, writeResults, type Summary } from "./report.js";
import { memoryOf, openDescriptors } from "./system.js";

const QUICK = process.argv.includes("--quick");
const ROUNDS = QUICK ? 3 : 10;
const PER_ROUND = QUICK ? 50 : 200;
const CONCURRENT_CLIENTS = 64;
const CONCURRENT_MS = QUICK ? 1000 : 3000;
const MEMORY_REQUESTS = QUICK ? 10_000 : 100_000;
const STALE_DIRECTORIES = 2000;
const SHELL_RUNS = QUICK ? 20 : 200;

interface Target {
  readonly name: string;
  readonly path: string;
  readonly pid?: number;
}

const cleanup = new Cleanup();

function startProcess(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
  const child = spawn(command, args, { env, stdio: "ignore" });
  cleanup.add(() => child.kill("SIGKILL"));
  return child;
}

async function startDaemon(name: string, socket: string, tmpRoot: string, home: string): Promise<Target> {
  const child = startProcess(BIN, ["run", "--socket", socket, "--tmp-dir", tmpRoot], { ...process.env, HOME: home });
  await waitFor(`${name} to listen`, () => socketAcceptsConnections(socket, 500), 10_000);
  // bin/ssh-anchor execs node: the pid is the daemon's.
  return { name, path: socket, pid: child.pid };
}

/** Rounds of `batch` on every target in rotating order; samples per target. */
async function interleaved(targets: readonly Target[], batch: (target: Target) => Promise<number[]>): Promise<Map<string, number[]>> {
  const samples = new Map(targets.map((t) => [t.name, [] as number[]]));
  for (let round = 0; round < ROUNDS; round++) {
    for (let i = 0; i < targets.length; i++) {
      const target = targets[(round + i) % targets.length] as Target;
      samples.get(target.name)?.push(...(await batch(target)));
    }
  }
  return samples;
}

const LOAD = fileURLToPath(new URL("./load.py", import.meta.url));

/** Latencies (µs) measured by a separate Python process, as the research did: the client's own
 * overhead then weighs on every path alike, as a real client's would. */
async function pythonLoad(mode: "one-connection" | "fresh-connections", target: Target, count: number, message?: Buffer, cpu?: number): Promise<number[]> {
  const load = ["python3", LOAD, mode, target.path, String(count), ...(message ? [message.toString("hex")] : [])];
  const [command, ...args] = cpu === undefined ? load : ["taskset", "-c", String(cpu), ...load];
  const result = await run(command as string, args, { timeoutMs: 120_000 });
  if (result.code !== 0) throw new Error(`load.py ${mode} on ${target.name} failed: ${result.stderr}`);
  return JSON.parse(result.stdout) as number[];
}

const oneConnection = (target: Target, message: Buffer, cpu?: number) => pythonLoad("one-connection", target, PER_ROUND, message, cpu);
const freshConnections = (target: Target, cpu?: number) => pythonLoad("fresh-connections", target, PER_ROUND / 2, undefined, cpu);

/**
 * Where the client and the servers (agent, proxies) run. A round trip's cost is mostly the
 * kernel waking processes, and waking one on another core costs several times more than on the
 * same core, so the ratio to direct access depends on where the scheduler puts the processes
 * (it puts two that ping-pong on one core, three it spreads). Measured under each placement so
 * that the figures do not flip between runs.
 */
interface Placement {
  readonly name: string;
  /** The client's CPU; undefined: anywhere. */
  readonly client?: number;
  /** The servers' CPUs (taskset list); undefined: any. */
  readonly servers?: string;
}

function placements(): Placement[] {
  const scheduled: Placement = { name: "as the scheduler places them" };
  if (availableParallelism() < 2 || spawnSync("taskset", ["-V"]).status !== 0) return [scheduled];
  return [scheduled, { name: "client on one core, servers on another", client: 0, servers: "1" }, { name: "all on one core", client: 0, servers: "0" }];
}

function placeServers(targets: readonly Target[], placement: Placement): void {
  const cpus = placement.servers ?? `0-${availableParallelism() - 1}`;
  for (const target of targets) {
    if (target.pid === undefined) continue;
    const result = spawnSync("taskset", ["-a", "-p", "-c", cpus, String(target.pid)]);
    if (result.status !== 0) throw new Error(`taskset on ${target.name} failed: ${result.stderr}`);
  }
}

async function sshAddProcesses(target: Target): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < 3; i++) {
    const result = await sshAdd(target.path, ["-l"]);
    if (result.code !== 0) throw new Error(`ssh-add -l through ${target.name} failed: ${result.stderr}`);
    samples.push(result.millis * 1000);
  }
  return samples;
}

/** Requests per second with `clients` connections hammering at once, plus one idle client. */
async function throughput(target: Target): Promise<{ perSecond: number; errors: number }> {
  const idle = await RawAgentClient.open(target.path);
  const clients = await Promise.all(Array.from({ length: CONCURRENT_CLIENTS }, () => RawAgentClient.open(target.path)));
  let completed = 0;
  let errors = 0;
  const deadline = performance.now() + CONCURRENT_MS;
  const started = performance.now();
  await Promise.all(
    clients.map(async (client) => {
      while (performance.now() < deadline) {
        try {
          const reply = await client.request(REQUEST_IDENTITIES_MESSAGE);
          if (reply[4] === MessageType.IDENTITIES_ANSWER) completed++;
          else errors++;
        } catch {
          errors++;
          break;
        }
      }
    }),
  );
  const elapsed = performance.now() - started;
  for (const client of clients) client.close();
  idle.close();
  return { perSecond: (completed / elapsed) * 1000, errors };
}

/** An ed25519 SIGN_REQUEST for the public key in `pubFile`. */
async function signRequest(pubFile: string): Promise<Buffer> {
  const blob = Buffer.from((await readFile(pubFile, "utf8")).split(" ")[1] as string, "base64");
  const data = Buffer.alloc(64, 7);
  const string = (bytes: Buffer) => Buffer.concat([Buffer.from([0, 0, bytes.length >> 8, bytes.length & 255]), bytes]);
  return encodeMessage(MessageType.SIGN_REQUEST, Buffer.concat([string(blob), string(data), Buffer.alloc(4)]));
}

/** A session directory left by a crashed sshd: the socket file is there, nothing listens. */
function makeStaleDirectories(root: string, count: number): void {
  const script = `
import os, socket, sys
root, count = sys.argv[1], int(sys.argv[2])
for i in range(count):
    d = os.path.join(root, "ssh-Stale%05d" % i)
    os.mkdir(d, 0o700)
    s = socket.socket(socket.AF_UNIX)
    s.bind(os.path.join(d, "agent.%d" % (3000000 + i)))
    s.close()
`;
  const result = spawnSync("python3", ["-c", script, root, String(count)]);
  if (result.status !== 0) throw new Error(`making stale directories failed: ${result.stderr}`);
}

function timeShell(home: string, env: NodeJS.ProcessEnv): number {
  const started = performance.now();
  const result = spawnSync("bash", ["-i", "-c", "exit"], { env: { ...env, HOME: home }, stdio: "ignore" });
  if (result.status !== 0) throw new Error("bash -i failed");
  return (performance.now() - started) * 1000;
}

const summaries = (map: Map<string, number[]>) => Object.fromEntries([...map].map(([name, samples]) => [name, summarize(samples)]));

function row(name: string, summary: Summary, base: Summary | undefined, unit: "µs" | "ms", target?: string): string[] {
  const scale = unit === "ms" ? 1000 : 1;
  const f = (v: number) => (v / scale).toFixed(unit === "ms" ? 1 : 0);
  const ratio = base ? `${(summary.median / base.median).toFixed(2)}x` : "";
  return [name, `${f(summary.median)} ${unit}`, `${f(summary.min)}..${f(summary.max)}`, ratio, target ?? ""];
}

async function main(): Promise<void> {
  const base = await tempDir("anchor-bench-");
  cleanup.add(() => run("rm", ["-rf", base]));
  const tmpRoot = join(base, "tmp");
  const home = join(base, "home");
  await mkdir(tmpRoot, { mode: 0o700 });
  await mkdir(join(home, ".ssh", "agent"), { recursive: true, mode: 0o700 });
  const key = await makeKey(base, "bench-key");
  const agent = await startAgent(cleanup, join(tmpRoot, "ssh-BenchAgent", "agent.9000000"));
  await addKey(agent.path, key);

  const direct: Target = { name: "direct", path: agent.path, pid: agent.pid };
  const anchor = await startDaemon("ssh-anchor", join(base, "a", "agent.sock"), tmpRoot, home);
  const naivePath = join(base, "naive.sock");
  const naiveChild = startProcess(process.execPath, ["--import", "tsx", fileURLToPath(new URL("./naive-proxy.ts", import.meta.url)), naivePath, agent.path]);
  await waitFor("the naive proxy", () => socketAcceptsConnections(naivePath, 500), 10_000);
  const naive: Target = { name: "naive Node pipe", path: naivePath, pid: naiveChild.pid };
  const targets: Target[] = [direct, anchor, naive];
  // socat: a C proxy, the least any separate proxy process can cost per round trip (it forks
  // per connection, so it is no floor for new connections).
  if (spawnSync("socat", ["-V"]).status === 0) {
    const socatPath = join(base, "socat.sock");
    const socat = startProcess("socat", [`UNIX-LISTEN:${socatPath},fork,backlog=256`, `UNIX-CONNECT:${agent.path}`]);
    await waitFor("socat", () => socketAcceptsConnections(socatPath, 500), 10_000);
    targets.push({ name: "socat (C, forks)", path: socatPath, pid: socat.pid });
  } else {
    console.error("socat not found: its reference rows are left out (apt-get install socat)");
  }
  const alternative = process.env.SSH_ANCHOR_BENCH_ALT;
  if (alternative) {
    const altPath = join(base, "alt.sock");
    const alt = startProcess(alternative, ["--socket-path", altPath, "--agents-dirs", tmpRoot]);
    await waitFor("the alternative switcher", () => socketAcceptsConnections(altPath, 500), 10_000);
    targets.push({ name: alternative.split("/").pop() as string, path: altPath, pid: alt.pid });
  }

  console.error("1/7 proxy overhead...");
  const byPlacement: { placement: Placement; identities: Map<string, number[]>; fresh: Map<string, number[]> }[] = [];
  for (const placement of placements()) {
    placeServers(targets, placement);
    byPlacement.push({
      placement,
      identities: await interleaved(targets, (t) => oneConnection(t, REQUEST_IDENTITIES_MESSAGE, placement.client)),
      fresh: await interleaved(targets, (t) => freshConnections(t, placement.client)),
    });
  }
  placeServers(targets, placements()[0] as Placement);
  const { identities, fresh } = byPlacement[0] as (typeof byPlacement)[number];
  const sign = await signRequest(`${key}.pub`);
  const signs = await interleaved(targets, (t) => oneConnection(t, sign));
  const sshAdds = await interleaved(targets, sshAddProcesses);

  console.error("2/7 concurrency...");
  const rates = new Map<string, { perSecond: number[]; errors: number }>(targets.map((t) => [t.name, { perSecond: [], errors: 0 }]));
  for (let round = 0; round < 3; round++) {
    for (const target of targets) {
      const result = await throughput(target);
      const entry = rates.get(target.name) as { perSecond: number[]; errors: number };
      entry.perSecond.push(result.perSecond);
      entry.errors += result.errors;
    }
  }

  console.error("3/7 discovery scale...");
  const staleRoot = join(base, "stale-tmp");
  const staleHome = join(base, "stale-home");
  await mkdir(staleRoot, { mode: 0o700 });
  await mkdir(join(staleHome, ".ssh", "agent"), { recursive: true, mode: 0o700 });
  // A live agent older than every stale socket: they all rank before it, the worst case.
  const liveDir = join(staleRoot, "ssh-LiveAgent");
  const liveAgent = await startAgent(cleanup, join(liveDir, "agent.9000001"));
  await addKey(liveAgent.path, key);
  makeStaleDirectories(staleRoot, STALE_DIRECTORIES);
  const otherHost = hostHash() === "aaaaaaaaaa" ? "bbbbbbbbbb" : "aaaaaaaaaa";
  await Promise.all(Array.from({ length: 500 }, (_, i) => writeFile(join(staleHome, ".ssh", "agent", `s.${otherHost}.sshd.${String(i).padStart(10, "0")}`), "")));
  // Start-up: from spawning `ssh-anchor run` to its socket accepting connections (Node's own
  // start included), clean and among the junk, alternated.
  const startups = new Map<string, number[]>([["clean", []], ["crowded", []]]);
  for (let round = 0; round < (QUICK ? 3 : 5); round++) {
    for (const [label, root, dirHome] of [["clean", tmpRoot, home], ["crowded", staleRoot, staleHome]] as const) {
      const started = performance.now();
      const probe = await startDaemon(`start-up ${label}`, join(base, `s${round}-${label}`, "agent.sock"), root, dirHome);
      startups.get(label)?.push((performance.now() - started) * 1000);
      process.kill(probe.pid as number, "SIGTERM");
    }
  }
  const crowded = await startDaemon("ssh-anchor, 2,000 stale dirs", join(base, "c", "agent.sock"), staleRoot, staleHome);
  // The first connection meets every stale socket once and marks them dead; steady state after.
  await timeFreshConnection(crowded.path, REQUEST_IDENTITIES_MESSAGE);
  const scale = await interleaved([anchor, crowded], freshConnections);

  console.error("4/7 zombie first...");
  // The newest agent accepts connections but never answers (SIGSTOPped, as a sleeping laptop's
  // login), an older one is live: time to a whole answer on a fresh connection, each round
  // with a new pair of agents and a daemon of its own.
  const zombieFirst: number[] = [];
  for (let round = 0; round < (QUICK ? 3 : 5); round++) {
    const root = join(base, `zombie${round}`);
    const zombieHome = join(base, `zombie-home${round}`);
    await mkdir(root, { mode: 0o700 });
    await mkdir(zombieHome, { mode: 0o700 });
    const older = await startAgent(cleanup, join(root, "ssh-Older", "agent.9000002"));
    await addKey(older.path, key);
    const zombieDaemon = await startDaemon(`zombie ${round}`, join(base, `z${round}`, "agent.sock"), root, zombieHome);
    const newer = await startAgent(cleanup, join(root, "ssh-Newer", "agent.9000003"));
    // Known and probed once (as a login is when it appears), then asleep.
    await waitFor("the newer agent to be probed", async () => {
      const report = JSON.parse((await run(BIN, ["status", "--json", "--socket", zombieDaemon.path], { env: { ...process.env, HOME: zombieHome } })).stdout) as { agents: Array<{ path: string; state: string }> };
      return report.agents.some((a) => a.path === newer.path && a.state === "live");
    }, 10_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    newer.freeze();
    zombieFirst.push(await timeFreshConnection(zombieDaemon.path, REQUEST_IDENTITIES_MESSAGE));
    newer.thaw();
    newer.kill();
    older.kill();
    process.kill(zombieDaemon.pid as number, "SIGTERM");
  }

  console.error("5/7 memory...");
  // The daemon looks at its memory every 5 s and hands it back once a burst is over: the
  // figures "after" are read once two of its checks have passed since the traffic stopped.
  const settle = () => new Promise((resolve) => setTimeout(resolve, 11_000));
  // A daemon of its own: "idle" means before any traffic, after start-up has settled.
  const quiet = await startDaemon("ssh-anchor (memory)", join(base, "m", "agent.sock"), tmpRoot, home);
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const memoryIdle = await memoryOf(quiet.pid as number);
  const fdsBefore = await openDescriptors(quiet.pid as number);
  const client = await RawAgentClient.open(quiet.path);
  for (let i = 0; i < MEMORY_REQUESTS / 2; i++) await client.request(REQUEST_IDENTITIES_MESSAGE);
  client.close();
  for (let i = 0; i < MEMORY_REQUESTS / 2; i++) await timeFreshConnection(quiet.path, REQUEST_IDENTITIES_MESSAGE);
  await settle();
  const memoryAfter = await memoryOf(quiet.pid as number);
  const fdsAfter = await openDescriptors(quiet.pid as number);
  // Then bursts of 64 connections at once, repeated: memory must settle back each time, not climb.
  const plateau: number[] = [];
  for (let burst = 0; burst < 3; burst++) {
    for (let i = 0; i < MEMORY_REQUESTS / 4; i += 64) {
      await Promise.all(Array.from({ length: 64 }, () => timeFreshConnection(quiet.path, REQUEST_IDENTITIES_MESSAGE)));
    }
    await settle();
    plateau.push((await memoryOf(quiet.pid as number)).rssAnonKiB);
  }

  console.error("6/7 shell start-up...");
  const shellEnv = { ...process.env, PATH: `${join(fileURLToPath(new URL("..", import.meta.url)), "bin")}:${process.env.PATH}`, SSH_ANCHOR_SOCKET: anchor.path };
  const homes = { none: join(base, "sh-none"), eval: join(base, "sh-eval"), sourced: join(base, "sh-sourced") };
  for (const dir of Object.values(homes)) await mkdir(dir);
  await writeFile(join(homes.none, ".bashrc"), "");
  await writeFile(join(homes.eval, ".bashrc"), 'eval "$(ssh-anchor init bash)"\n');
  await writeFile(join(homes.sourced, ".ssh-anchor.sh"), (await run(BIN, ["init", "bash"])).stdout);
  await writeFile(join(homes.sourced, ".bashrc"), ". ~/.ssh-anchor.sh\n");
  const shells = { none: [] as number[], eval: [] as number[], sourced: [] as number[] };
  for (let i = 0; i < SHELL_RUNS; i++) {
    for (const variant of ["none", "eval", "sourced"] as const) shells[variant].push(timeShell(homes[variant], shellEnv));
  }

  console.error("7/7 report...");
  const s = (map: Map<string, number[]>, name: string) => summarize(map.get(name) ?? []);
  const overheadRows = (measures: ReadonlyArray<readonly [string, Map<string, number[]>, "µs" | "ms", string]>) =>
    measures.flatMap(([title, map, unit, goal]) =>
      targets.map((target) => {
        const baseline = target === direct ? undefined : s(map, direct.name);
        return row(`${title}: ${target.name}`, s(map, target.name), baseline, unit, target === anchor ? goal : undefined);
      }),
    );
  for (const { placement, identities: oneConn, fresh: freshConn } of byPlacement) {
    console.log(`\nProxy overhead, ${placement.name} (median, min..max, ratio to direct)`);
    printTable(
      ["measure", "median", "range", "ratio", "target"],
      overheadRows([
        ["REQUEST_IDENTITIES, one connection", oneConn, "µs", "<= 1.3x"],
        ["new connection per request", freshConn, "µs", "<= 1.8x"],
      ]),
    );
  }
  console.log("\nWhat users run, as the scheduler places them (median, min..max, ratio to direct)");
  printTable(
    ["measure", "median", "range", "ratio", "target"],
    overheadRows([
      ["ed25519 SIGN_REQUEST, one connection", signs, "µs", ""],
      ["ssh-add -l (whole process)", sshAdds, "ms", ""],
    ]),
  );

  console.log(`\nConcurrency: ${CONCURRENT_CLIENTS} clients for ${CONCURRENT_MS / 1000} s each, plus one idle client (3 rounds)`);
  const directRate = summarize(rates.get(direct.name)?.perSecond ?? []).median;
  printTable(
    ["path", "requests/s (median)", "ratio", "errors", "target"],
    targets.map((t) => {
      const r = rates.get(t.name) as { perSecond: number[]; errors: number };
      const median = summarize(r.perSecond).median;
      return [t.name, median.toFixed(0), t === direct ? "" : `${(median / directRate).toFixed(2)}x`, String(r.errors), t === anchor ? ">= 0.8x, 0 errors" : ""];
    }),
  );

  console.log(`\nDiscovery scale: new-connection latency with ${STALE_DIRECTORIES} stale ssh-* directories and 500 other-host sockets`);
  printTable(["daemon", "median", "range", "ratio", "target"], [row("clean", s(scale, anchor.name), undefined, "µs"), row("crowded", s(scale, crowded.name), s(scale, anchor.name), "µs", "< 1.10x")]);

  console.log("\nStart-up: spawning `ssh-anchor run` until its socket accepts connections");
  printTable(
    ["daemon", "median", "range", "ratio", "target"],
    [
      row("clean", summarize(startups.get("clean") ?? []), undefined, "ms"),
      row(`among ${STALE_DIRECTORIES} stale dirs, 500 other-host sockets`, summarize(startups.get("crowded") ?? []), summarize(startups.get("clean") ?? []), "ms"),
    ],
  );

  console.log("\nZombie first: a fresh request when the newest agent accepts but never answers and an older one is live");
  printTable(["measure", "median", "range", "ratio", "target"], [row("time to the answer", summarize(zombieFirst), undefined, "ms", "< 1000 ms")]);

  console.log(`\nMemory of the daemon (KiB): idle, and after ${MEMORY_REQUESTS} requests (half on one connection, half one connection each, in turn)`);
  printTable(
    ["when", "RssAnon", "PSS", "RSS", "fds", "target"],
    [
      ["idle", String(memoryIdle.rssAnonKiB), String(memoryIdle.pssKiB), String(memoryIdle.rssKiB), String(fdsBefore), "RssAnon <= 10240"],
      ["after", String(memoryAfter.rssAnonKiB), String(memoryAfter.pssKiB), String(memoryAfter.rssKiB), String(fdsAfter), "growth <= 2048"],
    ],
  );
  console.log(`then 3 rounds of ${MEMORY_REQUESTS / 4} connections, 64 at a time: RssAnon ${plateau.join(", ")} KiB (a high-water mark if flat)`);

  console.log(`\nShell start-up: bash -i -c exit, ${SHELL_RUNS} runs each, daemon running`);
  const shellNone = summarize(shells.none);
  printTable(
    ["rc file", "median", "range", "ratio", "target"],
    [
      row("no ssh-anchor", shellNone, undefined, "ms"),
      row('eval "$(ssh-anchor init bash)"', summarize(shells.eval), shellNone, "ms"),
      row(". ~/.ssh-anchor.sh (init saved once)", summarize(shells.sourced), shellNone, "ms", "<= 1.05x"),
    ],
  );

  const results = {
    date: new Date().toISOString(),
    node: process.version,
    rounds: ROUNDS,
    perRound: PER_ROUND,
    latencyMicros: {
      byPlacement: byPlacement.map((p) => ({ placement: p.placement, identities: summaries(p.identities), freshConnection: summaries(p.fresh) })),
      sign: summaries(signs),
      sshAdd: summaries(sshAdds),
      scale: summaries(scale),
    },
    throughput: Object.fromEntries([...rates].map(([k, v]) => [k, { ...summarize(v.perSecond), errors: v.errors }])),
    memoryKiB: { idle: memoryIdle, after: memoryAfter, requests: MEMORY_REQUESTS, fdsBefore, fdsAfter, burstPlateau: plateau },
    startupMicros: { clean: summarize(startups.get("clean") ?? []), crowded: summarize(startups.get("crowded") ?? []) },
    zombieFirstMicros: summarize(zombieFirst),
    shellMicros: { none: summarize(shells.none), eval: summarize(shells.eval), sourced: summarize(shells.sourced) },
  };
  console.log(`\nresults: ${await writeResults("switcher", results)}`);
  const colors = ["#1f77b4", "#d62728", "#7f7f7f", "#2ca02c", "#9467bd"];
  const chart = latencyChart([
    { title: "REQUEST_IDENTITIES on one connection", series: targets.map((t, i) => ({ name: t.name, color: colors[i] as string, samples: identities.get(t.name) ?? [] })) },
    { title: "a new connection per request", series: targets.map((t, i) => ({ name: t.name, color: colors[i] as string, samples: fresh.get(t.name) ?? [] })) },
  ]);
  // A quick run's chart stays with the results; the full run's is the one docs/ shows.
  const chartPath = QUICK ? join(RESULTS_DIR, "bench-latency-quick.svg") : fileURLToPath(new URL("../docs/bench-latency.svg", import.meta.url));
  await writeFile(chartPath, chart);
  console.log(`chart: ${chartPath}`);
}

try {
  await main();
} finally {
  await cleanup.run();
}
