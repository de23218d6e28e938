import { execFile, spawn, spawnSync } from "node:child_process";
import type { Readable } from "node:stream";

/**
 * Output kept from a program run for its output (Node's own default for execFile, named here
 * so that the bound is a decision): tmux listings and `ssh -G` are a few KiB; a program that
 * floods more is stopped and counts as failed rather than filling memory.
 */
const MAX_OUTPUT_BYTES = 1024 * 1024;

/** How a program run for its output ended. */
export interface ProgramRun {
  /** Its exit status; null when it did not exit by itself (not started, timed out, too much output). */
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** The program is not installed (not on PATH). */
  readonly missing: boolean;
  /** Why it failed, in one line, or undefined when it exited with status 0. */
  readonly failure: string | undefined;
}

export interface RunOptions {
  /** It is stopped (SIGTERM) after this long: every program ssh-anchor waits for has a bound. */
  readonly timeoutMs: number;
  readonly env?: NodeJS.ProcessEnv;
}

type ChildError = Error & { code?: unknown; killed?: boolean };

/** Why a run failed, in one line of our own (Node's messages repeat the whole command line). */
function failureOf(file: string, timeoutMs: number, code: number | null, error: ChildError | null | undefined): string | undefined {
  if (error?.killed === true || error?.code === "ETIMEDOUT") return `${file} did not finish within ${timeoutMs} ms`;
  if (error?.code === "ENOENT") return `${file} is not installed (not found on PATH)`;
  if (typeof code === "number") return code === 0 ? undefined : `${file} exited with status ${code}`;
  return error ? error.message.split("\n")[0] : `${file} was killed`;
}

function ended(file: string, options: RunOptions, code: number | null, stdout: string, stderr: string, error: ChildError | null | undefined): ProgramRun {
  return { code, stdout, stderr, missing: error?.code === "ENOENT", failure: failureOf(file, options.timeoutMs, code, error) };
}

/**
 * Runs `file` (no shell) and resolves with its output once it ends, within `timeoutMs`. Never
 * rejects: a missing program, a non-zero status and a timeout are outcomes.
 *
 * @example
 * const run = await runProgram("tmux", ["list-sessions"], { timeoutMs: TIMING.doctorProgramMs });
 * if (run.code === 0) console.log(run.stdout);
 */
export function runProgram(file: string, args: readonly string[], options: RunOptions): Promise<ProgramRun> {
  return new Promise((resolve) => {
    const execOptions = { timeout: options.timeoutMs, maxBuffer: MAX_OUTPUT_BYTES, env: options.env ?? process.env, encoding: "utf8" } as const;
    execFile(file, args, execOptions, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : null) : 0;
      resolve(ended(file, options, code, stdout, stderr, error));
    });
  });
}

/**
 * The same, blocking, with this process's stdin handed over: for stty, which reads the terminal
 * there and is needed from a signal handler just before the process exits, where no callback
 * would run.
 *
 * @example
 * const saved = runOnTerminal("stty", ["-g"], { timeoutMs: TIMING.sttyMs }).stdout.trim();
 */
export function runOnTerminal(file: string, args: readonly string[], options: RunOptions): ProgramRun {
  const result = spawnSync(file, args, {
    timeout: options.timeoutMs,
    maxBuffer: MAX_OUTPUT_BYTES,
    env: options.env ?? process.env,
    stdio: ["inherit", "pipe", "pipe"],
    encoding: "utf8",
  });
  return ended(file, options, result.error ? null : result.status, result.stdout ?? "", result.stderr ?? "", result.error);
}

export interface InputRunOptions extends RunOptions {
  /** What the program reads on its standard input (ended after it); none: /dev/null. */
  readonly input?: Buffer | Readable;
  /** Where the program's standard error goes: kept (the default), or shown as it comes (a prompt ssh writes there). */
  readonly stderr?: "keep" | "inherit";
}

/**
 * The same as runProgram, with `input` written to the program's standard input as it reads it
 * (a payload streamed to `ssh host 'cat > file'`). Stopped with SIGTERM after `timeoutMs`, then
 * SIGKILL a second later. Never rejects.
 *
 * @example
 * const run = await runProgramWithInput("ssh", ["host", "cat > f"], { timeoutMs: 60_000, input: Buffer.from("hi") });
 */
export function runProgramWithInput(file: string, args: readonly string[], options: InputRunOptions): Promise<ProgramRun> {
  return new Promise((resolve) => {
    const child = spawn(file, args, {
      env: options.env ?? process.env,
      stdio: [options.input ? "pipe" : "ignore", "pipe", options.stderr === "inherit" ? "inherit" : "pipe"],
    });
    let stdout = "";
    let stderr = "";
    let kept = 0;
    let error: ChildError | undefined;
    const keep = (append: (text: string) => void) => (chunk: Buffer) => {
      kept += chunk.length;
      if (kept > MAX_OUTPUT_BYTES) {
        error ??= Object.assign(new Error(`${file} wrote more than ${MAX_OUTPUT_BYTES} bytes`), { code: "ENOBUFS" });
        child.kill("SIGTERM");
        return;
      }
      append(chunk.toString("utf8"));
    };
    child.stdout?.on("data", keep((text) => (stdout += text)));
    child.stderr?.on("data", keep((text) => (stderr += text)));
    let killer: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      error ??= Object.assign(new Error("timed out"), { killed: true });
      child.kill("SIGTERM");
      killer = setTimeout(() => child.kill("SIGKILL"), 1000);
    }, options.timeoutMs);
    if (options.input && child.stdin) {
      // The program may exit without reading all of it (it failed): that is its outcome, not ours.
      child.stdin.on("error", () => undefined);
      if (Buffer.isBuffer(options.input)) child.stdin.end(options.input);
      else {
        options.input.on("error", (cause: Error) => {
          error ??= cause;
          child.kill("SIGTERM");
        });
        options.input.pipe(child.stdin);
      }
    }
    child.on("error", (cause: ChildError) => (error ??= cause));
    child.on("close", (code) => {
      clearTimeout(timer);
      clearTimeout(killer);
      resolve(ended(file, options, error ? null : code, stdout, stderr, error ?? (code === 0 ? undefined : null)));
    });
  });
}
