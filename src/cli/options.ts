import { UserError } from "../shared/core/errors.js";
import { usageError, USAGE_EXIT_STATUS } from "../shared/core/usage.js";

/**
 * Commander's parser for a whole-number option of at least `least`. A blank value is refused
 * rather than read as 0, which is what Number() makes of it.
 */
function wholeNumber(name: string, least: number, wanted: string): (value: string) => number {
  return (value) => {
    const number = Number(value);
    if (value.trim() === "" || !Number.isInteger(number) || number < least) throw new UserError(`${name} takes ${wanted}, not "${value}"`, 2);
    return number;
  };
}

/**
 * Parses a positive whole number option.
 * @example program.option("--probe-timeout <ms>", "...", positiveInteger("--probe-timeout"))
 */
export function positiveInteger(name: string): (value: string) => number {
  return wholeNumber(name, 1, "a positive whole number");
}

/**
 * Parses a duration option in whole seconds where 0 is allowed (it turns the wait off).
 * @example service.option("--idle-exit <seconds>", "... (0: never)", wholeSeconds("--idle-exit"))
 */
export function wholeSeconds(name: string): (value: string) => number {
  return wholeNumber(name, 0, "a whole number of seconds");
}

/**
 * Collects a repeatable option.
 * @example program.option("-a, --agent-dir <dir>", "...; repeatable", collect)
 */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** Whether a message already has the one shape's pointer to the help (src/shared/core/usage.ts). */
const POINTS_TO_HELP = /; see ssh-anchor [\w -]*--help$/;

/**
 * A usage error (status 2) in the one shape of src/shared/core/usage.ts: the message, then
 * where the usage of `command` is. One that already has it is left as it is.
 * @example withUsageHelp(new UserError("--log needs a value", 2), "connect").message // "--log needs a value; see ssh-anchor connect --help"
 */
export function withUsageHelp(error: UserError, command: string): UserError {
  if (error.exitCode !== USAGE_EXIT_STATUS || POINTS_TO_HELP.test(error.message)) return error;
  return usageError(error.message, command);
}

/** Runs a command's own argument parser (connect's, install's); its usage errors take the one shape. */
export function parseFor<T>(command: string, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    throw error instanceof UserError ? withUsageHelp(error, command) : error;
  }
}
