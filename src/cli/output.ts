import { UserError } from "../shared/core/errors.js";

/** Colour only on a terminal that has it, never with NO_COLOR (tty.hasColors honours it). */
export function colorEnabled(stream: NodeJS.WriteStream = process.stdout): boolean {
  return Boolean(stream.isTTY && stream.hasColors?.());
}

const CODES = { red: 31, green: 32, yellow: 33, dim: 2, bold: 1 } as const;
export type Style = keyof typeof CODES;

export function paint(text: string, style: Style, enabled: boolean): string {
  return enabled ? `\u001b[${CODES[style]}m${text}\u001b[0m` : text;
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
      process.stderr.write(`ssh-anchor: ${error.message}\n`);
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
