import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { socketAcceptsConnections } from "../../src/shared/core/dial.js";
import { TIMING } from "../../src/shared/core/timing.js";
import { waitFor } from "../../test/helpers/process.js";
import { REQUEST_IDENTITIES_MESSAGE } from "../../src/shared/protocol/encode.js";
import { RawAgentClient, timeFreshConnection } from "../agent-client.js";
import { memoryOf, openDescriptors } from "../system.js";
import { MEMORY_REQUESTS } from "./settings.js";
import { startDaemon, startProcess, type Bench } from "./targets.js";

type Memory = Awaited<ReturnType<typeof memoryOf>>;

export interface MemoryUse {
  readonly idle: Memory;
  /** The naive Node relay (bench/naive-proxy.mjs), idle, read at the same moment. */
  readonly naiveIdle: Memory;
  readonly after: Memory;
  readonly fdsBefore: number;
  readonly fdsAfter: number;
  /** RssAnon (KiB) after each burst of connections. */
  readonly plateau: number[];
}

/** Step 5: the daemon's memory idle, after a long run of requests, and after bursts. */
export async function measureMemory({ base, tmpRoot, home }: Bench): Promise<MemoryUse> {
  // The daemon looks at its memory every 5 s and hands it back once a burst is over: the
  // figures "after" are read once two of its checks have passed since the traffic stopped.
  const settle = () => new Promise((resolve) => setTimeout(resolve, 11_000));
  // A daemon of its own: "idle" means before any traffic, after start-up has settled (the
  // daemon collects start-up's garbage at its first memory check with no traffic since the last:
  // the second, as waiting for its socket was traffic). The naive relay
  // beside it, started at the same time and read at the same moment.
  const quiet = await startDaemon("ssh-anchor (memory)", join(base, "m", "agent.sock"), tmpRoot, home);
  const naivePath = join(base, "naive-memory.sock");
  const naive = startProcess(process.execPath, [fileURLToPath(new URL("../naive-proxy.mjs", import.meta.url)), naivePath, join(base, "no-agent.sock")]);
  await waitFor("the naive relay", () => socketAcceptsConnections(naivePath, 500), 10_000);
  await new Promise((resolve) => setTimeout(resolve, 2 * TIMING.memoryCheckMs + 1000));
  const idle = await memoryOf(quiet.pid as number);
  const naiveIdle = await memoryOf(naive.pid as number);
  naive.kill();
  const fdsBefore = await openDescriptors(quiet.pid as number);
  const client = await RawAgentClient.open(quiet.path);
  for (let i = 0; i < MEMORY_REQUESTS / 2; i++) await client.request(REQUEST_IDENTITIES_MESSAGE);
  client.close();
  for (let i = 0; i < MEMORY_REQUESTS / 2; i++) await timeFreshConnection(quiet.path, REQUEST_IDENTITIES_MESSAGE);
  await settle();
  const after = await memoryOf(quiet.pid as number);
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
  return { idle, naiveIdle, after, fdsBefore, fdsAfter, plateau };
}
