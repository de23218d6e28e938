import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { latencyChart } from "../chart.js";
import { printTable, RESULTS_DIR, summarize, writeResults, type Summary } from "../report.js";
import type { Rates } from "./concurrency.js";
import type { DiscoveryScale } from "./discovery-scale.js";
import type { MemoryUse } from "./memory.js";
import type { Overhead, Samples } from "./overhead.js";
import { CONCURRENT_CLIENTS, CONCURRENT_MS, MEMORY_REQUESTS, PER_ROUND, QUICK, ROUNDS, SHELL_RUNS, STALE_DIRECTORIES } from "./settings.js";
import type { ShellStartup } from "./shell-startup.js";
import { NAIVE, type Targets } from "./targets.js";

/** Everything the steps measured. */
export interface Measured {
  readonly targets: Targets;
  readonly overhead: Overhead;
  readonly rates: Rates;
  readonly discovery: DiscoveryScale;
  readonly zombieFirst: number[];
  readonly memory: MemoryUse;
  readonly shells: ShellStartup;
}

const summaries = (map: Samples) => Object.fromEntries([...map].map(([name, samples]) => [name, summarize(samples)]));
const s = (map: Samples, name: string) => summarize(map.get(name) ?? []);

function row(name: string, summary: Summary, base: Summary | undefined, unit: "µs" | "ms", target?: string): string[] {
  const scale = unit === "ms" ? 1000 : 1;
  const f = (v: number) => (v / scale).toFixed(unit === "ms" ? 1 : 0);
  const ratio = base ? `${(summary.median / base.median).toFixed(2)}x` : "";
  return [name, `${f(summary.median)} ${unit}`, `${f(summary.min)}..${f(summary.max)}`, ratio, target ?? ""];
}

/** Step 7: the tables on stdout, with the targets beside the figures. */
export function printReport({ targets: { direct, anchor, all: targets }, overhead, rates, discovery, zombieFirst, memory, shells }: Measured): void {
  // The floor any Node relay starts from: its ratio is the one the relay's own targets are on.
  const naive = targets.find((t) => t.name === NAIVE);
  const overheadRows = (measures: ReadonlyArray<readonly [string, Samples, "µs" | "ms", string]>) =>
    measures.flatMap(([title, map, unit, goal]) =>
      targets.map((target) => {
        const baseline = target === direct ? undefined : s(map, direct.name);
        const cells = row(`${title}: ${target.name}`, s(map, target.name), baseline, unit, target === anchor ? goal : undefined);
        const toNaive = naive && target !== direct ? `${(s(map, target.name).median / s(map, naive.name).median).toFixed(2)}x` : "";
        return [...cells.slice(0, 4), toNaive, cells[4] as string];
      }),
    );
  for (const { placement, identities: oneConn, fresh: freshConn } of overhead.byPlacement) {
    console.log(`\nProxy overhead, ${placement.name} (median, min..max, ratio to direct)`);
    printTable(
      ["measure", "median", "range", "ratio", "to naive", "target"],
      overheadRows([
        ["REQUEST_IDENTITIES, one connection", oneConn, "µs", "<= 1.3x; <= 1.05x naive"],
        ["new connection per request", freshConn, "µs", "<= 1.8x; <= 1.10x naive"],
      ]),
    );
  }
  console.log("\nWhat users run, as the scheduler places them (median, min..max, ratio to direct)");
  printTable(
    ["measure", "median", "range", "ratio", "to naive", "target"],
    overheadRows([
      ["ed25519 SIGN_REQUEST, one connection", overhead.signs, "µs", ""],
      ["ssh-add -l (whole process)", overhead.sshAdds, "ms", ""],
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

  const { scale, startups, crowded } = discovery;
  console.log(`\nDiscovery scale: new-connection latency with ${STALE_DIRECTORIES} stale ssh-* directories and 500 other-host sockets`);
  printTable(["daemon", "median", "range", "ratio", "target"], [row("clean", s(scale, anchor.name), undefined, "µs"), row("crowded", s(scale, crowded.name), s(scale, anchor.name), "µs", "< 1.10x")]);

  console.log("\nStart-up: spawning `ssh-anchor run` until its socket accepts connections");
  printTable(
    ["daemon", "median", "range", "ratio", "target"],
    [
      row("clean", s(startups, "clean"), undefined, "ms"),
      row(`among ${STALE_DIRECTORIES} stale dirs, 500 other-host sockets`, s(startups, "crowded"), s(startups, "clean"), "ms"),
    ],
  );

  console.log("\nZombie first: a fresh request when the newest agent accepts but never answers and an older one is live");
  printTable(["measure", "median", "range", "ratio", "target"], [row("time to the answer", summarize(zombieFirst), undefined, "ms", "< 1000 ms")]);

  const { idle, naiveIdle, after, fdsBefore, fdsAfter, plateau } = memory;
  console.log(`\nMemory of the daemon (KiB): idle, and after ${MEMORY_REQUESTS} requests (half on one connection, half one connection each, in turn)`);
  printTable(
    ["when", "RssAnon", "PSS", "RSS", "fds", "target"],
    [
      ["idle", String(idle.rssAnonKiB), String(idle.pssKiB), String(idle.rssKiB), String(fdsBefore), `RssAnon <= 10240 and <= naive + 512 (${naiveIdle.rssAnonKiB + 512})`],
      ["naive Node relay, idle", String(naiveIdle.rssAnonKiB), String(naiveIdle.pssKiB), String(naiveIdle.rssKiB), "", ""],
      ["after", String(after.rssAnonKiB), String(after.pssKiB), String(after.rssKiB), String(fdsAfter), "growth <= 2048"],
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
}

/** Writes bench/results/switcher.json and prints its path. */
export async function saveResults({ overhead, rates, discovery, zombieFirst, memory, shells }: Measured): Promise<void> {
  const results = {
    date: new Date().toISOString(),
    node: process.version,
    rounds: ROUNDS,
    perRound: PER_ROUND,
    latencyMicros: {
      byPlacement: overhead.byPlacement.map((p) => ({ placement: p.placement, identities: summaries(p.identities), freshConnection: summaries(p.fresh) })),
      sign: summaries(overhead.signs),
      sshAdd: summaries(overhead.sshAdds),
      scale: summaries(discovery.scale),
    },
    throughput: Object.fromEntries([...rates].map(([k, v]) => [k, { ...summarize(v.perSecond), errors: v.errors }])),
    memoryKiB: { idle: memory.idle, naiveIdle: memory.naiveIdle, after: memory.after, requests: MEMORY_REQUESTS, fdsBefore: memory.fdsBefore, fdsAfter: memory.fdsAfter, burstPlateau: memory.plateau },
    startupMicros: { clean: s(discovery.startups, "clean"), crowded: s(discovery.startups, "crowded") },
    zombieFirstMicros: summarize(zombieFirst),
    shellMicros: { none: summarize(shells.none), eval: summarize(shells.eval), sourced: summarize(shells.sourced) },
  };
  console.log(`\nresults: ${await writeResults("switcher", results)}`);
}

/** Draws the latency chart (as the scheduler places the processes) and prints its path. */
export async function drawChart({ targets: { all: targets }, overhead }: Measured): Promise<void> {
  const { identities, fresh } = overhead.byPlacement[0] as Overhead["byPlacement"][number];
  const colors = ["#1f77b4", "#d62728", "#7f7f7f", "#2ca02c", "#9467bd"];
  const chart = latencyChart([
    { title: "REQUEST_IDENTITIES on one connection", series: targets.map((t, i) => ({ name: t.name, color: colors[i] as string, samples: identities.get(t.name) ?? [] })) },
    { title: "a new connection per request", series: targets.map((t, i) => ({ name: t.name, color: colors[i] as string, samples: fresh.get(t.name) ?? [] })) },
  ]);
  // A quick run's chart stays with the results; the full run's is the one docs/ shows.
  const chartPath = QUICK ? join(RESULTS_DIR, "bench-latency-quick.svg") : fileURLToPath(new URL("../../docs/bench-latency.svg", import.meta.url));
  await writeFile(chartPath, chart);
  console.log(`chart: ${chartPath}`);
}
