import { closeSync, createWriteStream, fstatSync, openSync, renameSync, type WriteStream } from "node:fs";
import { printable } from "./text.js";
import { APPEND_NO_FOLLOW, currentUid } from "./trust.js";

/** Where log lines go, and how much detail. */
export interface LogOptions {
  /** A file to append to; stderr when absent. */
  readonly file?: string;
  readonly verbose?: boolean;
  /** The file is rotated to `<file>.1` past this size, so the log never grows without bound. */
  readonly maxBytes?: number;
}

/** A message longer than this is cut (with "..."): no line ssh-anchor logs comes near it. */
const MAX_LINE_CHARS = 4096;

/** Lines waiting for the disk beyond this are dropped (and counted): memory stays bounded. */
const MAX_BUFFERED_BYTES = 256 * 1024;

/** Whether stderr failed (its terminal closed, its reader gone): nothing is written to it again. */
let stderrFailed = false;
let stderrWatched = false;

/**
 * A line for stderr, dropped once stderr has failed. Its failure is an 'error' event, which
 * with no listener is an uncaught exception, which a daemon logs: to stderr, failing again, in
 * a loop that kept the process at 100% CPU, deaf to SIGTERM (red team: `run -v` in a terminal
 * then closed).
 */
function toStderr(line: string): void {
  if (!stderrWatched) {
    stderrWatched = true;
    process.stderr.on("error", () => (stderrFailed = true));
  }
  if (!stderrFailed) process.stderr.write(line);
}

/**
 * A line-oriented log that never blocks or breaks the proxy: writes are asynchronous, bounded
 * in memory, and a failing disk (full, removed) only loses log lines.
 */
export class Log {
  readonly verbose: boolean;
  #file: string | undefined;
  readonly #maxBytes: number;
  #stream: WriteStream | undefined;
  #written = 0;
  #dropped = 0;

  constructor(options: LogOptions = {}) {
    this.verbose = options.verbose ?? false;
    this.#file = options.file;
    this.#maxBytes = options.maxBytes ?? 1024 * 1024;
  }

  info(message: string): void {
    this.#write(message);
  }

  /** Only with --verbose: every connection's routing. */
  detail(message: string): void {
    if (this.verbose) this.#write(message);
  }

  /** Goes on in another file (the daemon moved to its fallback directory). */
  moveTo(file: string): void {
    if (!this.#file) return;
    this.close();
    this.#file = file;
  }

  /** Flushes and closes the file; `done` runs once the lines are written. */
  close(done?: () => void): void {
    if (this.#stream) this.#stream.end(done);
    else done?.();
    this.#stream = undefined;
  }

  #write(message: string): void {
    // A message may hold what others supplied (a path, ssh's last words, a remote's): through
    // the one sanitiser, so that a log line stays one line and a terminal showing it (tail -f,
    // stderr) is never driven by it.
    const line = `${new Date().toISOString()} ${printable(message, MAX_LINE_CHARS)}\n`;
    if (!this.#file) {
      toStderr(line);
      return;
    }
    const stream = this.#open();
    if (!stream || stream.writableLength > MAX_BUFFERED_BYTES) {
      this.#dropped += 1;
      return;
    }
    if (this.#dropped > 0) {
      stream.write(`${new Date().toISOString()} (${this.#dropped} log lines dropped: the log file could not take them)\n`);
      this.#dropped = 0;
    }
    stream.write(line);
    this.#written += line.length;
    if (this.#written > this.#maxBytes) this.#rotate();
  }

  #open(): WriteStream | undefined {
    if (!this.#stream) {
      // Opened here, not by the stream later: the file must exist at once so that rotation
      // (a rename) works even for lines written in the same tick.
      let fd: number;
      try {
        // Never through a symlink, and only into a file of our own: a log is not a way to
        // write into someone else's file.
        fd = openSync(this.#file as string, APPEND_NO_FOLLOW, 0o600);
      } catch {
        // Cannot open (disk full, directory gone): this line is lost, the next one tries again.
        return undefined;
      }
      const stats = fstatSync(fd);
      if (!stats.isFile() || stats.uid !== currentUid()) {
        closeSync(fd);
        return undefined;
      }
      const stream = createWriteStream("", { fd });
      // A full or vanished disk must cost log lines only; the next line reopens the file.
      stream.on("error", () => {
        if (this.#stream === stream) this.#stream = undefined;
      });
      this.#stream = stream;
      this.#written = stats.size;
    }
    return this.#stream;
  }

  #rotate(): void {
    const file = this.#file as string;
    this.#stream?.end();
    this.#stream = undefined;
    this.#written = 0;
    try {
      renameSync(file, `${file}.1`);
    } catch {
      // Nothing to rotate, or the disk is gone: the next write tries again.
    }
  }
}
