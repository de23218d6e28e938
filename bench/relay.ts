/**
 * The relay against its floor, quickly: direct access, ssh-anchor and the naive Node relay
 * (bench/naive-proxy.mjs), in interleaved rounds, with the idle memory of both relays.
 *
 *   npm run bench:relay [-- ROUNDS PER_ROUND]
 *   SSH_ANCHOR_BENCH_BEFORE=/path/to/other/checkout/bin/ssh-anchor npm run bench:relay
 *                            (adds that build's daemon, "ssh-anchor (before)", to every round)
 *   ANCHOR_FLAGS="--lite-mode,--max-semi-space-size=1" npm run bench:relay
 *                            (adds dist/daemon.js run under plain node with each set of flags, in
 *                            the environment `start` gives the daemon)
 *
 * Beside them, "naive, lazy" (bench/naive-lazy-proxy.mjs): the naive relay connecting upstream
 * only once the client's first bytes came, the floor of a relay that never opens a forwarded
 * channel for a client that sends nothing; and "naive, guarded" (bench/naive-guarded-proxy.mjs):
 * the naive relay doing only the work ssh-anchor's guarantees ask of each connection (a whole
 * first message before the upstream, the socket reached checked, messages counted both ways,
 * the temporary root's lstat a new login is found by, half-close kept both ways): the same
 * system calls per connection as ssh-anchor's. Besides the medians of all samples, each round's
 * median is divided by the naive relay's in the same round (adjacent batches meet the same load
 * on a shared machine): the median and quartiles of those ratios are the steadier figure.
 *
 * The same measures as `npm run bench`'s first step, without the rest (a look in a minute).
 */
import { REQUEST_IDENTITIES_MESSAGE } from "../src/shared/protocol/encode.js";
import { TIMING } from "../src/shared/core/timing.js";
import { printTable, summarize } from "./report.js";
import { memoryOf } from "./system.js";
import { freshConnectionsOf, oneConnectionOf } from "./switcher/overhead.js";
import { join } from "node:path";
import { socketAcceptsConnections } from "../src/shared/core/dial.js";
import { waitFor } from "../test/helpers/process.js";
import { cleanup, prepareBench, startProcess, startTargets, type Target } from "./switcher/targets.js";
import { DAEMON_ENV } from "../src/shared/control/lifecycle.js";

const [rounds = 6, perRound = 200] = process.argv.slice(2).map(Number);

/** Samples per target, and each round's median per target. */
interface Rounds {
  readonly samples: Map<string, number[]>;
  readonly medians: Map<string, number[]>;
}

async function interleave(targets: readonly Target[], batch: (target: Target) => Promise<number[]>): Promise<Rounds> {
  const samples = new Map(targets.map((t) => [t.name, [] as number[]]));
  const medians = new Map(targets.map((t) => [t.name, [] as number[]]));
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < targets.length; i++) {
      const target = targets[(round + i) % targets.length] as Target;
      const batchSamples = await batch(target);
      samples.get(target.name)?.push(...batchSamples);
      medians.get(target.name)?.push(summarize(batchSamples).median);
    }
  }
  return { samples, medians };
}

async function main(): Promise<void> {
  const bench = await prepareBench();
  const { all } = await startTargets(bench);
  const targets = all.filter((t) => t.name === "direct" || t.name === "ssh-anchor" || t.name === "naive Node pipe");
  const before = process.env.SSH_ANCHOR_BENCH_BEFORE;
  if (before) {
    const socket = join(bench.base, "before", "agent.sock");
    const child = startProcess(before, ["run", "--socket", socket, "--tmp-dir", bench.tmpRoot], { ...process.env, HOME: bench.home });
    await waitFor("the other build's daemon", () => socketAcceptsConnections(socket, 500), 10_000);
    targets.push({ name: "ssh-anchor (before)", path: socket, pid: child.pid });
  }
  for (const [i, flags] of (process.env.ANCHOR_FLAGS ?? "").split(",").filter(Boolean).entries()) {
    const socket = join(bench.base, `flags${i}`, "agent.sock");
    const daemon = new URL("../dist/daemon.js", import.meta.url).pathname;
    const child = startProcess(process.execPath, [...flags.split(" ").filter(Boolean), daemon, "run", "--socket", socket, "--tmp-dir", bench.tmpRoot], { ...process.env, ...DAEMON_ENV, HOME: bench.home });
    await waitFor("the daemon with flags", () => socketAcceptsConnections(socket, 500), 10_000);
    targets.push({ name: `ssh-anchor ${flags}`, path: socket, pid: child.pid });
  }
  for (const [name, file] of [
    ["naive, lazy", "naive-lazy-proxy.mjs"],
    ["naive, guarded", "naive-guarded-proxy.mjs"],
  ] as const) {
    const socket = join(bench.base, file.replace(/\.mjs$/, ".sock"));
    const child = startProcess(process.execPath, [new URL(`./${file}`, import.meta.url).pathname, socket, targets[0]!.path]);
    await waitFor(name, () => socketAcceptsConnections(socket, 500), 10_000);
    targets.push({ name, path: socket, pid: child.pid });
  }
  // Idle: once the daemon has collected start-up's garbage (at its first memory check with no
  // traffic since the last: the second, as waiting for its socket was traffic).
  await new Promise((resolve) => setTimeout(resolve, 2 * TIMING.memoryCheckMs + 1000));
  const idle = await Promise.all(targets.filter((t) => t.name !== "direct").map(async (t) => [t.name, (await memoryOf(t.pid as number)).rssAnonKiB] as const));
  const one = await interleave(targets, (t) => oneConnectionOf(t, REQUEST_IDENTITIES_MESSAGE, perRound));
  const fresh = await interleave(targets, (t) => freshConnectionsOf(t, perRound));
  const median = (samples: number[] | undefined) => summarize(samples ?? []).median;
  // Paired: each round's median against the naive relay's in the same round (adjacent batches
  // meet the same machine load), then the median and spread of those ratios over the rounds.
  const paired = (map: Rounds, name: string) => {
    const mine = map.medians.get(name) ?? [];
    const naive = map.medians.get("naive Node pipe") ?? [];
    const ratios = mine.map((m, i) => m / (naive[i] as number)).sort((a, b) => a - b);
    const q = (f: number) => (ratios[Math.floor(f * (ratios.length - 1))] as number).toFixed(3);
    return `${summarize(ratios).median.toFixed(3)}x (${q(0.25)}..${q(0.75)})`;
  };
  const rows = (title: string, map: Rounds) =>
    targets.map((t) => {
      const m = median(map.samples.get(t.name));
      return [
        `${title}: ${t.name}`,
        `${m.toFixed(0)} µs`,
        `${(m / median(map.samples.get("direct"))).toFixed(2)}x`,
        `${(m / median(map.samples.get("naive Node pipe"))).toFixed(3)}x`,
        paired(map, t.name),
      ];
    });
  printTable(["measure", "median", "to direct", "to naive", "to naive, per round (quartiles)"], [...rows("one connection", one), ...rows("new connection per request", fresh)]);
  console.log(`idle RssAnon (KiB): ${idle.map(([name, kib]) => `${name} ${kib}`).join(", ")}`);
}

try {
  await main();
} finally {
  await cleanup.run();
}
