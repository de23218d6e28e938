import { spawnSync } from "node:child_process";
import { readFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { encodeMessage, REQUEST_IDENTITIES_MESSAGE } from "../../src/shared/protocol/encode.js";
import { MessageType } from "../../src/shared/protocol/messages.js";
import { sshAdd } from "../../test/helpers/agent.js";
import { run } from "../../test/helpers/process.js";
import { PER_ROUND, ROUNDS } from "./settings.js";
import type { Target } from "./targets.js";

/** Samples (µs) per target name. */
export type Samples = Map<string, number[]>;

/** Rounds of `batch` on every target in rotating order, so that machine noise hits them alike. */
export async function interleaved(targets: readonly Target[], batch: (target: Target) => Promise<number[]>): Promise<Samples> {
  const samples = new Map(targets.map((t) => [t.name, [] as number[]]));
  for (let round = 0; round < ROUNDS; round++) {
    for (let i = 0; i < targets.length; i++) {
      const target = targets[(round + i) % targets.length] as Target;
      samples.get(target.name)?.push(...(await batch(target)));
    }
  }
  return samples;
}

const LOAD = fileURLToPath(new URL("../load.py", import.meta.url));

/** Latencies (µs) measured by a separate Python process, as the research did: the client's own
 * overhead then weighs on every path alike, as a real client's would. */
async function pythonLoad(mode: "one-connection" | "fresh-connections", target: Target, count: number, message?: Buffer, cpu?: number): Promise<number[]> {
  const load = ["python3", LOAD, mode, target.path, String(count), ...(message ? [message.toString("hex")] : [])];
  const [command, ...args] = cpu === undefined ? load : ["taskset", "-c", String(cpu), ...load];
  const result = await run(command as string, args, { timeoutMs: 120_000 });
  if (result.code !== 0) throw new Error(`load.py ${mode} on ${target.name} failed: ${result.stderr}`);
  return JSON.parse(result.stdout) as number[];
}

const oneConnection = (target: Target, message: Buffer, cpu?: number) => pythonLoad("one-connection", target, PER_ROUND, message, cpu);
export const freshConnections = (target: Target, cpu?: number) => pythonLoad("fresh-connections", target, PER_ROUND / 2, undefined, cpu);
/** The same, with the number of requests given (bench/relay.ts). */
export const oneConnectionOf = (target: Target, message: Buffer, count: number) => pythonLoad("one-connection", target, count, message);
export const freshConnectionsOf = (target: Target, count: number) => pythonLoad("fresh-connections", target, count);

/**
 * Where the client and the servers (agent, proxies) run. A round trip's cost is mostly the
 * kernel waking processes, and waking one on another core costs several times more than on the
 * same core, so the ratio to direct access depends on where the scheduler puts the processes
 * (it puts two that ping-pong on one core, three it spreads). Measured under each placement so
 * that the figures do not flip between runs.
 */
export interface Placement {
  readonly name: string;
  /** The client's CPU; undefined: anywhere. */
  readonly client?: number;
  /** The servers' CPUs (taskset list); undefined: any. */
  readonly servers?: string;
}

function placements(): Placement[] {
  const scheduled: Placement = { name: "as the scheduler places them" };
  if (availableParallelism() < 2 || spawnSync("taskset", ["-V"]).status !== 0) return [scheduled];
  return [scheduled, { name: "client on one core, servers on another", client: 0, servers: "1" }, { name: "all on one core", client: 0, servers: "0" }];
}

function placeServers(targets: readonly Target[], placement: Placement): void {
  const cpus = placement.servers ?? `0-${availableParallelism() - 1}`;
  for (const target of targets) {
    if (target.pid === undefined) continue;
    const result = spawnSync("taskset", ["-a", "-p", "-c", cpus, String(target.pid)]);
    if (result.status !== 0) throw new Error(`taskset on ${target.name} failed: ${result.stderr}`);
  }
}

async function sshAddProcesses(target: Target): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < 3; i++) {
    const result = await sshAdd(target.path, ["-l"]);
    if (result.code !== 0) throw new Error(`ssh-add -l through ${target.name} failed: ${result.stderr}`);
    samples.push(result.millis * 1000);
  }
  return samples;
}

/** An ed25519 SIGN_REQUEST for the public key in `pubFile`. */
async function signRequest(pubFile: string): Promise<Buffer> {
  const blob = Buffer.from((await readFile(pubFile, "utf8")).split(" ")[1] as string, "base64");
  const data = Buffer.alloc(64, 7);
  const string = (bytes: Buffer) => Buffer.concat([Buffer.from([0, 0, bytes.length >> 8, bytes.length & 255]), bytes]);
  return encodeMessage(MessageType.SIGN_REQUEST, Buffer.concat([string(blob), string(data), Buffer.alloc(4)]));
}

export interface Overhead {
  /** REQUEST_IDENTITIES on one connection, and a new connection per request, per placement. */
  readonly byPlacement: ReadonlyArray<{ readonly placement: Placement; readonly identities: Samples; readonly fresh: Samples }>;
  readonly signs: Samples;
  readonly sshAdds: Samples;
}

/** Step 1: what each path costs a request, against direct access. */
export async function measureOverhead(targets: readonly Target[], key: string): Promise<Overhead> {
  const byPlacement: Overhead["byPlacement"][number][] = [];
  for (const placement of placements()) {
    placeServers(targets, placement);
    byPlacement.push({
      placement,
      identities: await interleaved(targets, (t) => oneConnection(t, REQUEST_IDENTITIES_MESSAGE, placement.client)),
      fresh: await interleaved(targets, (t) => freshConnections(t, placement.client)),
    });
  }
  placeServers(targets, placements()[0] as Placement);
  const sign = await signRequest(`${key}.pub`);
  const signs = await interleaved(targets, (t) => oneConnection(t, sign));
  const sshAdds = await interleaved(targets, sshAddProcesses);
  return { byPlacement, signs, sshAdds };
}
