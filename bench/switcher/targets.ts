import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { socketAcceptsConnections } from "../../src/shared/core/dial.js";
import { addKey, makeKey, startAgent } from "../../test/helpers/agent.js";
import { BIN, Cleanup, run, tempDir, waitFor } from "../../test/helpers/process.js";

/** A socket that answers as an agent: the agent itself, or something in front of it. */
export interface Target {
  readonly name: string;
  readonly path: string;
  readonly pid?: number;
}

/** The naive Node relay's name in every table. */
export const NAIVE = "naive Node pipe";

/** Everything the benchmark starts, stopped when it ends. */
export const cleanup = new Cleanup();

export function startProcess(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
  const child = spawn(command, args, { env, stdio: "ignore" });
  cleanup.add(() => child.kill("SIGKILL"));
  return child;
}

export async function startDaemon(name: string, socket: string, tmpRoot: string, home: string): Promise<Target> {
  const child = startProcess(BIN, ["run", "--socket", socket, "--tmp-dir", tmpRoot], { ...process.env, HOME: home });
  await waitFor(`${name} to listen`, () => socketAcceptsConnections(socket, 500), 10_000);
  // bin/ssh-anchor execs node: the pid is the daemon's.
  return { name, path: socket, pid: child.pid };
}

/** The benchmark's scratch space: sshd's session directories, a home, and the key every agent holds. */
export interface Bench {
  readonly base: string;
  readonly tmpRoot: string;
  readonly home: string;
  readonly key: string;
}

/** The compared paths to one agent: direct, ssh-anchor, a naive Node pipe, socat, an alternative. */
export interface Targets {
  readonly direct: Target;
  readonly anchor: Target;
  readonly all: readonly Target[];
}

export async function prepareBench(): Promise<Bench> {
  const base = await tempDir("anchor-bench-");
  cleanup.add(() => run("rm", ["-rf", base]));
  const tmpRoot = join(base, "tmp");
  const home = join(base, "home");
  await mkdir(tmpRoot, { mode: 0o700 });
  await mkdir(join(home, ".ssh", "agent"), { recursive: true, mode: 0o700 });
  return { base, tmpRoot, home, key: await makeKey(base, "bench-key") };
}

export async function startTargets({ base, tmpRoot, home, key }: Bench): Promise<Targets> {
  const agent = await startAgent(cleanup, join(tmpRoot, "ssh-BenchAgent", "agent.9000000"));
  await addKey(agent.path, key);
  const direct: Target = { name: "direct", path: agent.path, pid: agent.pid };
  const anchor = await startDaemon("ssh-anchor", join(base, "a", "agent.sock"), tmpRoot, home);
  const naivePath = join(base, "naive.sock");
  const naiveChild = startProcess(process.execPath, [fileURLToPath(new URL("../naive-proxy.mjs", import.meta.url)), naivePath, agent.path]);
  await waitFor("the naive proxy", () => socketAcceptsConnections(naivePath, 500), 10_000);
  const all: Target[] = [direct, anchor, { name: NAIVE, path: naivePath, pid: naiveChild.pid }];
  // socat: a C proxy, the least any separate proxy process can cost per round trip (it forks
  // per connection, so it is no floor for new connections).
  if (spawnSync("socat", ["-V"]).status === 0) {
    const socatPath = join(base, "socat.sock");
    const socat = startProcess("socat", [`UNIX-LISTEN:${socatPath},fork,backlog=256`, `UNIX-CONNECT:${agent.path}`]);
    await waitFor("socat", () => socketAcceptsConnections(socatPath, 500), 10_000);
    all.push({ name: "socat (C, forks)", path: socatPath, pid: socat.pid });
  } else {
    console.error("socat not found: its reference rows are left out (apt-get install socat)");
  }
  const alternative = process.env.SSH_ANCHOR_BENCH_ALT;
  if (alternative) {
    const altPath = join(base, "alt.sock");
    const alt = startProcess(alternative, ["--socket-path", altPath, "--agents-dirs", tmpRoot]);
    await waitFor("the alternative switcher", () => socketAcceptsConnections(altPath, 500), 10_000);
    all.push({ name: alternative.split("/").pop() as string, path: altPath, pid: alt.pid });
  }
  return { direct, anchor, all };
}
