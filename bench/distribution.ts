/**
 * The single executable against the npm install, and socket activation's price:
 *  - size on disk (and compressed, for copying to a host);
 *  - start-up of `--version`, `init bash` and `status` (median of 20 runs);
 *  - the idle daemon's private memory (RssAnon), each way;
 *  - under socket activation with an idle exit: the first connection after the daemon has exited
 *    (systemd's part played by test/helpers/socket-activator.py) against one to a running daemon.
 *
 *   npm run build && node scripts/build-sea.mjs && node --import tsx bench/distribution.ts
 */
import { execFileSync } from "node:child_process";
import { mkdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { startActivator } from "../test/helpers/activator.js";
import { addKey, makeKey, startAgent } from "../test/helpers/agent.js";
import { BIN, Cleanup, REPO, run, sleep, tempDir, waitFor } from "../test/helpers/process.js";
import { timeFreshConnection } from "./agent-client.js";
import { printTable, summarize, writeResults } from "./report.js";
import { memoryOf } from "./system.js";
import { DAEMON_NODE_FLAGS } from "../src/shared/control/lifecycle.js";
import { DAEMON_ENTRY } from "../src/shared/core/package-root.js";

const SEA = process.env.SSH_ANCHOR_SEA ?? join(REPO, "build", "ssh-anchor");
const CLI = join(REPO, "dist", "cli.js");
const RUNS = Number(process.env.RUNS ?? 20);
const REQUEST_IDENTITIES = Buffer.from([0, 0, 0, 1, 11]);
/** The daemon as the launcher and `start` run it: its own bundle, under its V8 flags. */
const NODE_DAEMON = [process.execPath, ...DAEMON_NODE_FLAGS, DAEMON_ENTRY];

const cleanup = new Cleanup();
const base = await tempDir("anchor-dist-");
cleanup.add(() => run("rm", ["-rf", base]));
const env = { ...process.env, HOME: join(base, "home"), SSH_ANCHOR_SOCKET: "", MALLOC_ARENA_MAX: "1" };
await mkdir(join(base, "home"), { mode: 0o700 });
await mkdir(join(base, "tmp"), { mode: 0o700 });
const results: Record<string, unknown> = {};
const ms = (value: number) => value.toFixed(1);

/** CPU time (user + system) of one run, from bash's `times` over RUNS runs: less sensitive than
 * wall time to what else the machine is doing. */
async function cpuPerRun(argv: readonly string[]): Promise<number> {
  const quoted = argv.map((word) => `'${word.replace(/'/g, "'\\''")}'`).join(" ");
  const result = await run("bash", ["-c", `for i in $(seq ${RUNS}); do ${quoted} >/dev/null; done; times`], { env, timeoutMs: 120_000 });
  const children = result.stdout.trim().split("\n").pop() ?? "";
  const seconds = [...children.matchAll(/(\d+)m([\d.]+)s/g)].reduce((sum, match) => sum + Number(match[1]) * 60 + Number(match[2]), 0);
  return (seconds * 1000) / RUNS;
}

try {
  // Size.
  const seaBytes = (await stat(SEA)).size;
  const seaGzip = gzipSync(await readFile(SEA), { level: 9 }).length;
  const pack = JSON.parse(execFileSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: REPO, encoding: "utf8" }))[0];
  const nodeBytes = (await stat(process.execPath)).size;
  const mib = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MiB`;
  results.size = { seaBytes, seaGzip, tarball: pack.size, unpacked: pack.unpackedSize, nodeBytes };
  printTable(
    ["what", "on disk", "compressed"],
    [
      ["single executable", mib(seaBytes), `${mib(seaGzip)} (gzip -9)`],
      ["npm package", `${(pack.unpackedSize / 1024).toFixed(0)} KiB`, `${(pack.size / 1024).toFixed(0)} KiB (.tgz)`],
      ["  + Node, needed beside it", mib(nodeBytes), ""],
    ],
  );
  console.log();

  // Start-up.
  const variants: Array<[string, string, string[]]> = [
    ["npm install (bin/ssh-anchor)", BIN, []],
    ["node dist/cli.js", process.execPath, [CLI]],
    ["single executable", SEA, []],
  ];
  const commands = [["--version"], ["init", "bash"], ["status", "--socket", join(base, "none", "agent.sock")]];
  const startup: Record<string, Record<string, number>> = {};
  const rows: string[][] = [];
  for (const [name, command, prefix] of variants) {
    startup[name] = {};
    const row = [name];
    for (const args of commands) {
      const samples: number[] = [];
      for (let i = 0; i < RUNS; i++) samples.push((await run(command, [...prefix, ...args], { env })).millis);
      const median = summarize(samples).median;
      const cpu = await cpuPerRun([command, ...prefix, ...args]);
      startup[name]![args.slice(0, 2).join(" ")] = median;
      startup[name]![`${args.slice(0, 2).join(" ")} cpu`] = cpu;
      row.push(`${ms(median)} ms / ${ms(cpu)} ms`);
    }
    rows.push(row);
  }
  results.startup = startup;
  printTable(["start-up: wall (median) / CPU", "--version", "init bash", "status (not running)"], rows);
  console.log();

  // The idle daemon's memory, and socket activation's first connection.
  const agent = await startAgent(cleanup, join(base, "tmp", "ssh-Bench", "agent.9000050"));
  await addKey(agent.path, await makeKey(base, "bench-key"));
  const daemons: Array<[string, string[]]> = [
    ["npm install (node + flags)", NODE_DAEMON],
    ["single executable", [SEA]],
  ];
  const activation: Record<string, unknown> = {};
  const activationRows: string[][] = [];
  let n = 0;
  for (const [name, command] of daemons) {
    const socket = join(base, `d${++n}`, "agent.sock");
    await mkdir(join(base, `d${n}`), { mode: 0o700 });
    const activator = await startActivator(cleanup, socket, [...command, "run", "--socket", socket, "--tmp-dir", join(base, "tmp"), "--idle-exit", "1"], env);
    const cold: number[] = [];
    const warm: number[] = [];
    let rssAnon = 0;
    for (let i = 1; i <= 10; i++) {
      cold.push((await timeFreshConnection(socket, REQUEST_IDENTITIES)) / 1000);
      for (let j = 0; j < 5; j++) warm.push((await timeFreshConnection(socket, REQUEST_IDENTITIES)) / 1000);
      if (i === 1) {
        const started = await activator.nth("started", 1);
        await sleep(800);
        rssAnon = (await memoryOf(started.pid)).rssAnonKiB;
      }
      await activator.nth("exited", i, 10_000);
      await waitFor("the socket to be idle", () => activator.count("started") === activator.count("exited"));
    }
    await activator.stop();
    const coldSummary = summarize(cold);
    const warmSummary = summarize(warm);
    activation[name] = { cold: coldSummary, warm: warmSummary, idleRssAnonKiB: rssAnon };
    activationRows.push([name, `${ms(coldSummary.median)} ms (${ms(coldSummary.min)}-${ms(coldSummary.max)})`, `${ms(warmSummary.median)} ms`, `${rssAnon} KiB`]);
  }
  results.activation = activation;
  printTable(["daemon", "first connection after an idle exit", "to a running daemon", "RssAnon while up"], activationRows);
  console.log(`\nresults: ${await writeResults("distribution", results)}`);
} finally {
  await cleanup.run();
}
