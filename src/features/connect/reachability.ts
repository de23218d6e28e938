import { dial } from "../../shared/core/dial.js";
import type { SshSettings } from "../../shared/core/ssh-config.js";
import { TIMING } from "../../shared/core/timing.js";
import { isProxied } from "./ssh-config.js";

/**
 * The host's TCP port, tried while connect waits to reconnect, so that the end of an outage is
 * noticed within a second even when no local address or route changes. What it last saw is
 * kept across waits: only a change from silent to answering counts, so that a host that
 * answers all along but refuses the login is not retried every second.
 *
 * @example
 * const reachability = Reachability.of(settings, "devbox");
 * const stop = reachability?.watch(() => console.log("the host answers again"));
 */
export class Reachability {
  readonly #host: string;
  readonly #port: number;
  /** Whether the port answered the last try; undefined before the first. */
  #answered: boolean | undefined;

  private constructor(host: string, port: number) {
    this.#host = host;
    this.#port = port;
  }

  /** The host ssh will reach; undefined through a jump host or a proxy command, whose own port
   * says nothing about the host's. */
  static of(settings: SshSettings, destination: string): Reachability | undefined {
    if (isProxied(settings)) return undefined;
    return new Reachability(settings.get("hostname") ?? destination, Number(settings.get("port") ?? 22));
  }

  /** Tries the port now and then every TIMING.reachabilityProbeMs, calling `onBack` when it
   * goes from silent to answering; returns the function that stops trying. */
  watch(onBack: () => void): () => void {
    const probe = async (): Promise<void> => {
      const dialed = await dial({ host: this.#host, port: this.#port }, TIMING.reachabilityProbeMs);
      if (dialed.kind === "connected") dialed.socket.destroy();
      const answered = dialed.kind === "connected";
      const wasSilent = this.#answered === false;
      this.#answered = answered;
      if (answered && wasSilent) onBack();
    };
    const first = setImmediate(probe);
    const timer = setInterval(probe, TIMING.reachabilityProbeMs);
    return () => {
      clearImmediate(first);
      clearInterval(timer);
    };
  }
}
