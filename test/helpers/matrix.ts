import { AssertionError } from "node:assert/strict";
import { chmod, copyFile, readFile } from "node:fs/promises";
import { join } from "node:path";
import { followActivator, type Activator } from "./activator.js";
import type { TestNetwork } from "./netns.js";
import { Cleanup, REPO, run, spawnTracked, waitFor } from "./process.js";
import { stableDirectory, TEST_USER, type TestHost } from "./sshd.js";

/**
 * Helpers of the composition matrix (test/e2e/composition.test.ts): one shared host whose test
 * account each cell changes and gives back, panes of the account's default tmux server and
 * screen sessions (where `connect` puts its sessions), and socket activation as the test user.
 */

/**
 * Soft checks: a cell records every broken promise it sees and fails once at the end with all
 * of them, so a report names each bug of a pair rather than only the first.
 */
export class Problems {
  readonly #found: string[] = [];
  /** Records `message` unless `ok`. Returns `ok`, for checks that later ones depend on. */
  expect(ok: unknown, message: string | (() => string)): boolean {
    if (!ok) this.#found.push(typeof message === "string" ? message : message());
    return Boolean(ok);
  }
  get count(): number {
    return this.#found.length;
  }
  /** Throws one AssertionError listing everything recorded (numbered), if anything was. */
  assertNone(): void {
    if (this.#found.length === 0) return;
    const lines = this.#found.map((problem, index) => `  ${index + 1}. ${problem.replaceAll("\n", "\n     ")}`);
    throw new AssertionError({ message: `${this.#found.length} broken promise(s):\n${lines.join("\n")}` });
  }
}

/**
 * The comments of the keys `ssh-add -l` listed in `text` (its short lines fit an 80-column
 * screen window, unlike `-L`'s), sorted.
 */
export function keysListed(text: string): string[] {
  return text
    .split("\n")
    .map((line) => /^\d+ SHA256:\S+ (.+) \([A-Z0-9-]+\)$/.exec(line.trim())?.[1])
    .filter((comment): comment is string => comment !== undefined)
    .sort();
}

/** A scoped socket's path (per-identity): `.../id-<16 hex>.sock`. */
export const SCOPE_SOCKET = /\/id-[0-9a-f]{16}\.sock$/;

export type Mux = "tmux" | "screen";

/** What one command typed into a pane printed: its status, its own output, and the pane's text. */
export interface Typed {
  rc: number;
  ms: number;
  output: string;
  screen: string;
}

let markers = 0;

/**
 * Types `command` into the current window of `session` of the test user's default tmux server
 * (or the screen session of that name), as a user would, and waits at most `timeoutMs` for it
 * to finish. On a timeout the error holds the pane's text.
 */
export async function typeIn(host: TestHost, mux: Mux, session: string, command: string, timeoutMs = 10_000): Promise<Typed> {
  const marker = `MX${++markers}X`;
  let line = `s=$(date +%s%N); echo "${marker}-BEGIN"; ${command}; echo "${marker} rc=$? ms=$(( ($(date +%s%N) - s) / 1000000 ))"`;
  const quoted = (text: string) => `'${text.replaceAll("'", `'"'"'`)}'`;
  // screen: the window's output goes to a file too. Reading the screen means a hardcopy, and
  // each one shows a message that holds up the next for seconds while a client is attached.
  const out = join(host.home, `.matrix-${marker}.out`);
  if (mux === "screen") line = `{ ${line}; } 2>&1 | tee ${out}`;
  const read = async (): Promise<string> => {
    if (mux === "tmux") return (await host.asUser(`tmux capture-pane -p -J -S -300 -t ${session}`)).stdout;
    return readFile(out, "utf8").catch(() => "");
  };
  // screen expands $VARIABLES in what -X stuff types (from its own environment): the line goes
  // into a file the window's shell sources, so that shell's own environment is what is seen.
  if (mux === "screen") await writeAccountFile(host, `.matrix-${marker}.sh`, `${line}\n`);
  const sent =
    mux === "tmux"
      ? await host.asUser(`tmux send-keys -t ${session} -l ${quoted(line)} && tmux send-keys -t ${session} Enter`)
      : await host.asUser(`screen -S ${session} -X stuff ${quoted(`. ~/.matrix-${marker}.sh\n`)}`);
  if (sent.code !== 0) throw new Error(`typing into ${mux} session ${session} failed: ${sent.stderr}`);
  const pattern = new RegExp(`^${marker}-BEGIN[ \\t]*\n([\\s\\S]*?)^${marker} rc=(\\d+) ms=(\\d+)`, "m");
  try {
    return await waitFor(`"${command}" to finish in ${mux} session ${session}`, async () => {
      const screen = await read();
      const match = pattern.exec(screen);
      return match ? { output: match[1] as string, rc: Number(match[2]), ms: Number(match[3]), screen } : undefined;
    }, timeoutMs, 100);
  } catch (error) {
    throw new Error(`${(error as Error).message}\n--- ${mux} ${session}:\n${await read()}`);
  }
}

/** The text of every tmux pane and screen window of the test user, for a failure's dump. */
export async function dumpPanes(host: TestHost): Promise<string> {
  const parts: string[] = [];
  const sessions = await host.asUser('tmux list-panes -a -F "#{session_name}:#{window_index}.#{pane_index}"');
  for (const pane of sessions.stdout.split("\n").filter(Boolean)) {
    const env = await host.asUser(`tmux show-environment -t ${pane.split(":")[0]} SSH_AUTH_SOCK`);
    const text = (await host.asUser(`tmux capture-pane -p -J -t ${pane}`)).stdout.trimEnd().split("\n").slice(-15).join("\n");
    parts.push(`--- tmux ${pane} (${env.stdout.trim()}):\n${text}`);
  }
  const global = await host.asUser("tmux show-environment -g SSH_AUTH_SOCK");
  if (global.code === 0) parts.push(`--- tmux global: ${global.stdout.trim()}`);
  const screens = await host.asUser("screen -ls");
  if (/\d+\.\S+/.test(screens.stdout)) {
    parts.push(`--- screen -ls:\n${screens.stdout.trim()}`);
    // What the commands typed into screen windows printed (typeIn keeps a copy of each).
    const outputs = await host.asUser("for f in ~/.matrix-*.out; do [ -f \"$f\" ] && printf -- '--- %s:\\n' \"${f##*/}\" && cat \"$f\"; done");
    if (outputs.stdout.trim()) parts.push(outputs.stdout.trimEnd());
  }
  return parts.join("\n");
}

/** The last lines of the daemon's log (started in the background it writes `<socket>.log`). */
export async function daemonLogTail(host: TestHost, lines = 25): Promise<string> {
  const text = await readFile(`${host.stableSocket}.log`, "utf8").catch(() => "");
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

/** Pids of the test user's daemons (`ssh-anchor run ...` in ps, npm install or single executable). */
export async function daemonPids(): Promise<number[]> {
  const found = await run("pgrep", ["-u", TEST_USER, "-f", "^ssh-anchor run"]);
  return found.stdout.split("\n").filter(Boolean).map(Number);
}

/** The file a process runs (root reads any /proc/PID/exe). */
export async function executableOf(pid: number): Promise<string> {
  return (await run("readlink", [`/proc/${pid}/exe`])).stdout.trim();
}

/**
 * Gives the test account back as startTestHost made it: no processes, no daemon directory,
 * no tmux or screen, no session directories, no setup backups, the default rc file.
 */
export async function resetAccount(host: TestHost, rc: string): Promise<void> {
  await run("pkill", ["-KILL", "-u", TEST_USER]);
  // Zombies do not count: their parents (sshd's root monitors, the laptop's ssh) reap them in their own time.
  const living = async () => (await run("ps", ["-u", TEST_USER, "-o", "stat=,pid=,comm="])).stdout.split("\n").filter((line) => line.trim() && !line.trim().startsWith("Z"));
  await waitFor("the test user's processes to end", async () => (await living()).length === 0, 5000).catch(async (error: Error) => {
    throw new Error(`${error.message}: ${(await living()).join("; ")}`);
  });
  const home = host.home;
  await run("rm", [
    "-rf",
    stableDirectory(home),
    `/tmp/ssh-anchor-${host.uid}`,
    `/tmp/tmux-${host.uid}`,
    join(home, ".screen"),
    join(home, ".ssh", "rc"),
    join(home, ".local"),
    join(home, ".config"),
    join(home, ".bashrc.ssh-anchor-backup"),
    join(home, ".profile.ssh-anchor-backup"),
  ]);
  await run("sh", ["-c", `rm -f ${home}/.matrix-* ${home}/*-deploy-key ${home}/*-deploy-key.pub`]);
  await run("find", ["/tmp", "-maxdepth", "1", "-name", "ssh-*", "-user", TEST_USER, "-exec", "rm", "-rf", "{}", "+"]);
  await writeAccountFile(host, ".bashrc", rc);
  await writeAccountFile(host, ".bash_profile", ". ~/.bashrc\n");
  await host.asUser("mkdir -m 700 ~/.screen");
}

/** Writes a file in the test user's home as the test user (so it is theirs, 0644). */
export async function writeAccountFile(host: TestHost, relative: string, text: string): Promise<void> {
  const written = await run("runuser", ["-u", TEST_USER, "--", "sh", "-c", `umask 022 && cat > "$HOME/${relative}"`], {
    env: { ...process.env, HOME: host.home },
    input: text,
  });
  if (written.code !== 0) throw new Error(`writing ~/${relative}: ${written.stderr}`);
}

/** LaptopTerminal needs only `inClient`: the laptop here is this machine's own network. */
export const SAME_NETWORK = { inClient: (command: string, args: readonly string[]) => [command, ...args] } as unknown as TestNetwork;

/** systemd's socket unit for the test user, played by socket-activator.py running as that user. */
export interface UserActivator extends Activator {
  /** Everything the activated daemons wrote to stderr (their log, under `run`). */
  log(): string;
}

/**
 * Holds the test user's stable socket as a listening socket, as the user's systemd would with
 * `ssh-anchor service install`, and starts `command` (as the test user, fd 3) whenever a client
 * waits on it and nothing runs. `scriptDir` must be readable by the test user.
 */
export async function activateForUser(cleanup: Cleanup, host: TestHost, scriptDir: string, command: readonly string[]): Promise<UserActivator> {
  const script = join(scriptDir, "socket-activator.py");
  await copyFile(join(REPO, "test", "helpers", "socket-activator.py"), script);
  await chmod(script, 0o644);
  const made = await host.asUser(`mkdir -p -m 700 ~/.ssh && mkdir -p -m 700 ${stableDirectory(host.home)}`);
  if (made.code !== 0) throw new Error(`mkdir: ${made.stderr}`);
  const env = {
    PATH: "/usr/local/bin:/usr/bin:/bin",
    HOME: host.home,
    USER: TEST_USER,
    LOGNAME: TEST_USER,
  };
  const child = spawnTracked(cleanup, "setpriv", [`--reuid=${host.uid}`, `--regid=${host.uid}`, "--init-groups", "/usr/bin/python3", script, host.stableSocket, ...command], env);
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const activator: UserActivator = { ...followActivator(child), log: () => stderr };
  cleanup.add(() => activator.stop());
  await activator.nth("listening", 1, 5000).catch((error: Error) => {
    throw new Error(`${error.message}; the activator said: ${stderr.trim() || "nothing"} (exit ${child.exitCode ?? child.signalCode})`);
  });
  return activator;
}
