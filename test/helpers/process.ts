import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO = resolve(fileURLToPath(new URL("../..", import.meta.url)));
export const BIN = join(REPO, "bin", "ssh-anchor");

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  millis: number;
}

/**
 * Runs a command to completion, killed after `timeoutMs`: no test waits without a bound.
 * Without an `env` of the caller's, SHLVL=1: a `bash -c` whose stdin is a socket (a pipe from
 * Node is one) and whose shell level is below 2 takes itself for a command sshd runs and reads
 * ~/.bashrc (the test user's init line would then start the daemon behind the test's back). That
 * happens when the suite is run from a shell that exec'd it (SHLVL=0). A caller that passes an
 * env decides (a test of what sshd's bash does leaves SHLVL out, as sshd does).
 */
export function run(
  command: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string; cwd?: string } = {},
): Promise<RunResult> {
  const started = performance.now();
  return new Promise((resolvePromise) => {
    const child = execFile(
      command,
      args,
      { env: options.env ?? { ...process.env, SHLVL: "1" }, timeout: options.timeoutMs ?? 20_000, cwd: options.cwd, killSignal: "SIGKILL" },
      (error, stdout, stderr) => {
        const failure = error as (Error & { code?: number | string; signal?: NodeJS.Signals }) | null;
        resolvePromise({
          code: failure ? (typeof failure.code === "number" ? failure.code : null) : 0,
          signal: failure?.signal ?? null,
          stdout: String(stdout),
          stderr: String(stderr),
          millis: performance.now() - started,
        });
      },
    );
    // The command may exit without reading its input: that is not the test's failure.
    child.stdin?.on("error", () => undefined);
    child.stdin?.end(options.input ?? "");
  });
}

type Truthy<T> = Exclude<T, false | null | undefined | "" | 0>;

/** Polls `check` until it returns a truthy value; throws after `timeoutMs` naming `what`. */
export async function waitFor<T>(what: string, check: () => Promise<T> | T, timeoutMs = 10_000, intervalMs = 50): Promise<Truthy<T>> {
  const deadline = performance.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as Truthy<T>;
    } catch (error) {
      last = error;
    }
    if (performance.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ""}`);
    }
    await sleep(intervalMs);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A fresh private directory under /tmp, short enough for socket paths. */
export function tempDir(prefix = "anchor-test-"): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

/** Things to undo when a test ends, last added first; failures of one do not stop the rest. */
export class Cleanup {
  readonly #steps: Array<() => unknown> = [];
  add(step: () => unknown): void {
    this.#steps.push(step);
  }
  async run(): Promise<void> {
    for (const step of this.#steps.splice(0).reverse()) {
      try {
        await step();
      } catch {
        // Best effort: the rest must still run.
      }
    }
  }
}

/** Starts a long-running process and records it for cleanup. */
export function spawnTracked(cleanup: Cleanup, command: string, args: readonly string[], env?: NodeJS.ProcessEnv): ChildProcess {
  const child = spawn(command, args, { env: env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
  child.stdout?.resume();
  child.stderr?.resume();
  cleanup.add(() => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGCONT");
      child.kill("SIGKILL");
    }
  });
  return child;
}

/**
 * Tests that need root (sshd, other users, namespaces) skip outside CI with a loud reason;
 * in CI (CI=true) they must run, so a missing privilege fails instead.
 */
export function requireRoot(): string | false {
  if (process.getuid?.() === 0) return false;
  if (process.env.CI === "true") throw new Error("these tests must run as root in CI");
  const reason = "SKIPPED: needs root (sshd, other users); run the suite as root or in CI";
  process.stderr.write(`\n*** ${reason} ***\n`);
  return reason;
}
