import { runOnTerminal } from "../../shared/core/exec.js";
import { printable } from "../../shared/core/text.js";
import { TIMING } from "../../shared/core/timing.js";

/** A status line longer than this is cut: it is one line of a terminal. */
const MAX_STATUS_CHARS = 1024;

/**
 * Modes a full-screen program may leave behind when its connection dies under it: hidden cursor,
 * mouse reporting, bracketed paste, focus events, application keys, colours. Switching each off
 * is harmless when it was not on, and none of them moves the cursor.
 */
const RESET_MODES = "\u001b[?25h\u001b[?1000l\u001b[?1002l\u001b[?1003l\u001b[?1006l\u001b[?2004l\u001b[?1004l\u001b[?1l\u001b>\u001b[0m";
/** Leaves the alternate screen and puts the cursor back where it was when it was entered. Only
 * right while the alternate screen is on: otherwise it moves the cursor to a stale position. */
const LEAVE_ALTERNATE_SCREEN = "\u001b[?1049l";

/** How ssh's session ended, as far as the terminal is concerned. */
export type SessionEnd =
  /** The remote program exited or detached, and put the terminal back itself. */
  | "clean"
  /** The connection was cut under a program that had the terminal, in the alternate screen
   * (tmux, screen): nobody else will switch any of its modes off. */
  | "cut-in-alternate-screen"
  /** Cut under a program that may or may not have used the alternate screen (a command). */
  | "cut";

/**
 * The local terminal as it was before ssh ran, so that whatever ssh or the remote program did
 * to it (raw mode, alternate screen), it can be put back.
 */
export class Terminal {
  readonly #saved: string | undefined;
  readonly interactive: boolean;

  constructor() {
    this.interactive = Boolean(process.stdin.isTTY && process.stderr.isTTY);
    this.#saved = this.interactive ? stty(["-g"]) : undefined;
  }

  /**
   * Puts the terminal back the way it was at start: its line settings always (raw mode off);
   * screen modes only when the remote program could not (a cut connection), and the alternate
   * screen only when it was in use, so that the cursor stays below whatever was written last
   * (plain `ssh -t host tmux` leaves clean output after a detach, and so must connect).
   */
  restore(end: SessionEnd = "clean"): void {
    if (!this.interactive) return;
    if (this.#saved) stty([this.#saved]);
    if (end === "cut-in-alternate-screen") process.stderr.write(LEAVE_ALTERNATE_SCREEN + RESET_MODES);
    else if (end === "cut") process.stderr.write(RESET_MODES);
  }

  /** Shows one status line, replacing the previous one. */
  status(text: string): void {
    // The one sanitiser: a status line may echo ssh's or the remote's last words.
    const line = printable(text, MAX_STATUS_CHARS);
    process.stderr.write(this.interactive ? `\r\u001b[2K${line}` : `${line}\n`);
  }

  /** Replaces the status line with a line that stays (what ssh prints next goes below it). */
  line(text: string): void {
    process.stderr.write(`${this.interactive ? "\r\u001b[2K" : ""}${printable(text, MAX_STATUS_CHARS)}\n`);
  }

  /** Ends the status line. */
  clearStatus(): void {
    if (this.interactive) process.stderr.write("\r\u001b[2K");
  }

  /**
   * Reads keys until `stop` is called: Enter calls `onEnter`, Ctrl-C `onInterrupt`. Nothing
   * is read otherwise, so ssh gets every key once it runs again.
   */
  readKeys(onEnter: () => void, onInterrupt: () => void): () => void {
    if (!this.interactive) {
      process.once("SIGINT", onInterrupt);
      return () => process.off("SIGINT", onInterrupt);
    }
    const onData = (data: Buffer): void => {
      if (data.includes(0x03)) onInterrupt();
      else if (data.includes(0x0d) || data.includes(0x0a)) onEnter();
    };
    process.stdin.setRawMode(true);
    process.stdin.on("data", onData);
    process.stdin.resume();
    return () => {
      process.stdin.off("data", onData);
      process.stdin.setRawMode(false);
      process.stdin.pause();
    };
  }
}

function stty(args: string[]): string | undefined {
  const run = runOnTerminal("stty", args, { timeoutMs: TIMING.sttyMs });
  return run.code === 0 ? run.stdout.trim() : undefined;
}
