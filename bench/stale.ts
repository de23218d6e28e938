/**
 * Stale sockets (issue 21): dead logins' sockets that refuse connections pile up, in /tmp
 * (OpenSSH <= 10.0: /tmp/ssh-XXXX/agent.<pid>, the pid gone) and in ~/.ssh/agent (OpenSSH >= 10.1:
 * s.<hosthash>.sshd.<random>, which no reboot clears). The daemon is started with N of each
 * (default 2,000) and one live agent, made before all of them (the oldest socket: the worst case
 * for newest-first); then the first `ssh-add -l` is timed, and the daemon says how many dead
 * candidates that request tried in turn (status --json, `deadTriedMax`). Median over a few runs.
 *
 *   npm run bench:stale
 *   SSH_ANCHOR_BENCH_STALE=500 SSH_ANCHOR_BENCH_RUNS=3 npm run bench:stale
 */
import { spawn } from "node:child_process";
import { mkdir, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { askDaemon } from "../src/shared/control/client.js";
import type { StatusReport } from "../src/shared/control/status.js";
import { hostHash } from "../src/shared/discovery/host-hash.js";
import { socketAcceptsConnections } from "../src/shared/core/dial.js";
import { addKey, makeKey, startAgent, sshAdd } from "../test/helpers/agent.js";
import { BIN, Cleanup, run, tempDir, waitFor } from "../test/helpers/process.js";
import { makeStaleSockets, staleSandboxDirs } from "../test/helpers/stale.js";
import { printTable, summarize, writeResults } from "./report.js";

const STALE = Number(process.env.SSH_ANCHOR_BENCH_STALE ?? 2000);
const RUNS = Number(process.env.SSH_ANCHOR_BENCH_RUNS ?? 5);
/** No process has a pid above the largest pid_max (2^22): a dead login's sshd. */
const DEAD_PID = 4_194_304 + 1000;

interface Measured {
  readonly acceptingMs: number;
  readonly firstMs: number;
  readonly deadTried: number | undefined;
  readonly staleCounted: number | undefined;
}

async function fixture(cleanup: Cleanup, layouts: readonly ("tmp" | "home")[], liveLooksStale: boolean): Promise<{ home: string; tmpRoot: string; live: string }> {
  const { base, home, tmpRoot, agentDir } = await staleSandboxDirs(cleanup);
  const tag = hostHash();
  // The live agent where a new login's would be. liveLooksStale: bound under another spelling
  // of its path (through a symlink), /proc/net/unix does not show it where the daemon looks (as a
  // listener in another network namespace): every candidate is a suspect, the checks find it.
  const live = join(agentDir, `s.${tag}.sshd.live0000000`);
  if (liveLooksStale) await symlink(home, join(base, "home-link"));
  await startAgent(cleanup, liveLooksStale ? join(base, "home-link", ".ssh", "agent", `s.${tag}.sshd.live0000000`) : live);
  await addKey(live, await makeKey(base, "live-key"));
  const stale: string[] = [];
  if (layouts.includes("tmp")) {
    for (let i = 0; i < STALE; i++) {
      const directory = join(tmpRoot, `ssh-stale${String(i).padStart(5, "0")}`);
      await mkdir(directory, { mode: 0o700 });
      stale.push(join(directory, `agent.${DEAD_PID + i}`));
    }
  }
  if (layouts.includes("home")) for (let i = 0; i < STALE; i++) stale.push(join(agentDir, `s.${tag}.sshd.stale${String(i).padStart(6, "0")}`));
  await makeStaleSockets(stale);
  return { home, tmpRoot, live };
}

async function measure(cleanup: Cleanup, home: string, tmpRoot: string): Promise<Measured> {
  const base = await tempDir("anchor-stale-daemon-");
  cleanup.add(() => run("rm", ["-rf", base]));
  const socket = join(base, "agent.sock");
  const logFile = join(base, "log");
  await writeFile(logFile, "");
  const env = { ...process.env, HOME: home };
  const started = performance.now();
  const child = spawn(BIN, ["run", "--socket", socket, "--tmp-dir", tmpRoot, "--log-file", logFile, "--verbose"], { stdio: "ignore", env });
  cleanup.add(() => child.kill("SIGKILL"));
  await waitFor("the daemon to answer", () => socketAcceptsConnections(socket, 200), 60_000, 2);
  const acceptingMs = performance.now() - started;
  const begun = performance.now();
  const listed = await sshAdd(socket, ["-l"], 60_000);
  const firstMs = performance.now() - begun;
  if (!listed.stdout.includes("live-key")) throw new Error(`the first ssh-add -l did not list the live key: ${listed.stdout}${listed.stderr}`);
  // The control socket directly: `status --json` lists every one of the thousands of candidates.
  const report = await askDaemon<StatusReport>(`${socket}.ctl`, "status", 60_000);
  child.kill("SIGTERM");
  return { acceptingMs, firstMs, deadTried: report.connections.deadTriedMax, staleCounted: report.staleSockets?.count };
}

async function main(): Promise<void> {
  const cleanup = new Cleanup();
  const rows: string[][] = [];
  const results: Record<string, unknown> = {};
  try {
    const cases = [
      [["tmp"], false],
      [["home"], false],
      [["tmp", "home"], false],
      [["tmp", "home"], true],
    ] as const;
    for (const [layouts, liveLooksStale] of cases) {
      const name = `${layouts.join("+")}${liveLooksStale ? ", live looks stale" : ""}`;
      const { home, tmpRoot } = await fixture(cleanup, layouts, liveLooksStale);
      const runs: Measured[] = [];
      for (let i = 0; i < RUNS; i++) runs.push(await measure(cleanup, home, tmpRoot));
      const first = summarize(runs.map((m) => m.firstMs));
      const accepting = summarize(runs.map((m) => m.acceptingMs));
      const dead = runs.map((m) => m.deadTried ?? NaN);
      results[name] = { stale: STALE, runs };
      rows.push([
        `${STALE} in ${layouts.map((l) => (l === "tmp" ? "/tmp" : "~/.ssh/agent")).join(" and ")}${liveLooksStale ? "; live one's path hidden" : ""}`,
        `${accepting.median.toFixed(0)} (${accepting.min.toFixed(0)}..${accepting.max.toFixed(0)})`,
        `${first.median.toFixed(0)} (${first.min.toFixed(0)}..${first.max.toFixed(0)})`,
        dead.every(Number.isNaN) ? "-" : String(Math.max(...dead)),
        String(runs[0]?.staleCounted ?? "-"),
      ]);
    }
    console.log(`Stale sockets: daemon start, then the first ssh-add -l (${RUNS} runs, median (range) ms); the live agent is the oldest socket`);
    printTable(["stale sockets", "socket answers ms", "first ssh-add -l ms", "dead tried (max)", "stale counted"], rows);
    console.log(`results: ${await writeResults("stale", results)}`);
  } finally {
    await cleanup.run();
  }
}

await main();
