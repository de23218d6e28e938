import { readFile, stat } from "node:fs/promises";
import { basename, join } from "node:path";
import { shellNamed } from "../../shared/core/shells.js";
import { TIMING } from "../../shared/core/timing.js";
import { runsInit } from "../../shared/core/init-line.js";

/**
 * What doctor can know about a pane's shell from outside. /proc/PID/environ is the environment
 * the process started with, not what the shell has exported since; a shell that read a
 * start-up file with the init line re-pointed SSH_AUTH_SOCK itself, at start-up.
 */
export type ShellStart =
  /** Not a shell: it holds what it started with. */
  | { readonly kind: "not-a-shell" }
  /** A shell running a command or a script (sh -c ..., bash script.sh): it read no start-up file. */
  | { readonly kind: "non-interactive" }
  /** A shell whose start-up file had the init line when the shell started. */
  | { readonly kind: "ran-init"; readonly file: string }
  /** A shell whose start-up file has the init line now, but changed after the shell started. */
  | { readonly kind: "changed-since"; readonly file: string }
  /** A shell whose start-up files have no init line. */
  | { readonly kind: "no-init"; readonly files: readonly string[] };

/** Files a start-up file sources that matter here (~/.bashrc from ~/.profile, as Debian's does). */
const SOURCES_BASHRC = /^[ \t]*(?:\.|source)[ \t]+["']?(?:~|\$HOME|\$\{HOME\})\/\.bashrc\b/m;

interface Found {
  readonly file: string;
  readonly mtimeMs: number;
}

async function initLineIn(home: string, file: string, depth = 0): Promise<Found | undefined> {
  const path = join(home, file);
  const text = await readFile(path, "utf8").catch(() => undefined);
  if (text === undefined) return undefined;
  const mtimeMs = (await stat(path)).mtimeMs;
  if (runsInit(text)) return { file: `~/${file}`, mtimeMs };
  if (depth === 0 && file !== ".bashrc" && SOURCES_BASHRC.test(text)) {
    const inner = await initLineIn(home, ".bashrc", depth + 1);
    return inner && { file: `~/${file} -> ${inner.file}`, mtimeMs: Math.max(mtimeMs, inner.mtimeMs) };
  }
  return undefined;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

/** When a process started, in ms since the epoch (Linux: /proc/PID/stat and /proc/stat). */
async function processStartMs(pid: number): Promise<number | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => undefined);
  const boot = /^btime (\d+)$/m.exec(await readFile("/proc/stat", "utf8").catch(() => ""))?.[1];
  if (!stat || !boot) return undefined;
  // Field 22 (starttime, in clock ticks since boot) counted after the command name, which may
  // hold spaces and parentheses: count from its last ")".
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[19]);
  // USER_HZ is 100 on every Linux architecture Node runs on.
  return Number.isFinite(ticks) ? Number(boot) * 1000 + ticks * 10 : undefined;
}

/**
 * How a shell was started, from its command line: a login shell (argv[0] "-bash", or -l,
 * --login), and whether it is interactive (it is not when it runs `-c command` or a script,
 * unless -i says it is).
 */
async function howStarted(pid: number): Promise<{ login: boolean; interactive: boolean }> {
  const argv = (await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "")).split("\0").filter(Boolean);
  const args = argv.slice(1);
  const short = (letter: string) => args.some((arg) => new RegExp(`^-[a-zA-Z]*${letter}[a-zA-Z]*$`).test(arg));
  const login = Boolean(argv[0]?.startsWith("-") || args.includes("--login") || short("l"));
  const end = args.indexOf("--");
  const options = end === -1 ? args : args.slice(0, end);
  const operand = (end !== -1 && end < args.length - 1) || options.some((arg) => !arg.startsWith("-") && !arg.startsWith("+"));
  const interactive = short("i") || args.includes("--interactive") || !(short("c") || operand);
  return { login, interactive };
}

/** What the pane's process did with SSH_AUTH_SOCK at start-up, as far as can be known. */
export async function shellStart(pid: number, command: string, home: string): Promise<ShellStart> {
  const shell = shellNamed(basename(command).replace(/^-/, ""));
  if (!shell) return { kind: "not-a-shell" };
  const { login, interactive } = await howStarted(pid);
  // A login shell reads its profile even when not interactive (bash -l -c ...); otherwise a
  // shell running a command or a script reads no start-up file (unless it always does, as fish).
  if (!interactive && !login && !shell.startupWhenScripted) return { kind: "non-interactive" };
  const groups = login ? shell.startup.login : shell.startup.interactive;
  const read: string[] = [];
  for (const group of groups) {
    // Of each group the shell reads the first file that exists.
    let first: string | undefined;
    for (const file of group) if (await exists(join(home, file))) {
      first = file;
      break;
    }
    if (!first) continue;
    read.push(`~/${first}`);
    const found = await initLineIn(home, first);
    if (!found) continue;
    const started = await processStartMs(pid);
    return started !== undefined && found.mtimeMs > started + TIMING.startupFileSlackMs ? { kind: "changed-since", file: found.file } : { kind: "ran-init", file: found.file };
  }
  return { kind: "no-init", files: read };
}
