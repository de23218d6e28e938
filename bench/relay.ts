/**
 * The relay against its floor, quickly: direct access, ssh-anchor and the naive Node relay
 * (bench/naive-proxy.mjs), in interleaved rounds, with the idle memory of both relays.
 *
 *   npm run bench:relay [-- ROUNDS PER_ROUND]
 *
 * The same measures as `npm run bench`'s first step, without the rest (a look in a minute).
 */
import { REQUEST_IDENTITIES_MESSAGE } from "../src/shared/protocol/encode.js";
import { printTable, summarize } from "./report.js";
import { memoryOf } from "./system.js";
import { freshConnectionsOf, oneConnectionOf } from "./switcher/overhead.js";
import { cleanup, prepareBench, startTargets, type Target } from "./switcher/targets.js";

const [rounds = 6, perRound = 200] = process.argv.slice(2).map(Number);

async function interleave(targets: readonly Target[], batch: (target: Target) => Promise<number[]>): Promise<Map<string, number[]>> {
  const samples = new Map(targets.map((t) => [t.name, [] as number[]]));
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < targets.length; i++) {
      const target = targets[(round + i) % targets.length] as Target;
      samples.get(target.name)?.push(...(await batch(target)));
    }
  }
  return samples;
}

async function main(): Promise<void> {
  const bench = await prepareBench();
  const { all } = await startTargets(bench);
  const targets = all.filter((t) => t.name === "direct" || t.name === "ssh-anchor" || t.name === "naive Node pipe");
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const idle = await Promise.all(targets.slice(1).map(async (t) => [t.name, (await memoryOf(t.pid as number)).rssAnonKiB] as const));
  const one = await interleave(targets, (t) => oneConnectionOf(t, REQUEST_IDENTITIES_MESSAGE, perRound));
  const fresh = await interleave(targets, (t) => freshConnectionsOf(t, perRound));
  const median = (samples: number[] | undefined) => summarize(samples ?? []).median;
  const rows = (title: string, map: Map<string, number[]>) =>
    targets.map((t) => {
      const m = median(map.get(t.name));
      return [`${title}: ${t.name}`, `${m.toFixed(0)} µs`, `${(m / median(map.get("direct"))).toFixed(2)}x`, `${(m / median(map.get("naive Node pipe"))).toFixed(3)}x`];
    });
  printTable(["measure", "median", "to direct", "to naive"], [...rows("one connection", one), ...rows("new connection per request", fresh)]);
  console.log(`idle RssAnon (KiB): ${idle.map(([name, kib]) => `${name} ${kib}`).join(", ")}`);
}

try {
  await main();
} finally {
  await cleanup.run();
}
