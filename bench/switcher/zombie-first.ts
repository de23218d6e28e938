import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { REQUEST_IDENTITIES_MESSAGE } from "../../src/shared/protocol/encode.js";
import { addKey, startAgent } from "../../test/helpers/agent.js";
import { BIN, run, waitFor } from "../../test/helpers/process.js";
import { timeFreshConnection } from "../agent-client.js";
import { QUICK } from "./settings.js";
import { cleanup, startDaemon, type Bench } from "./targets.js";

/**
 * Step 4: the newest agent accepts connections but never answers (SIGSTOPped, as a sleeping
 * laptop's login), an older one is live: time (µs) to a whole answer on a fresh connection,
 * each round with a new pair of agents and a daemon of its own.
 */
export async function measureZombieFirst({ base, key }: Bench): Promise<number[]> {
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
  return zombieFirst;
}
