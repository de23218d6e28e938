import { statSync } from "node:fs";
import { delimiter, isAbsolute, join, resolve } from "node:path";
import { getAsset } from "node:sea";

/**
 * The single executable's stand-in for src/shared/core/package-root.ts (scripts/build-sea.mjs
 * substitutes it): the package's files are SEA assets embedded at build time, and the
 * command-line entry point is the executable itself.
 */
declare const __SSH_ANCHOR_VERSION__: string;

/** There is no package directory: everything is inside the executable. */
export const PACKAGE_ROOT: string = process.execPath;

/** The command-line entry point: the executable itself (see src/cli/sea/main.ts for how it is run). */
export const CLI_ENTRY: string = process.execPath;

/** The executable holds one bundle: `run` is read from it too (src/cli/sea/main.ts). */
export const DAEMON_ENTRY: string = process.execPath;

export function packageVersion(): string {
  return __SSH_ANCHOR_VERSION__;
}

/** A file shipped with the package, as embedded when the executable was built. */
export function readPackageFile(relative: string): string {
  return getAsset(relative, "utf8");
}

/**
 * The absolute path of the command this process was run as: the path it was called by when that
 * leads to the executable (a symlink in ~/.local/bin stays that symlink, the name the user
 * knows, which survives the executable being replaced), else the executable itself. Only the
 * CLI asks (setup, init), never the daemon.
 */
export function ownCommand(): string | undefined {
  const invoked = process.argv0;
  const self = statSync(process.execPath, { throwIfNoEntry: false });
  const candidates = invoked.includes("/")
    ? [resolve(invoked)]
    : (process.env.PATH ?? "").split(delimiter).filter(isAbsolute).map((directory) => join(directory, invoked));
  for (const candidate of candidates) {
    const found = statSync(candidate, { throwIfNoEntry: false });
    if (self && found && found.dev === self.dev && found.ino === self.ino) return candidate;
  }
  return process.execPath;
}
