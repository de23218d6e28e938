/**
 * The switcher measured against direct agent access, in one run on one machine, with the
 * compared paths interleaved so that machine noise hits them alike:
 *
 *   npm run bench            (SSH_ANCHOR_BENCH_ALT=/path/to/other-switcher to add one)
 *
 * Prints tables of medians (min, max) and ratios to direct, writes bench/results/switcher.json,
 * and draws docs/bench-latency.svg. Nothing here is a pass/fail test: targets are printed beside
 * the figures. Each step is a file of bench/switcher/.
 */
import { measureConcurrency } from "./switcher/concurrency.js";
import { measureDiscoveryScale } from "./switcher/discovery-scale.js";
import { measureMemory } from "./switcher/memory.js";
import { measureOverhead } from "./switcher/overhead.js";
import { drawChart, printReport, saveResults } from "./switcher/report.js";
import { measureShellStartup } from "./switcher/shell-startup.js";
import { cleanup, prepareBench, startTargets } from "./switcher/targets.js";
import { measureZombieFirst } from "./switcher/zombie-first.js";

async function main(): Promise<void> {
  const bench = await prepareBench();
  const targets = await startTargets(bench);
  console.error("1/7 proxy overhead...");
  const overhead = await measureOverhead(targets.all, bench.key);
  console.error("2/7 concurrency...");
  const rates = await measureConcurrency(targets.all);
  console.error("3/7 discovery scale...");
  const discovery = await measureDiscoveryScale(bench, targets.anchor);
  console.error("4/7 zombie first...");
  const zombieFirst = await measureZombieFirst(bench);
  console.error("5/7 memory...");
  const memory = await measureMemory(bench);
  console.error("6/7 shell start-up...");
  const shells = await measureShellStartup(bench, targets.anchor);
  console.error("7/7 report...");
  const measured = { targets, overhead, rates, discovery, zombieFirst, memory, shells };
  printReport(measured);
  await saveResults(measured);
  await drawChart(measured);
}

try {
  await main();
} finally {
  await cleanup.run();
}
