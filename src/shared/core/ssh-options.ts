import { UserError } from "./errors.js";

/**
 * ssh(1)'s option grammar (OpenSSH 7 to 10), for commands that take ssh's own options mixed
 * with theirs (connect, install): options that take no argument,
 * and those that take one.
 */
export const SSH_FLAGS: ReadonlySet<string> = new Set("46AaCfGgKkMNnqsTtVvXxYy");
export const SSH_FLAGS_WITH_VALUE: ReadonlySet<string> = new Set("BbcDEeFIiJLlmOoPpQRSWw");

/**
 * Copies the ssh option at `argv[i]` (with its value, by ssh's grammar: `-p 2222`, `-p2222`,
 * bundles such as `-At`) to `out`, and returns the index of its last word.
 * @throws {UserError} (status 2) on a letter ssh does not know, or a value missing at the end.
 * @example const out: string[] = []; takeSshOption(["-p", "22", "host"], 0, out) // 1, out = ["-p", "22"]
 */
export function takeSshOption(argv: readonly string[], i: number, out: string[]): number {
  const arg = argv[i] as string;
  out.push(arg);
  for (let j = 1; j < arg.length; j++) {
    const letter = arg[j] as string;
    if (SSH_FLAGS_WITH_VALUE.has(letter)) {
      if (j < arg.length - 1) return i; // value attached: -p2222
      const value = argv[i + 1];
      if (value === undefined) throw new UserError(`ssh option -${letter} needs a value`, 2);
      out.push(value);
      return i + 1;
    }
    if (!SSH_FLAGS.has(letter)) throw new UserError(`unknown ssh option -${letter}`, 2);
  }
  return i;
}

/**
 * `text` as one word for a POSIX shell (and for fish and csh, which read `'...'` and `\'` the
 * same way as long as the text holds no backslash pair): in single quotes, a quote as `'\''`.
 * @example shellQuote("it's") // "'it'\\''s'"
 */
export function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}
