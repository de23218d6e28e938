import { spawnSync } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { REQUEST_IDENTITIES_MESSAGE } from "../../src/shared/protocol/encode.js";
import { hostHash } from "../../src/shared/discovery/host-hash.js";
import { addKey, startAgent } from "../../test/helpers/agent.js";
import { timeFreshConnection } from "../agent-client.js";
import { freshConnections, interleaved, type Samples } from "./overhead.js";
import { QUICK, STALE_DIRECTORIES } from "./settings.js";
import { cleanup, startDaemon, type Bench, type Target } from "./targets.js";

/** A session directory left by a crashed sshd: the socket file is there, nothing listens. */
function makeStaleDirectories(root: string, count: number): void {
  const script = `
import os, socket, sys
root, count = sys.argv[1], int(sys.argv[2])
for i in range(count):
    d = os.path.join(root, "ssh-Stale%05d" % i)
    os.mkdir(d, 0o700)
    s = socket.socket(socket.AF_UNIX)
    s.bind(os.path.join(d, "agent.%d" % (3000000 + i)))
    s.close()
`;
  const result = spawnSync("python3", ["-c", script, root, String(count)]);
  if (result.status !== 0) throw new Error(`making stale directories failed: ${result.stderr}`);
}

export interface DiscoveryScale {
  /** Start-up times (µs), "clean" and "crowded". */
  readonly startups: Samples;
  /** New-connection latency of `anchor` and of the crowded daemon. */
  readonly scale: Samples;
  readonly crowded: Target;
}

/** Step 3: start-up and new connections among thousands of stale session directories. */
export async function measureDiscoveryScale({ base, tmpRoot, home, key }: Bench, anchor: Target): Promise<DiscoveryScale> {
  const staleRoot = join(base, "stale-tmp");
  const staleHome = join(base, "stale-home");
  await mkdir(staleRoot, { mode: 0o700 });
  await mkdir(join(staleHome, ".ssh", "agent"), { recursive: true, mode: 0o700 });
  // A live agent older than every stale socket: they all rank before it, the worst case.
  const liveDir = join(staleRoot, "ssh-LiveAgent");
  const liveAgent = await startAgent(cleanup, join(liveDir, "agent.9000001"));
  await addKey(liveAgent.path, key);
  makeStaleDirectories(staleRoot, STALE_DIRECTORIES);
  const otherHost = hostHash() === "aaaaaaaaaa" ? "bbbbbbbbbb" : "aaaaaaaaaa";
  await Promise.all(Array.from({ length: 500 }, (_, i) => writeFile(join(staleHome, ".ssh", "agent", `s.${otherHost}.sshd.${String(i).padStart(10, "0")}`), "")));
  // Start-up: from spawning `ssh-anchor run` to its socket accepting connections (Node's own
  // start included), clean and among the junk, alternated.
  const startups: Samples = new Map([["clean", []], ["crowded", []]]);
  for (let round = 0; round < (QUICK ? 3 : 5); round++) {
    for (const [label, root, dirHome] of [["clean", tmpRoot, home], ["crowded", staleRoot, staleHome]] as const) {
      const started = performance.now();
      const probe = await startDaemon(`start-up ${label}`, join(base, `s${round}-${label}`, "agent.sock"), root, dirHome);
      startups.get(label)?.push((performance.now() - started) * 1000);
      process.kill(probe.pid as number, "SIGTERM");
    }
  }
  const crowded = await startDaemon("ssh-anchor, 2,000 stale dirs", join(base, "c", "agent.sock"), staleRoot, staleHome);
  // The first connection meets every stale socket once and marks them dead; steady state after.
  await timeFreshConnection(crowded.path, REQUEST_IDENTITIES_MESSAGE);
  const scale = await interleaved([anchor, crowded], freshConnections);
  return { startups, scale, crowded };
}
