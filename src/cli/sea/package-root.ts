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

export function packageVersion(): string {
  return __SSH_ANCHOR_VERSION__;
}

/** A file shipped with the package, as embedded when the executable was built. */
export function readPackageFile(relative: string): string {
  return getAsset(relative, "utf8");
}

/** The absolute path of the command this process was run as: the executable itself. */
export function ownCommand(): string | undefined {
  return process.execPath;
}
