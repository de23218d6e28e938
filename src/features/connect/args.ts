import { homedir } from "node:os";
import { UserError } from "../../shared/core/errors.js";
import { GPG_FORWARD, parseForwardSpec, type Forward } from "../../shared/core/forwards.js";
import { SESSION_NAME } from "../../shared/core/session-name.js";
import { takeSshOption } from "../../shared/core/ssh-options.js";
import { unknownOption } from "../../shared/core/usage.js";

export type Multiplexer = "tmux" | "screen";

/** The remote session connect attaches (or creates) when --session names none. */
export const DEFAULT_SESSION = "main";

/** What `ssh-anchor connect` was asked to do. */
export interface ConnectRequest {
  /** Options for ssh itself, passed through untouched, in order. */
  readonly sshOptions: string[];
  readonly destination: string;
  /** Run this instead of a multiplexer (after `--`). */
  readonly command: string[];
  readonly multiplexer: Multiplexer;
  readonly session: string;
  readonly logFile?: string;
  readonly maxAttempts?: number;
  readonly maxTimeSeconds?: number;
  readonly aliveInterval?: number;
  readonly aliveCountMax?: number;
  /** Forward the laptop's restricted gpg-agent socket as "gpg" (--gpg). */
  readonly gpg: boolean;
  /** `--forward NAME=SOCKET`, in order, each name once. */
  readonly forwards: readonly Forward[];
}

/** ssh-anchor's own long options for connect, and whether each takes a value. */
const OWN_OPTIONS: Record<string, boolean> = {
  "--session": true,
  "--screen": false,
  "--log": true,
  "--max-attempts": true,
  "--max-time": true,
  "--alive-interval": true,
  "--alive-count-max": true,
  "--gpg": false,
  "--forward": true,
};

/**
 * Splits `connect`'s arguments into ssh-anchor's options, ssh's options (by ssh's own grammar,
 * so `-p 2222`, `-o Foo=bar`, `-J jump` and bundles like `-At` pass through intact), the
 * destination, and an optional command after `--`.
 *
 * @example
 * parseConnectArgs(["--session", "work", "-p", "2222", "me@host"])
 * // { sshOptions: ["-p", "2222"], destination: "me@host", session: "work", ... }
 * @throws {UserError} on a missing destination, a dangling option, or stray arguments.
 */
export function parseConnectArgs(argv: readonly string[], home: string = homedir()): ConnectRequest {
  const own: Record<string, string | true> = {};
  const forwards: Forward[] = [];
  const sshOptions: string[] = [];
  let destination: string | undefined;
  let command: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === "--") {
      command = argv.slice(i + 1);
      if (command.length === 0) throw new UserError("nothing after --: give the command to run, or leave out --", 2);
      break;
    }
    const [name, inline] = arg.startsWith("--") ? splitLong(arg) : [arg, undefined];
    if (name in OWN_OPTIONS) {
      if (!OWN_OPTIONS[name]) own[name] = true;
      else {
        const value = inline ?? argv[++i];
        if (value === undefined) throw new UserError(`${name} needs a value`, 2);
        if (name === "--forward") forwards.push(forwardOf(value, home, forwards));
        else own[name] = value;
      }
      continue;
    }
    if (arg.startsWith("--")) throw unknownOption(arg, [...Object.keys(OWN_OPTIONS), "--help"], "connect");
    if (arg.startsWith("-") && arg.length > 1) {
      i = takeSshOption(argv, i, sshOptions);
      continue;
    }
    if (destination !== undefined) {
      throw new UserError(`unexpected argument "${arg}" after ${destination}: put a remote command after --`, 2);
    }
    destination = arg;
  }
  if (!destination) throw new UserError("no destination: ssh-anchor connect [options] [user@]host", 2);
  const session = typeof own["--session"] === "string" ? own["--session"] : DEFAULT_SESSION;
  if (!SESSION_NAME.test(session)) {
    throw new UserError(`session name "${session}" may hold only letters, digits and _ . @ -`, 2);
  }
  return {
    sshOptions,
    destination,
    command,
    multiplexer: own["--screen"] ? "screen" : "tmux",
    session,
    logFile: typeof own["--log"] === "string" ? own["--log"] : undefined,
    maxAttempts: number(own, "--max-attempts", true),
    maxTimeSeconds: number(own, "--max-time"),
    // ssh takes whole seconds and counts only: "1.5" would fail in ssh with "invalid time value".
    aliveInterval: number(own, "--alive-interval", true),
    aliveCountMax: number(own, "--alive-count-max", true),
    gpg: gpgFlag(own, forwards),
    forwards,
  };
}

/** One `--forward NAME=SOCKET`, its name not given before. */
function forwardOf(value: string, home: string, earlier: readonly Forward[]): Forward {
  const forward = parseForwardSpec(value, home);
  if (typeof forward === "string") throw new UserError(`--forward ${value}: ${forward}`, 2);
  if (earlier.some((other) => other.name === forward.name)) throw new UserError(`--forward ${forward.name} is given twice: one socket per name`, 2);
  return forward;
}

function gpgFlag(own: Record<string, string | true>, forwards: readonly Forward[]): boolean {
  const gpg = own["--gpg"] === true;
  if (gpg && forwards.some((forward) => forward.name === GPG_FORWARD)) {
    throw new UserError("--gpg and --forward gpg=SOCKET name two sockets for gpg: give one", 2);
  }
  return gpg;
}

function splitLong(arg: string): [string, string | undefined] {
  const equals = arg.indexOf("=");
  return equals === -1 ? [arg, undefined] : [arg.slice(0, equals), arg.slice(equals + 1)];
}

function number(own: Record<string, string | true>, name: string, whole = false): number | undefined {
  const value = own[name];
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (typeof value !== "string" || value.trim() === "" || !Number.isFinite(parsed) || parsed <= 0 || (whole && !Number.isInteger(parsed))) {
    throw new UserError(`${name} takes a positive ${whole ? "whole " : ""}number, not "${String(value)}"`, 2);
  }
  return parsed;
}
