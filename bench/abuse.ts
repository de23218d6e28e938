/**
 * The routing core under stress, through a real sshd and a real forwarded agent (needs root):
 *
 *   sudo npm run bench:abuse            (SSH_ANCHOR_BENCH_QUICK=1 for smaller sizes)
 *
 * A private sshd, an `ssh -A` login whose laptop agent holds 65 keys (about 6 KB per identities
 * answer), the daemon started by the login's rc line. Measured, each time for the forwarded
 * socket directly and through ssh-anchor at the same moment:
 * - a fresh request while 200 connections each pipeline 64 REQUEST_IDENTITIES and never read;
 * - a fresh request right after 10,000 short connections of seeded garbage, 8 at a time;
 * - time to answer when the newest login is a zombie (its laptop's ssh SIGSTOPped);
 * - the daemon's pid and private memory before and after.
 * Prints a table and writes bench/results/abuse.json. Nothing here is pass/fail.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { addManyKeys, garbageBurst, holdNonReaders, timeRequest, type Timed } from "../test/helpers/abuse.js";
import { Cleanup, run, tempDir, waitFor } from "../test/helpers/process.js";
import { startTestHost } from "../test/helpers/sshd.js";
import { socketAcceptsConnections } from "../src/shared/core/dial.js";
import { printTable, writeResults } from "./report.js";
import { memoryOf } from "./system.js";

const QUICK = process.env.SSH_ANCHOR_BENCH_QUICK === "1";
const HOLDERS = QUICK ? 50 : 200;
const PIPELINED = 64;
const GARBAGE = QUICK ? 2000 : 10_000;
const BOUND_MS = 15_000;

const cleanup = new Cleanup();

async function both(direct: string, anchor: string): Promise<{ direct: Timed; anchor: Timed }> {
  const [d, a] = await Promise.all([timeRequest(direct, BOUND_MS), timeRequest(anchor, BOUND_MS)]);
  return { direct: d, anchor: a };
}

const fmt = (t: Timed) => (Number.isFinite(t.ms) ? `${t.ms.toFixed(0)} ms (${t.keys} keys)` : `no answer in ${BOUND_MS / 1000} s`);

async function main(): Promise<void> {
  const host = await startTestHost(cleanup);
  const keys = await tempDir("anchor-keys-");
  cleanup.add(() => run("rm", ["-rf", keys]));
  await addManyKeys(host.laptopAgent.path, keys, 64);
  const login = await host.login();
  const socket = host.stableSocket;
  await waitFor("the daemon", () => socketAcceptsConnections(socket, 500), 10_000);
  const pid = Number((await readFile(`${socket}.pid`, "utf8")).trim());
  const memoryBefore = await memoryOf(pid);
  const rows: string[][] = [];
  const results: Record<string, unknown> = { quick: QUICK, holders: HOLDERS, pipelined: PIPELINED, garbage: GARBAGE };

  const calm = await both(login.forwardedSocket, socket);
  rows.push(["calm", fmt(calm.direct), fmt(calm.anchor)]);
  results.calm = calm;

  console.error(`1/3 ${HOLDERS} connections x ${PIPELINED} pipelined requests, never read...`);
  const held = await holdNonReaders(socket, HOLDERS, PIPELINED);
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const whileHeld = await both(login.forwardedSocket, socket);
  await new Promise((resolve) => setTimeout(resolve, 5000));
  const stillHeld = await both(login.forwardedSocket, socket);
  held.release();
  rows.push([`${HOLDERS} non-reading clients held, after 2 s`, fmt(whileHeld.direct), fmt(whileHeld.anchor)]);
  rows.push([`${HOLDERS} non-reading clients held, after 7 s`, fmt(stillHeld.direct), fmt(stillHeld.anchor)]);
  results.nonReaders = { after2s: whileHeld, after7s: stillHeld };
  await new Promise((resolve) => setTimeout(resolve, 1000));

  console.error(`2/3 ${GARBAGE} garbage connections, 8 at a time...`);
  const started = performance.now();
  const burst = garbageBurst(socket, GARBAGE, 8, 1234);
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const during = await both(login.forwardedSocket, socket);
  await burst;
  const burstMs = performance.now() - started;
  const afterBurst = await both(login.forwardedSocket, socket);
  rows.push([`during the garbage burst`, fmt(during.direct), fmt(during.anchor)]);
  rows.push([`right after the burst (${(burstMs / 1000).toFixed(1)} s)`, fmt(afterBurst.direct), fmt(afterBurst.anchor)]);
  results.garbage = { during, after: afterBurst, burstMs };

  console.error("3/3 the newest login a zombie...");
  const sleeper = await host.login();
  await new Promise((resolve) => setTimeout(resolve, 1000));
  sleeper.freeze();
  const zombieFirst = await timeRequest(socket, BOUND_MS);
  const zombieAgain = await timeRequest(socket, BOUND_MS);
  rows.push(["newest login a zombie: first request", "", fmt(zombieFirst)]);
  rows.push(["newest login a zombie: next request", "", fmt(zombieAgain)]);
  results.zombieFirst = { first: zombieFirst, next: zombieAgain };
  sleeper.thaw();

  const pidAfter = Number((await readFile(`${socket}.pid`, "utf8").catch(() => "0")).trim());
  await new Promise((resolve) => setTimeout(resolve, 11_000));
  const memoryAfter = await memoryOf(pid).catch(() => undefined);
  results.memoryKiB = { before: memoryBefore, after: memoryAfter };
  results.pid = { before: pid, after: pidAfter };

  console.log(`\nA fresh REQUEST_IDENTITIES (65 keys), the forwarded socket directly and through ssh-anchor at the same moment${QUICK ? " (quick sizes)" : ""}`);
  printTable(["situation", "direct", "ssh-anchor"], rows);
  console.log(
    `\ndaemon pid ${pid} -> ${pidAfter || "gone"}; RssAnon ${memoryBefore.rssAnonKiB} KiB before, ${memoryAfter?.rssAnonKiB ?? "?"} KiB 11 s after`,
  );
  const log = await readFile(`${socket}.log`, "utf8").catch(() => "");
  results.zombieLines = log.split("\n").filter((line) => /zombie/.test(line)).length;
  console.log(`log lines mentioning a zombie: ${results.zombieLines as number}`);
  console.log(`\nresults: ${await writeResults("abuse", results)}`);
  console.log(`log: ${join(socket)}.log`);
  if (process.env.SSH_ANCHOR_BENCH_SHOW_LOG) console.log(log.split("\n").slice(-40).join("\n"));
}

try {
  await main();
} finally {
  await cleanup.run();
}
