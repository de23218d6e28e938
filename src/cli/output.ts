import { UserError } from "../shared/core/errors.js";
import { printable, printableJson } from "../shared/core/text.js";

/**
 * Every byte the command line prints goes through this file, and everything in it that is not
 * ssh-anchor's own shell code goes through ONE sanitiser (`printable`, `printableJson` of
 * src/shared/core/text.ts): text from an agent (key comments), a file, another process (tmux,
 * screen, /proc) or a remote host can neither move the cursor, set the title, clear the screen,
 * nor forge a line of its own. Lines are written as lines: a line break inside a piece of
 * text is data, printed as `?`.
 */

/** Colour only on a terminal that has it, never with NO_COLOR (tty.hasColors honours it). */
export function colorEnabled(stream: NodeJS.WriteStream = process.stdout): boolean {
  return Boolean(stream.isTTY && stream.hasColors?.());
}

const CODES = { red: 31, green: 32, yellow: 33, dim: 2, bold: 1 } as const;
export type Style = keyof typeof CODES;

/** A piece of a line to show in a style (colour); the escape codes are added when printed. */
export interface Painted {
  readonly text: string;
  readonly style: Style;
}

/** A piece of a line: text, or text in a style. */
export type Piece = string | Painted;

/** One line of output, without its line break: one piece or several. */
export type Line = Piece | readonly Piece[];

/** Text to show in `style` when the terminal has colour. */
export function paint(text: string, style: Style): Painted {
  return { text, style };
}

/** Far longer than any line ssh-anchor makes; a piece longer than this was not meant for a terminal. */
const MAX_PIECE_CHARS = 4096;

/**
 * The lines as they are printed: each piece made printable (the one sanitiser), then painted.
 * Exported for the tests; commands call printLines.
 */
export function renderLines(lines: readonly Line[], color: boolean): string {
  const piece = (part: Piece): string => {
    if (typeof part === "string") return printable(part, MAX_PIECE_CHARS);
    const text = printable(part.text, MAX_PIECE_CHARS);
    return color ? `\u001b[${CODES[part.style]}m${text}\u001b[0m` : text;
  };
  const pieces = (line: Line): readonly Piece[] => (Array.isArray(line) ? line : [line as Piece]);
  return lines.map((line) => `${pieces(line).map(piece).join("")}\n`).join("");
}

/** Prints lines (on standard output unless told), in colour where the stream has it. */
export function printLines(lines: readonly Line[], stream: NodeJS.WriteStream = process.stdout): void {
  if (lines.length) stream.write(renderLines(lines, colorEnabled(stream)));
}

/** Prints `value` as a JSON document, with every unsafe code point (C0, C1, bidi) escaped. */
export function printJson(value: unknown, stream: NodeJS.WriteStream = process.stdout): void {
  stream.write(`${printableJson(value, 2)}\n`);
}

/**
 * Prints ssh-anchor's own shell code or file text (init, rc, completion scripts, unit files)
 * as it is: the one output that is not data, so it is not sanitised. Nothing from outside may
 * be passed here.
 */
export function printScript(text: string): void {
  process.stdout.write(text);
}

/** One error (or warning) line on stderr, prefixed with the program's name. */
export function printError(message: string): void {
  printLines([`ssh-anchor: ${message}`], process.stderr);
}

/**
 * Runs a command body: an expected failure (UserError) becomes one line on stderr and its exit
 * status; anything else is a bug and keeps its stack trace.
 */
export async function runCommand(body: () => Promise<number | void>): Promise<void> {
  try {
    const status = await body();
    if (typeof status === "number") process.exitCode = status;
  } catch (error) {
    if (error instanceof UserError) {
      printError(error.message);
      process.exitCode = error.exitCode;
      return;
    }
    throw error;
  }
}

export function formatDuration(seconds: number): string {
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${m}m`;
  if (m > 0) return `${m}m ${s}s`;
  return `${s}s`;
}
