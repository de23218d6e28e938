import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { Cleanup, run, spawnTracked, waitFor } from "./process.js";
import { listIdentities } from "../../src/shared/protocol/agent-client.js";

export interface TestAgent {
  readonly path: string;
  readonly pid: number;
  /** Freezes the agent: the kernel still accepts connections, nothing answers (a zombie). */
  freeze(): void;
  thaw(): void;
  kill(): void;
}

/**
 * A real OpenSSH ssh-agent listening at `path` (the directory is created 0700 when missing).
 */
export async function startAgent(cleanup: Cleanup, path: string, env: NodeJS.ProcessEnv = process.env): Promise<TestAgent> {
  await mkdir(join(path, ".."), { recursive: true, mode: 0o700 });
  const child = spawnTracked(cleanup, "ssh-agent", ["-D", "-a", path], env);
  await waitFor(`ssh-agent at ${path}`, async () => (await listIdentities(path, 1000)).kind === "answered", 5000);
  const pid = child.pid as number;
  return {
    path,
    pid,
    freeze: () => child.kill("SIGSTOP"),
    thaw: () => child.kill("SIGCONT"),
    kill: () => child.kill("SIGKILL"),
  };
}

/** A new unencrypted key; returns the private key's path (the public one is `<path>.pub`). */
export async function makeKey(directory: string, name: string, type = "ed25519"): Promise<string> {
  const path = join(directory, name);
  const result = await run("ssh-keygen", ["-q", "-t", type, "-N", "", "-C", name, "-f", path]);
  if (result.code !== 0) throw new Error(`ssh-keygen failed: ${result.stderr}`);
  return path;
}

/** Runs ssh-add against `socket`. */
export function sshAdd(socket: string, args: readonly string[], timeoutMs = 20_000) {
  return run("ssh-add", args, { env: { ...process.env, SSH_AUTH_SOCK: socket }, timeoutMs });
}

export async function addKey(socket: string, key: string, extra: readonly string[] = []): Promise<void> {
  const result = await sshAdd(socket, [...extra, key]);
  if (result.code !== 0) throw new Error(`ssh-add ${key} failed: ${result.stderr}`);
}
