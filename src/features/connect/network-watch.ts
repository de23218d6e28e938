import { readFileSync } from "node:fs";
import { networkInterfaces } from "node:os";
import { TIMING } from "../../shared/core/timing.js";
import { monotonicMs } from "../../shared/core/clock.js";

/** What changed on the laptop's side. */
export type NetworkEvent =
  /** An address the connection may have used went away (interface down, new network). */
  | "address-lost"
  /** A new address appeared (a network came back). */
  | "address-added"
  /** The default route changed (another network, a VPN). */
  | "route-changed"
  /** The wall clock jumped ahead of the monotonic clock: the machine was asleep. */
  | "woke-up";

/** Non-internal addresses, as "interface address" strings. */
function currentAddresses(): Set<string> {
  const addresses = new Set<string>();
  for (const [name, entries] of Object.entries(networkInterfaces())) {
    for (const entry of entries ?? []) if (!entry.internal) addresses.add(`${name} ${entry.address}`);
  }
  return addresses;
}

/** The default route's interface and gateway (Linux); empty where /proc/net/route is absent. */
function defaultRoute(): string {
  try {
    return readFileSync("/proc/net/route", "utf8")
      .split("\n")
      .filter((line) => line.split("\t")[1] === "00000000")
      .map((line) => line.split("\t").slice(0, 3).join(" "))
      .sort()
      .join(";");
  } catch {
    return "";
  }
}

/**
 * Polls the machine's addresses, default route and clocks, and reports changes that make an
 * open SSH connection suspect (or a dead one worth retrying at once). Polling costs a few
 * microseconds a tick and needs no privileges or native code.
 *
 * @example
 * const watch = new NetworkWatch((event) => console.log(event));
 * watch.start(); // ... watch.stop();
 */
export class NetworkWatch {
  #addresses = currentAddresses();
  #route = defaultRoute();
  #wall = Date.now();
  #mono = monotonicMs();
  #timer: NodeJS.Timeout | undefined;

  constructor(private readonly onEvent: (event: NetworkEvent, detail: string) => void) {}

  start(): void {
    this.#timer ??= setInterval(() => this.#tick(), TIMING.networkPollMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #tick(): void {
    const wall = Date.now();
    const mono = monotonicMs();
    const gap = wall - this.#wall - (mono - this.#mono);
    this.#wall = wall;
    this.#mono = mono;
    if (gap > TIMING.sleepGapMs) this.onEvent("woke-up", `the clock jumped ${Math.round(gap / 1000)} s`);

    const addresses = currentAddresses();
    const lost = [...this.#addresses].filter((address) => !addresses.has(address));
    const added = [...addresses].filter((address) => !this.#addresses.has(address));
    this.#addresses = addresses;
    if (lost.length > 0) this.onEvent("address-lost", lost.join(", "));
    else if (added.length > 0) this.onEvent("address-added", added.join(", "));

    const route = defaultRoute();
    if (route !== this.#route) {
      this.#route = route;
      this.onEvent("route-changed", route || "no default route");
    }
  }
}
