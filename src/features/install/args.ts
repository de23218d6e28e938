import { UserError } from "../../shared/core/errors.js";
import { takeSshOption } from "../../shared/core/ssh-options.js";
import { unknownOption, usageError } from "../../shared/core/usage.js";

/** What `ssh-anchor install` was asked to do. */
export interface InstallRequest {
  /** Options for ssh itself, passed through untouched, in order. */
  readonly sshOptions: readonly string[];
  readonly destination: string;
  /** Single executables to choose from for the host's architecture (besides the ones found by themselves). */
  readonly executables: readonly string[];
  /** The shell setup writes the init line for there (default: the account's login shell). */
  readonly shell?: string;
  /** Install even when the host has this version, or a newer one. */
  readonly force: boolean;
  /** Say what would be done after the probe; copy and change nothing. */
  readonly dryRun: boolean;
  /** Nothing on standard output when all goes well. */
  readonly quiet: boolean;
}

/** install's own options, and whether each takes a value (long only: ssh has most letters). */
const OWN_OPTIONS: Record<string, boolean> = {
  "--executable": true,
  "--shell": true,
  "--force": false,
  "--dry-run": false,
  "--quiet": false,
};

/**
 * Splits install's arguments into its own options, ssh's options (by ssh's grammar, so
 * `-p 2222`, `-J jump`, `-o Foo=bar` pass through intact) and the destination.
 * @example parseInstallArgs(["-p", "2222", "me@host"]) // { sshOptions: ["-p", "2222"], destination: "me@host", ... }
 * @throws {UserError} (status 2) on a missing destination, a dangling option, or stray arguments.
 */
export function parseInstallArgs(argv: readonly string[]): InstallRequest {
  const sshOptions: string[] = [];
  const executables: string[] = [];
  const flags = new Set<string>();
  let shell: string | undefined;
  let destination: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const equals = arg.indexOf("=");
    const [name, inline] = arg.startsWith("--") && equals > 0 ? [arg.slice(0, equals), arg.slice(equals + 1)] : [arg, undefined];
    if (name in OWN_OPTIONS) {
      if (!OWN_OPTIONS[name]) {
        if (inline !== undefined) throw usageError(`option '${name}' takes no value`, "install");
        flags.add(name);
        continue;
      }
      const value = inline ?? argv[++i];
      if (value === undefined || value === "") throw usageError(`option '${name}' needs a value`, "install");
      if (name === "--executable") executables.push(value);
      else shell = value;
      continue;
    }
    if (arg === "--") throw new UserError("install runs no remote command: give only [ssh options] [user@]host", 2);
    if (arg.startsWith("--")) throw unknownOption(arg, [...Object.keys(OWN_OPTIONS), "--help"], "install");
    if (arg.startsWith("-") && arg.length > 1) {
      i = takeSshOption(argv, i, sshOptions);
      continue;
    }
    if (destination !== undefined) throw new UserError(`unexpected argument "${arg}" after ${destination}: install takes one host`, 2);
    destination = arg;
  }
  if (!destination) throw new UserError("no host: ssh-anchor install [options] [ssh options] [user@]host", 2);
  return { sshOptions, destination, executables, shell, force: flags.has("--force"), dryRun: flags.has("--dry-run"), quiet: flags.has("--quiet") };
}
