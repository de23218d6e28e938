import { UserError } from "../shared/core/errors.js";

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
