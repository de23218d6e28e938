import type { Server } from "node:net";
import { listening } from "./listener.js";

/** The first descriptor systemd passes (sd_listen_fds(3)). */
const SD_LISTEN_FDS_START = 3;

/**
 * The listening socket systemd (or systemd-socket-activate) passed to this process, if any:
 * LISTEN_PID names this process and LISTEN_FDS is at least 1. The variables are removed so that
 * nothing this process starts believes they are meant for it.
 */
export function activationDescriptor(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const mine = env.LISTEN_PID === String(process.pid) && Number(env.LISTEN_FDS) >= 1;
  delete env.LISTEN_PID;
  delete env.LISTEN_FDS;
  delete env.LISTEN_FDNAMES;
  return mine ? SD_LISTEN_FDS_START : undefined;
}

/** Serves on an inherited listening socket. Closing it later does not unlink its path: the
 * socket file belongs to whoever bound it. */
export function listenOnDescriptor(server: Server, fd: number): Promise<void> {
  return listening(server, () => server.listen({ fd }));
}

/**
 * The idle exit of a socket-activated daemon: after `ms` with nothing open (no client
 * connection, no control command being answered), `onIdle` runs once; it decides whether to
 * exit (the daemon does not while it serves scoped sockets: see Daemon). When it exits, the
 * daemon stops accepting at once; a client that connects from that moment waits in the listening
 * socket, which systemd keeps, and systemd starts the daemon again for it.
 */
export class IdleExit {
  readonly #ms: number;
  readonly #onIdle: () => void;
  #timer: NodeJS.Timeout | undefined;

  constructor(ms: number, onIdle: () => void) {
    this.#ms = ms;
    this.#onIdle = onIdle;
  }

  /** Something opened: no exit while it lasts. */
  busy(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Nothing is open (any more): the countdown starts again. It never keeps the process alive
   * by itself (the listening sockets do), so a daemon stopped otherwise exits at once. */
  idle(): void {
    this.busy();
    this.#timer = setTimeout(this.#onIdle, this.#ms);
    this.#timer.unref();
  }
}
