/**
 * What another user's junk in /tmp costs the daemon (issue 9): N empty `ssh-*` directories owned
 * by someone else, in a stand-in for /tmp, against the same daemon with none. Reports start-up
 * time (until the socket answers), private memory (RssAnon) after start and after a full rescan,
 * and the time the rescan took. Needs root (to own the junk as another uid).
 *
 *   npm run bench:junk            # 100,000 directories
 *   SSH_ANCHOR_BENCH_JUNK=1000000 npm run bench:junk
 */
import { spawn } from "node:child_process";
import { chown, mkdir } from "node:fs/promises";
import { join } from "node:path";
import { askDaemon } from "../src/shared/control/client.js";
import { socketAcceptsConnections } from "../src/shared/core/dial.js";
import { Cleanup, BIN, run, tempDir, waitFor } from "../test/helpers/process.js";
import { memoryOf } from "./system.js";
import { TIMING } from "../src/shared/core/timing.js";
import { printTable } from "./report.js";

const JUNK = Number(process.env.SSH_ANCHOR_BENCH_JUNK ?? 100_000);
/** Someone else: any uid but ours. */
const OTHER_UID = 65534;

async function fillWithJunk(root: string, count: number): Promise<void> {
  for (let i = 0; i < count; i += 1000) {
    await Promise.all(
      Array.from({ length: Math.min(1000, count - i) }, async (_, j) => {
        const directory = join(root, `ssh-junk${i + j}`);
        await mkdir(directory, { mode: 0o700 });
        await chown(directory, OTHER_UID, OTHER_UID);
      }),
    );
  }
}

interface Measured {
  readonly startMs: number;
  readonly walkMs: number;
  readonly cachedMs: number;
  readonly rssAnonKiB: number;
  /** Two of the daemon's memory checks later: what it keeps, not the walk's garbage. */
  readonly settledKiB: number;
}

async function measure(cleanup: Cleanup, tmpRoot: string): Promise<Measured> {
  const base = await tempDir("anchor-junk-daemon-");
  cleanup.add(() => run("rm", ["-rf", base]));
  const socket = join(base, "agent.sock");
  const started = performance.now();
  const child = spawn(BIN, ["run", "--socket", socket, "--tmp-dir", tmpRoot], { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, HOME: base } });
  cleanup.add(() => child.kill("SIGKILL"));
  child.stderr.resume();
  await waitFor("the daemon to answer", () => socketAcceptsConnections(socket, 200), 120_000, 5);
  const startMs = performance.now() - started;
  await waitFor("the control socket", () => socketAcceptsConnections(`${socket}.ctl`, 200), 120_000, 5);
  // The control socket's "rescan" answers once a full scan has finished. A new entry in the tmp
  // root makes it walk the root again; without one, the listing of the last scan stands.
  const rescan = async () => {
    const begun = performance.now();
    await askDaemon(`${socket}.ctl`, "rescan", 120_000);
    return performance.now() - begun;
  };
  await rescan();
  await mkdir(join(tmpRoot, `changed-${process.pid}-${performance.now()}`));
  const walkMs = await rescan();
  const cachedMs = await rescan();
  const { rssAnonKiB } = await memoryOf(child.pid as number);
  // The walk's garbage goes within two memory checks (V8's own collections; measured).
  await new Promise((resolve) => setTimeout(resolve, 2 * TIMING.memoryCheckMs + 1000));
  const settledKiB = (await memoryOf(child.pid as number)).rssAnonKiB;
  child.kill("SIGTERM");
  return { startMs, walkMs, cachedMs, rssAnonKiB, settledKiB };
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error("bench:junk needs root: the junk must belong to another uid");
  const cleanup = new Cleanup();
  try {
    const empty = await tempDir("anchor-junk-empty-");
    const junk = await tempDir("anchor-junk-full-");
    cleanup.add(() => run("rm", ["-rf", empty, junk]));
    const filling = performance.now();
    await fillWithJunk(junk, JUNK);
    console.log(`made ${JUNK} directories of uid ${OTHER_UID} in ${((performance.now() - filling) / 1000).toFixed(1)} s`);
    const clean = await measure(cleanup, empty);
    const dirty = await measure(cleanup, junk);
    printTable(
      ["/tmp holds", "socket answers ms", "rescan, /tmp changed ms", "rescan, unchanged ms", "RssAnon KiB", "settled KiB"],
      [clean, dirty].map((m, i) => [i ? `${JUNK} foreign ssh-*` : "nothing", m.startMs.toFixed(0), m.walkMs.toFixed(0), m.cachedMs.toFixed(0), String(m.rssAnonKiB), String(m.settledKiB)]),
    );
    console.log(
      `added by the junk: ${(dirty.walkMs - clean.walkMs).toFixed(0)} ms per walk of /tmp (the first one runs while the socket already answers; target < 1000), ` +
        `private memory ${((dirty.rssAnonKiB - clean.rssAnonKiB) / 1024).toFixed(1)} MiB right after the walks, ` +
        `${((dirty.settledKiB - clean.settledKiB) / 1024).toFixed(1)} MiB once settled (target < 20)`,
    );
  } finally {
    await cleanup.run();
  }
}

await main();
