import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
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

export function packageVersion(): string {
  return (JSON.parse(readFileSync(join(PACKAGE_ROOT, "package.json"), "utf8")) as { version: string }).version;
}

/** A file shipped with the package, such as shell/init.sh (the single executable embeds them). */
export function readPackageFile(relative: string): string {
  return readFileSync(join(PACKAGE_ROOT, relative), "utf8");
}
