import { UserError } from "./errors.js";

/**
 * The one shape of a usage error, for every command and every parser (commander's, connect's,
 * install's):
 *
 *     ssh-anchor: unknown option '--fixx' (did you mean --fix?); see ssh-anchor doctor --help
 *
 * what went wrong, a suggestion when a known word is close to what was typed, and where the
 * usage is; exit status 2. (The "ssh-anchor: " prefix is printError's.)
 */
export const USAGE_EXIT_STATUS = 2;

/** Edit distance with adjacent transpositions (optimal string alignment): "--fxi" is 1 from "--fix". */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min((d[i - 1]?.[j] ?? 0) + 1, (d[i]?.[j - 1] ?? 0) + 1, (d[i - 1]?.[j - 1] ?? 0) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, (d[i - 2]?.[j - 2] ?? 0) + 1);
      (d[i] as number[])[j] = best;
    }
  }
  return d[a.length]?.[b.length] ?? 0;
}

/**
 * The known word closest to `typed`, when it is close enough to be what was meant: at most 2
 * edits, and fewer than half of the typed word's letters (leading dashes aside). A value after
 * `=` (`--sesion=work`) is not part of the word.
 * @example closest("--fixx", ["--fix", "--json"]) // "--fix"
 * @example closest("--zzz", ["--fix"]) // undefined
 */
export function closest(typed: string, known: readonly string[]): string | undefined {
  const word = (text: string) => text.replace(/=.*$/, "").replace(/^-+/, "");
  const bare = word(typed);
  if (bare === "") return undefined;
  let best: { candidate: string; distance: number } | undefined;
  for (const candidate of known) {
    if (typed.startsWith("--") !== candidate.startsWith("--") && typed.startsWith("-")) continue;
    const distance = editDistance(bare, word(candidate));
    if (best === undefined || distance < best.distance) best = { candidate, distance };
  }
  return best && best.distance <= 2 && best.distance * 2 < bare.length ? best.candidate : undefined;
}

/**
 * The one-line message: `what`, the suggestion if any, and the help to read.
 * @param command the command's words after `ssh-anchor` ("doctor", "service install"; "" for the program)
 * @example usageMessage("unknown option '--fixx'", "doctor", "--fix") // "unknown option '--fixx' (did you mean --fix?); see ssh-anchor doctor --help"
 */
export function usageMessage(what: string, command: string, suggestion?: string): string {
  const help = command.trim() === "" ? "ssh-anchor --help" : `ssh-anchor ${command.trim()} --help`;
  return `${what}${suggestion ? ` (did you mean ${suggestion}?)` : ""}; see ${help}`;
}

/** A usage error of that shape (exit status 2). */
export function usageError(what: string, command: string, suggestion?: string): UserError {
  return new UserError(usageMessage(what, command, suggestion), USAGE_EXIT_STATUS);
}

/**
 * An option that `command` does not know, with the closest of `known` suggested.
 * @example throw unknownOption("--sesion", ["--session", "--screen"], "connect")
 * // ssh-anchor: unknown option '--sesion' (did you mean --session?); see ssh-anchor connect --help
 */
export function unknownOption(typed: string, known: readonly string[], command: string): UserError {
  return usageError(`unknown option '${typed.replace(/=.*$/, "")}'`, command, closest(typed, known));
}

/** A command that does not exist (`ssh-anchor stauts`, `help service instal`), with the closest of `known`. */
export function unknownCommand(typed: string, known: readonly string[], parent: string): UserError {
  const words = typed.split(" ");
  return usageError(`unknown command '${typed}'`, parent, closest(words[words.length - 1] ?? typed, known));
}
