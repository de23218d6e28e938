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

/**
 * What a person needs to see when a wait times out (a pane's screen, the test user's
 * processes, a log's tail): run once, on timeout only, and appended to the error.
 */
export type Explain = () => Promise<string> | string;

/** How long a wait may take, how often it looks, and what it shows when it gives up. */
export interface WaitOptions {
  readonly timeoutMs?: number;
  readonly intervalMs?: number;
  readonly explain?: Explain;
}

/** An explanation may itself hang (a stuck tmux server): it gets this long, then says so. */
const EXPLAIN_BUDGET_MS = 10_000;

/** Runs `explain` within a bound; never throws (an explanation must not hide the failure). */
export async function explanation(explain: Explain | undefined): Promise<string> {
  if (!explain) return "";
  let timer: NodeJS.Timeout | undefined;
  try {
    const text = await Promise.race([
      Promise.resolve().then(explain),
      new Promise<string>((resolve) => (timer = setTimeout(() => resolve(`(the explanation took over ${EXPLAIN_BUDGET_MS} ms)`), EXPLAIN_BUDGET_MS))),
    ]);
    return text.replace(/\n*$/, "\n");
  } catch (error) {
    return `(the explanation failed: ${String(error)})\n`;
  } finally {
    clearTimeout(timer);
  }
}

/** Several explanations, one after the other. */
export function explainAll(...parts: ReadonlyArray<Explain | undefined>): Explain {
  return async () => (await Promise.all(parts.map((part) => explanation(part)))).join("");
}

/** A titled section of an explanation: `--- title:` then the text (or "(empty)"), runs of blank lines (a screen) told by their number. */
export function section(title: string, text: string): string {
  const body = text
    .replace(/\s*$/, "")
    .replace(/(?:\n[ \t]*){3,}\n/g, (blank) => `\n(${blank.split("\n").length - 2} blank lines)\n`);
  return `--- ${title}:\n${body.trim() === "" ? "(empty)" : body}\n`;
}

/** The last `lines` lines of `text`. */
export function tail(text: string, lines = 30): string {
  return text.replace(/\n*$/, "").split("\n").slice(-lines).join("\n");
}

/** Awaits `promise`; when it fails, the error's message gets `explain`'s text appended. */
export async function explained<T>(promise: Promise<T>, explain: Explain): Promise<T> {
  try {
    return await promise;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw Object.assign(new Error(`${message}\n${await explanation(explain)}`), { cause: error });
  }
}

/**
 * Polls `check` until it returns a truthy value; throws after the timeout naming `what`, with
 * what `explain` shows (from the options, or the fifth argument) appended.
 * @example await waitFor("the pane's prompt", () => prompt(), { timeoutMs: 20_000, explain: () => capture() })
 */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T> | T,
  timeout: number | WaitOptions = 10_000,
  interval = 50,
  explainArgument?: Explain,
): Promise<Truthy<T>> {
  const options: WaitOptions = typeof timeout === "number" ? { timeoutMs: timeout, intervalMs: interval, explain: explainArgument } : timeout;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const intervalMs = options.intervalMs ?? 50;
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
      const shown = await explanation(options.explain);
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ""}${shown ? `\n${shown}` : ""}`);
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

/** A user's processes as a tree (pid, state, age, command line), for an explanation. */
export async function processesOf(user: string): Promise<string> {
  const listed = await run("ps", ["-u", user, "-o", "pid,ppid,stat,etime,args", "--forest"], { timeoutMs: 5000 });
  return section(`${user}'s processes`, listed.stdout || listed.stderr);
}
