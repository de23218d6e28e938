import { existsSync, readFileSync } from "node:fs";
import { dirname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The installed package's own directory. The code runs both as separate modules (the library:
 * dist/index.js over dist/features/ and dist/shared/) and bundled into one file (the CLI,
 * dist/cli.js), so paths are found from the package root rather than relative to the running file.
 */
export const PACKAGE_ROOT: string = findRoot(dirname(fileURLToPath(import.meta.url)));

function findRoot(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, "shell", "init.sh")) && existsSync(join(dir, "package.json"))) return dir;
    if (dirname(dir) === dir) throw new Error(`ssh-anchor's package files are missing above ${start}; reinstall it`);
  }
}

/** The command-line entry point, as installed. */
export const CLI_ENTRY: string = join(PACKAGE_ROOT, "dist", "cli.js");

/** The daemon's own entry point (`run` only, without the rest of the CLI), as installed. */
export const DAEMON_ENTRY: string = join(PACKAGE_ROOT, "dist", "daemon.js");

export function packageVersion(): string {
  return (JSON.parse(readFileSync(join(PACKAGE_ROOT, "package.json"), "utf8")) as { version: string }).version;
}

/** A file shipped with the package, such as shell/init.sh (the single executable embeds them). */
export function readPackageFile(relative: string): string {
  return readFileSync(join(PACKAGE_ROOT, relative), "utf8");
}

// Read once and taken out of the environment: the programs this process starts (the daemon, the
// shells doctor runs) must not take it for their own.
const launcher = process.env.SSH_ANCHOR_LAUNCHER;
delete process.env.SSH_ANCHOR_LAUNCHER;

/**
 * The absolute path of the command this process was run as, for an rc line and the init scripts
 * to call it by (not by name: ~/.local/bin is not on PATH when Debian's ~/.profile runs ~/.bashrc,
 * nor on sshd's non-interactive PATH). bin/ssh-anchor passes its own path (as run, not through
 * the symlink npm puts on PATH: both survive an upgrade, and that one is the one the user knows)
 * as SSH_ANCHOR_LAUNCHER. Undefined when Node was started some other way (node dist/cli.js).
 */
export function ownCommand(): string | undefined {
  return launcher !== undefined && launcher.startsWith("/") && !launcher.includes("\n") ? normalize(launcher) : undefined;
}
