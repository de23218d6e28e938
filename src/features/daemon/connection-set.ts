import type { Socket } from "node:net";
import { TIMING } from "../../shared/core/timing.js";
import type { Counters } from "../../shared/control/status.js";
import { ProxiedConnection, type ConnectionContext } from "./connection.js";
import type { DescriptorShortage } from "./descriptor-shortage.js";
import { monotonicMs } from "../../shared/core/clock.js";

export interface ConnectionSetOptions {
  readonly counters: Counters;
  readonly shortage: DescriptorShortage;
  /** A connection was accepted (the idle exit stops counting down). */
  readonly onBusy: () => void;
  /** The last open connection ended (the idle exit starts counting down). */
  readonly onIdle: () => void;
}

/**
 * The client connections the daemon serves: accepted (or shed while out of descriptors),
 * counted, swept for unanswered requests while any is open (the sweep ends at its first look
 * that finds none), and released when they end.
 *
 * @example
 * const connections = new ConnectionSet({ counters, shortage, onBusy, onIdle });
 * server.on("connection", (socket) => connections.accept(socket, context)); // context.release = (c) => connections.release(c)
 */
export class ConnectionSet {
  readonly #options: ConnectionSetOptions;
  readonly #open = new Set<ProxiedConnection>();
  #sweepTimer: NodeJS.Timeout | undefined;

  constructor(options: ConnectionSetOptions) {
    this.#options = options;
  }

  get size(): number {
    return this.#open.size;
  }

  accept(socket: Socket, context: ConnectionContext): void {
    const { counters } = this.#options;
    if (this.#options.shortage.now()) {
      // Out of descriptors a moment ago: this one would need an upstream descriptor too.
      // Closing it at once keeps the open connections served and the client not waiting.
      counters.shed += 1;
      socket.on("error", () => undefined);
      socket.destroy();
      return;
    }
    counters.served += 1;
    counters.active += 1;
    this.#open.add(new ProxiedConnection(socket, context));
    this.#options.onBusy();
    this.#sweepTimer ??= setInterval(() => this.#sweep(), TIMING.sweepMs);
  }

  release(connection: ProxiedConnection): void {
    if (!this.#open.delete(connection)) return;
    this.#options.counters.active -= 1;
    this.#options.shortage.clear();
    // The sweep stops at its next look that finds nothing open: a client that connects once per
    // request (ssh-add, git) does not create and clear a timer for every connection.
    if (this.#open.size === 0) this.#options.onIdle();
  }

  /** No more looks at unanswered requests: none is open, or the daemon is stopping. */
  stopSweeping(): void {
    clearInterval(this.#sweepTimer);
    this.#sweepTimer = undefined;
  }

  /** Closes every connection (the daemon is stopping). */
  destroyAll(): void {
    for (const connection of [...this.#open]) connection.destroy();
  }

  #sweep(): void {
    if (this.#open.size === 0) {
      this.stopSweeping();
      return;
    }
    const now = monotonicMs();
    for (const connection of this.#open) {
      if (connection.outstanding > 0) void connection.checkLate(now);
    }
  }
}
