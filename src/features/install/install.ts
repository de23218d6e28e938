import { createReadStream } from "node:fs";
import type { Readable } from "node:stream";
import { createGzip } from "node:zlib";
import { UserError } from "../../shared/core/errors.js";
import { runProgram, runProgramWithInput, type ProgramRun } from "../../shared/core/exec.js";
import { packageVersion } from "../../shared/core/package-root.js";
import { readSshConfig, type SshSettings } from "../../shared/core/ssh-config.js";
import { printable } from "../../shared/core/text.js";
import { TIMING } from "../../shared/core/timing.js";
import type { InstallRequest } from "./args.js";
import { chooseExecutable, packageTarball, runsFromPackage, targetOf, type Target } from "./payload.js";
import { answer, answers, installScript, probeScript, remoteCommand, verifyScript, type Answers, type Payload } from "./remote.js";

/**
 * `ssh-anchor install HOST`: ssh-anchor onto a host the user can log in to, without root, in
 * three ssh round trips: a probe (system, architecture, Node, what is installed), the copy with
 * the install and setup, and a check in a fresh `ssh -A` login that the stable socket answers
 * with the laptop's keys.
 */

/** What the probe found on the host. */
export interface HostFacts {
  readonly os: string;
  readonly machine: string;
  readonly target: Target | undefined;
  /** The Node on sshd's non-interactive PATH, when it is 20 or later. */
  readonly node: string | undefined;
  readonly tools: ReadonlySet<string>;
  /** The version in ~/.local/bin, "" when something is there that does not say one, undefined when nothing is. */
  readonly installed: string | undefined;
  readonly kind: string | undefined;
  /** Whether setup there says its line is in place already. */
  readonly setUp: boolean;
  /** Another ssh-anchor on the host's non-interactive PATH. */
  readonly other: string | undefined;
}

const VERSION = /^\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]+)?$/;

/**
 * -1, 0 or 1 as `a` is older than, the same as or newer than `b` (x.y.z; a pre-release or build
 * suffix makes two otherwise equal versions merely different, which counts as older).
 * @example compareVersions("0.2.0", "0.10.0") // -1
 */
export function compareVersions(a: string, b: string): number {
  if (a === b) return 0;
  const parts = (v: string) => v.split(/[-+]/)[0]!.split(".").map(Number);
  const [x, y] = [parts(a), parts(b)];
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return (x[i] ?? 0) < (y[i] ?? 0) ? -1 : 1;
  return -1;
}

/** What the probe's answers say about the host. */
export function hostFacts(found: Answers): HostFacts {
  const os = answer(found, "os") ?? "";
  const machine = answer(found, "arch") ?? "";
  const nodeVersion = /^v(\d+)\.\d+\.\d+$/.exec(answer(found, "node") ?? "");
  const installed = found.has("installed") ? (answer(found, "installed") ?? "") : undefined;
  const other = answer(found, "other");
  return {
    os,
    machine,
    target: targetOf(os, machine),
    node: nodeVersion && Number(nodeVersion[1]) >= 20 ? nodeVersion[0] : undefined,
    tools: new Set(found.get("has") ?? []),
    installed: installed !== undefined && !VERSION.test(installed) ? "" : installed,
    kind: answer(found, "kind"),
    setUp: answer(found, "setup-status") === "0" && /^already set up/.test(answer(found, "setup") ?? ""),
    other: other && !other.endsWith("/.local/bin/ssh-anchor") ? other : undefined,
  };
}

/** How ssh is run for each round trip. */
class Ssh {
  constructor(
    private readonly request: InstallRequest,
    private readonly settings: SshSettings,
  ) {}

  args(forwardAgent: boolean, script: string): string[] {
    // Ours first where install needs them (ssh takes the first value given): no forwardings of
    // the user's config, no RemoteCommand or tty of theirs. Then the user's own options; then
    // defaults that theirs override: a bounded connect, and no prompt nobody can answer.
    const args = ["-o", "ClearAllForwardings=yes", "-o", "RemoteCommand=none", "-o", "RequestTTY=no", "-o", "PermitLocalCommand=no"];
    args.push(...this.request.sshOptions);
    if (!process.stdin.isTTY) args.push("-o", "BatchMode=yes");
    if ((this.settings.get("connecttimeout") ?? "none") === "none") args.push("-o", `ConnectTimeout=${TIMING.sshConnectTimeoutSeconds}`);
    // The last of -A and -a wins: only the check forwards the agent.
    args.push(forwardAgent ? "-A" : "-a", this.request.destination, remoteCommand(script));
    return args;
  }

  async run(what: string, script: string, options: { timeoutMs: number; forwardAgent?: boolean; input?: Buffer | Readable }): Promise<Answers> {
    const run = await runProgramWithInput("ssh", this.args(options.forwardAgent ?? false, script), {
      timeoutMs: options.timeoutMs,
      input: options.input,
    });
    const found = answers(run.stdout);
    const failed = answer(found, "fail");
    if (failed) throw new UserError(remoteFailure(this.request.destination, failed, answer(found, "detail")));
    if (run.code !== 0 || answer(found, "end") !== "yes") throw new UserError(sshFailure(this.request.destination, what, run));
    return found;
  }
}

/** One line for an ssh round trip that did not get through. */
function sshFailure(host: string, what: string, run: ProgramRun): string {
  const said = printable(run.stderr.trim().split("\n").filter(Boolean).pop() ?? "", 200);
  if (run.missing) return "ssh is not installed here (not found on PATH): install OpenSSH's client";
  if (run.code === null) return `${what} on ${host} did not finish (${run.failure}): check the connection, and try again`;
  if (run.code === 255) {
    const fix = /permission denied|host key verification/i.test(said)
      ? `check that ssh ${host} true works without a prompt (your key in the agent: ssh-add; the host key known)`
      : `check that ssh ${host} true works`;
    return `cannot log in to ${host}${said ? ` (${said})` : ""}: ${fix}`;
  }
  return `${what} on ${host} failed (status ${run.code}${said ? `: ${said}` : ""}): is its shell a POSIX-like one with sh on PATH?`;
}

/** One line for what a script on the host said went wrong. */
function remoteFailure(host: string, failed: string, detail: string | undefined): string {
  const why = detail ? `: ${detail}` : "";
  const messages: Record<string, string> = {
    tmp: `cannot make a temporary directory on ${host} (mktemp in $TMPDIR or /tmp)${why}`,
    mkdir: `cannot create ~/.local/bin on ${host}${why}: is the home directory writable?`,
    copy: `the copy to ${host} failed while writing${why}: is the disk full (df -h ~)?`,
    short: `the copy to ${host} arrived incomplete: run install again`,
    npm: `npm install on ${host} failed${why}: run install again, or remove ~/.local/lib/node_modules/ssh-anchor there and retry`,
    unpack: `unpacking the package on ${host} failed${why}: are tar and gzip there working?`,
    replace: `cannot replace the ssh-anchor in ~/.local on ${host}${why}`,
    link: `cannot create ~/.local/bin/ssh-anchor on ${host}${why}`,
    run: `the single executable does not run on ${host}${why}: a musl system (Alpine) or a home mounted noexec needs the npm package (install Node >= 20 there)`,
    version: `the installed ssh-anchor on ${host} does not start${why}: run ssh ${host} ~/.local/bin/ssh-anchor --version to see why`,
    setup: `ssh-anchor setup on ${host} failed${why}: run ~/.local/bin/ssh-anchor setup there (--shell NAME for another shell)`,
    start: `the daemon on ${host} did not start${why}: run ~/.local/bin/ssh-anchor doctor there`,
  };
  return messages[failed] ?? `install on ${host} failed (${failed})${why}`;
}

/** The key fingerprints in `ssh-add -l` output. */
function fingerprints(lines: readonly string[]): Set<string> {
  return new Set(lines.flatMap((line) => /\b(SHA256:[A-Za-z0-9+/]{43})\b/.exec(line)?.[1] ?? []));
}

function size(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MiB` : `${Math.max(1, Math.round(bytes / 1024))} KiB`;
}

/**
 * Installs ssh-anchor on the host, sets it up and checks it; `say` is told each step in one line,
 * `warn` what is installed but not yet right.
 * Resolves with the exit status.
 * @throws {UserError} one line saying what happened and what to do, for every expected failure.
 */
export async function installOnHost(request: InstallRequest, say: (line: string) => void, warn: (line: string) => void): Promise<number> {
  const host = request.destination;
  const version = packageVersion();
  const read = await readSshConfig(request.sshOptions, host, TIMING.sshConfigMs);
  if (read.kind === "failed") throw new UserError(`ssh rejected the options: ${printable(read.reason, 200)}`, 2);
  const ssh = new Ssh(request, read.settings);

  // 1. The probe.
  const facts = hostFacts(await ssh.run("the probe", probeScript(request.shell), { timeoutMs: TIMING.installProbeMs }));
  const where = facts.installed === undefined ? "no ssh-anchor in ~/.local/bin" : facts.installed ? `ssh-anchor ${facts.installed} in ~/.local/bin` : "an ssh-anchor in ~/.local/bin that does not start";
  say(`${host}: ${facts.os || "?"} ${facts.machine || "?"}, ${facts.node ? `Node ${facts.node}` : "no Node >= 20 on its PATH"}, ${where}`);
  if (facts.other) say(`note: ${host} also has ${facts.other} on its PATH; install uses ~/.local/bin/ssh-anchor`);
  if (!facts.target) throw new UserError(`${host} is ${facts.os || "an unknown system"} ${facts.machine || "of unknown architecture"} (uname -s, uname -m), which ssh-anchor has no build for`);

  const order = facts.installed ? compareVersions(facts.installed, version) : -1;
  const copy = request.force || order < 0;
  if (!copy && facts.setUp) {
    say(order === 0 ? `nothing to do: ${host} has ssh-anchor ${version} and its init line` : `nothing to do: ${host} has ssh-anchor ${facts.installed}, newer than this ${version} (--force installs this one)`);
    return 0;
  }

  // 2. What to send.
  let payload: Payload | undefined;
  let input: Buffer | Readable | undefined;
  let sending = 0;
  if (copy) {
    const npm = facts.tools.has("npm");
    if (facts.node && runsFromPackage() && (npm || (facts.tools.has("tar") && facts.tools.has("gzip")))) {
      const tarball = await packageTarball();
      payload = { kind: "package", size: tarball.data.length, npm };
      input = tarball.data;
      sending = tarball.data.length;
      say(`copying the npm package (${size(sending)}) to ${host}, installed into ~/.local with ${npm ? "npm install -g --prefix ~/.local" : "tar (no npm there)"}`);
    } else {
      const executable = await chooseExecutable(facts.target, request.executables, version);
      const gzip = facts.tools.has("gzip");
      payload = { kind: "executable", size: executable.size, gzip };
      sending = executable.size;
      if (!request.dryRun) input = gzip ? createReadStream(executable.file).pipe(createGzip({ level: 6 })) : createReadStream(executable.file);
      say(`copying the single executable for ${facts.target.os}-${facts.target.arch} (${size(sending)}${gzip ? ", gzipped on the way" : ""}) to ${host}:~/.local/bin`);
    }
  } else {
    say(`${host} has ssh-anchor ${facts.installed}; its init line is missing: running setup there`);
  }
  if (request.dryRun) {
    say("dry run: nothing was copied or changed");
    return 0;
  }

  // 3. The copy, the install and setup.
  const restart = copy && Boolean(facts.installed);
  const installed = await ssh.run(copy ? "the copy" : "setup", installScript(payload, version, { restart, shell: request.shell }), {
    timeoutMs: TIMING.installCopyBaseMs + Math.ceil(sending / TIMING.installCopyBytesPerSecond) * 1000,
    input,
  });
  if (copy) say(`installed ssh-anchor ${version} as ~/.local/bin/ssh-anchor${facts.installed ? ` (was ${facts.installed || "broken"})` : ""}`);
  if (answer(installed, "restarted") === "yes") say(`stopped the daemon of ${facts.installed}; the check below starts ${version}`);
  const changed = installed.get("changed") ?? [];
  say(changed.length ? `setup: added the init line to ${changed.join(", ")}` : `setup: ${answer(installed, "setup") ?? "done"}`);

  // 4. The check, in a fresh login.
  const checked = await ssh.run("the check", verifyScript(), { timeoutMs: TIMING.installVerifyMs, forwardAgent: true });
  return verdict(host, checked, say, warn);
}

/** What the check in a fresh login says, compared with this laptop's agent. */
async function verdict(host: string, checked: Answers, say: (line: string) => void, warn: (line: string) => void): Promise<number> {
  const socket = answer(checked, "socket") ?? "";
  if (!checked.has("keys-status")) throw new UserError(`${host} has no ssh-add on its PATH, so the stable socket ${socket} could not be checked: install OpenSSH's client there`);
  const remote = fingerprints(checked.get("key") ?? []);
  const local = process.env.SSH_AUTH_SOCK ? await runProgram("ssh-add", ["-l"], { timeoutMs: TIMING.doctorProgramMs }) : undefined;
  const mine = fingerprints(local?.stdout.split("\n") ?? []);
  const missing = [...mine].filter((key) => !remote.has(key));
  if (mine.size === 0) {
    say(`the stable socket ${socket} on ${host} answers (${remote.size} keys; this laptop has no agent with keys to compare with)`);
  } else if (missing.length > 0) {
    const said = (checked.get("key") ?? []).at(-1) ?? "";
    throw new UserError(
      `the stable socket ${socket} on ${host} does not list ${missing.length === mine.size ? "your keys" : `${missing.length} of your ${mine.size} keys`}${said ? ` (ssh-add -l: ${said})` : ""}: does the host allow agent forwarding (AllowAgentForwarding)? ssh-anchor doctor there says more`,
    );
  } else {
    say(`checked: a fresh ssh -A login reaches your agent through the stable socket ${socket} (${mine.size} ${mine.size === 1 ? "key" : "keys"})`);
  }
  const shellSock = answer(checked, "shell-sock");
  if (checked.has("shell-status") && shellSock !== socket) {
    const error = answer(checked, "shell-error");
    warn(
      `warning: a new login shell on ${host} does not get the stable socket (its SSH_AUTH_SOCK is ${shellSock || "unset"}${error ? `; it said: ${error}` : ""}): run ~/.local/bin/ssh-anchor doctor there`,
    );
    say(`done: ssh-anchor is installed on ${host} and its daemon answers, but new login shells there do not use it yet (the warning above)`);
    return 0;
  }
  say(`done: ${host} is set up; log in again with ssh -A (or ssh-anchor connect -A ${host})`);
  return 0;
}
