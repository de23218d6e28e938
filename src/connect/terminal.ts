import { spawnSync } from "node:child_process";

/**
 * Modes a full-screen program may leave behind when its connection dies under it: alternate
 * screen, hidden cursor, mouse reporting, bracketed paste, focus events, application keys,
 * colours. Switching each off is harmless when it was not on.
 */
const RESET_MODES = "\u001b[?1049l\u001b[?25h\u001b[?1000l\u001b[?1002l\u001b[?1003l\u001b[?1006l\u001b[?2004l\u001b[?1004l\u001b[?1l\u001b>\u001b[0m";

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

  /** Puts the terminal back in the state it was in at start. */
  restore(): void {
    if (!this.interactive) return;
    if (this.#saved) stty([this.#saved]);
    process.stderr.write(RESET_MODES);
  }

  /** Shows one status line, replacing the previous one. */
  status(text: string): void {
    process.stderr.write(this.interactive ? `\r\u001b[2K${text}` : `${text}\n`);
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
  const result = spawnSync("stty", args, { stdio: ["inherit", "pipe", "ignore"], encoding: "utf8" });
  return result.status === 0 ? result.stdout.trim() : undefined;
}
