import { existsSync } from "node:fs";
import { open, readdir, readFile, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { gzipSync } from "node:zlib";
import { UserError } from "../../shared/core/errors.js";
import { runProgram } from "../../shared/core/exec.js";
import { CLI_ENTRY, PACKAGE_ROOT } from "../../shared/core/package-root.js";
import { TIMING } from "../../shared/core/timing.js";

/**
 * What install can send: the npm package (when this ssh-anchor runs from one: its own files, in
 * `npm pack`'s layout) and single executables, each for one system and architecture.
 */

/** Whether this ssh-anchor runs from the package's files (not from the single executable). */
export function runsFromPackage(root = PACKAGE_ROOT): boolean {
  return CLI_ENTRY !== process.execPath && existsSync(join(root, "bin", "ssh-anchor")) && existsSync(join(root, "dist", "cli.js"));
}

/** One file of a tar archive. */
interface Entry {
  readonly name: string;
  readonly mode: number;
  readonly data: Buffer | null;
}

/** A ustar header (the format `npm pack` writes and every tar reads). */
function header(entry: Entry): Buffer {
  const block = Buffer.alloc(512);
  let name = entry.name;
  let prefix = "";
  if (Buffer.byteLength(name) > 100) {
    const cut = name.lastIndexOf("/", name.length - 2);
    prefix = name.slice(0, cut);
    name = name.slice(cut + 1);
    if (cut <= 0 || Buffer.byteLength(name) > 100 || Buffer.byteLength(prefix) > 155) throw new Error(`path too long for a tar header: ${entry.name}`);
  }
  const octal = (value: number, width: number) => `${value.toString(8).padStart(width - 1, "0")}\0`;
  block.write(name, 0, 100, "utf8");
  block.write(octal(entry.mode, 8), 100, "ascii");
  block.write(octal(0, 8), 108, "ascii");
  block.write(octal(0, 8), 116, "ascii");
  block.write(octal(entry.data?.length ?? 0, 12), 124, "ascii");
  // A fixed time, as npm pack's (1985-10-26): the same files make the same archive.
  block.write(octal(499162500, 12), 136, "ascii");
  block.write("        ", 148, "ascii");
  block.write(entry.data ? "0" : "5", 156, "ascii");
  block.write("ustar\u000000", 257, "binary");
  block.write(prefix, 345, 155, "utf8");
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "ascii");
  return block;
}

/** Every file under `relative` (a file or a directory) of `root`, directories first. */
async function collect(root: string, relative: string, out: Entry[]): Promise<void> {
  const path = join(root, relative);
  const info = await stat(path);
  if (info.isDirectory()) {
    out.push({ name: `package/${relative}/`, mode: 0o755, data: null });
    for (const child of (await readdir(path)).sort()) await collect(root, `${relative}/${child}`, out);
  } else if (info.isFile()) {
    out.push({ name: `package/${relative}`, mode: info.mode & 0o111 ? 0o755 : 0o644, data: await readFile(path) });
  }
}

/**
 * The package as `npm pack` would make it from its files (package.json's `files`, package.json,
 * LICENSE): a gzipped tar with everything under `package/`, which `npm install -g <file>` takes
 * and which tar unpacks by hand. ssh-anchor has no runtime dependencies (the CLI is one bundle),
 * so these files are the whole install.
 * @throws {UserError} when the package is not built (a checkout before `npm run build`).
 */
export async function packageTarball(root = PACKAGE_ROOT): Promise<{ readonly data: Buffer; readonly version: string }> {
  const manifest = JSON.parse(await readFile(join(root, "package.json"), "utf8")) as { version: string; files?: string[] };
  if (!existsSync(join(root, "dist", "cli.js"))) throw new UserError(`${root} is not built (no dist/cli.js): run npm run build there first`);
  const entries: Entry[] = [];
  const names = new Set(["package.json", "LICENSE", ...(manifest.files ?? []).map((name) => name.replace(/^\.\//, "").replace(/\/$/, ""))]);
  for (const name of [...names].sort()) {
    if (existsSync(join(root, name))) await collect(root, name, entries);
  }
  const blocks: Buffer[] = [];
  for (const entry of entries) {
    blocks.push(header(entry));
    if (entry.data) {
      blocks.push(entry.data);
      const pad = (512 - (entry.data.length % 512)) % 512;
      if (pad) blocks.push(Buffer.alloc(pad));
    }
  }
  blocks.push(Buffer.alloc(1024));
  return { data: gzipSync(Buffer.concat(blocks), { level: 9 }), version: manifest.version };
}

/** A system and architecture in Node's names (process.platform, process.arch). */
export interface Target {
  readonly os: string;
  readonly arch: string;
}

/**
 * The host's `uname -s` and `uname -m` in Node's names, or undefined for one Node does not know.
 * @example targetOf("Linux", "aarch64") // { os: "linux", arch: "arm64" }
 */
export function targetOf(uname: string, machine: string): Target | undefined {
  const os = { Linux: "linux", Darwin: "darwin", FreeBSD: "freebsd", OpenBSD: "openbsd" }[uname];
  const arch: Record<string, string> = {
    x86_64: "x64", amd64: "x64", aarch64: "arm64", arm64: "arm64", armv7l: "arm", armv6l: "arm",
    i386: "ia32", i686: "ia32", riscv64: "riscv64", ppc64le: "ppc64", s390x: "s390x", loongarch64: "loong64",
  };
  return os && arch[machine] ? { os, arch: arch[machine] } : undefined;
}

/** ELF's e_machine numbers for Node's architectures. */
const ELF_MACHINES: Record<number, string> = { 3: "ia32", 40: "arm", 62: "x64", 183: "arm64", 243: "riscv64", 21: "ppc64", 22: "s390x", 258: "loong64" };

/**
 * What system and architecture an executable is for, from its first bytes (ELF or 64-bit
 * Mach-O), or undefined when it is neither.
 */
export async function executableTarget(file: string): Promise<Target | undefined> {
  const handle = await open(file, "r");
  const head = Buffer.alloc(20);
  try {
    await handle.read(head, 0, 20, 0);
  } finally {
    await handle.close();
  }
  if (head.readUInt32BE(0) === 0x7f454c46) {
    const little = head[5] === 1;
    const machine = little ? head.readUInt16LE(18) : head.readUInt16BE(18);
    const os = head[7] === 9 ? "freebsd" : head[7] === 12 ? "openbsd" : "linux";
    const arch = ELF_MACHINES[machine];
    return arch ? { os, arch } : undefined;
  }
  if (head.readUInt32LE(0) === 0xfeedfacf) {
    const cpu = head.readUInt32LE(4);
    const arch = cpu === 0x01000007 ? "x64" : cpu === 0x0100000c ? "arm64" : undefined;
    return arch ? { os: "darwin", arch } : undefined;
  }
  return undefined;
}

/** A single executable chosen for the host. */
export interface Executable {
  readonly file: string;
  readonly size: number;
}

/**
 * The single executables this laptop has, for `--executable` to add to: this one when it runs as
 * one, and the package's build/ssh-anchor* (what `npm run build:sea` writes in a checkout).
 */
async function candidates(named: readonly string[]): Promise<string[]> {
  const found = named.map((file) => resolve(file));
  if (CLI_ENTRY === process.execPath) found.push(process.execPath);
  const build = join(PACKAGE_ROOT, "build");
  const names = await readdir(build).catch(() => [] as string[]);
  for (const name of names.sort()) if (name.startsWith("ssh-anchor")) found.push(join(build, name));
  return [...new Set(found)];
}

/**
 * The single executable for `target` among those the laptop has, checked to be this version when
 * it can run here (same system and architecture).
 * @throws {UserError} naming what there is and how to get the one needed, when none fits.
 */
export async function chooseExecutable(target: Target, named: readonly string[], version: string): Promise<Executable> {
  const seen: string[] = [];
  for (const file of await candidates(named)) {
    const info = await stat(file).catch(() => undefined);
    if (!info?.isFile()) {
      if (named.includes(file) || named.map((name) => resolve(name)).includes(file)) throw new UserError(`--executable ${file}: no such file`, 2);
      continue;
    }
    const of = await executableTarget(file).catch(() => undefined);
    seen.push(`${file} (${of ? `${of.os}-${of.arch}` : "not an executable"})`);
    if (!of || of.os !== target.os || of.arch !== target.arch) continue;
    if (of.os === process.platform && of.arch === process.arch) {
      const run = await runProgram(file, ["--version"], { timeoutMs: TIMING.installLocalVersionMs });
      const its = run.stdout.trim();
      if (run.code !== 0 || its !== version) {
        throw new UserError(`${file} is ssh-anchor ${its || "of no version it could say"}, not ${version}: build it again (npm run build:sea) or name the right one with --executable`);
      }
    }
    return { file, size: info.size };
  }
  const have = seen.length ? `; this laptop has ${seen.join(", ")}` : "";
  throw new UserError(
    `no single executable for ${target.os}-${target.arch} here${have}: build one on such a machine (npm run build:sea) and give it with --executable FILE, or install Node >= 20 on the host`,
  );
}
