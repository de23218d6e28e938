import { Cleanup, run } from "./process.js";

/** Two network namespaces joined by a veth pair: a "server" and a "laptop" side. */
export interface TestNetwork {
  readonly server: string;
  readonly client: string;
  readonly serverAddress: string;
  /** The laptop's current address. */
  clientAddress: string;
  /** The argv that runs a command inside the laptop's namespace. */
  inClient(command: string, args: readonly string[]): [string, ...string[]];
  cut(): Promise<void>;
  restore(): Promise<void>;
  /** The laptop moves to another address with the link up (a new network). */
  moveClient(): Promise<void>;
  /** Packets to the server vanish with nothing changing on the laptop (a dead router, a
   * captive portal): a blackhole route. */
  silence(): Promise<void>;
  unsilence(): Promise<void>;
}

async function ip(args: string[]): Promise<void> {
  const result = await run("ip", args);
  if (result.code !== 0) throw new Error(`ip ${args.join(" ")}: ${result.stderr}`);
}

/**
 * Makes the namespaces (names unique to this process, traffic confined to them) and deletes
 * them on cleanup. Needs root.
 */
export async function makeNetwork(cleanup: Cleanup): Promise<TestNetwork> {
  const id = process.pid % 100_000;
  const subnet = `10.77.${process.pid % 250}`;
  const server = `anchor-srv-${id}`;
  const client = `anchor-cli-${id}`;
  const serverLink = `vas${id}`;
  const clientLink = `vac${id}`;
  cleanup.add(() => run("ip", ["netns", "del", server]));
  cleanup.add(() => run("ip", ["netns", "del", client]));
  await ip(["netns", "add", server]);
  await ip(["netns", "add", client]);
  await ip(["link", "add", serverLink, "type", "veth", "peer", "name", clientLink]);
  await ip(["link", "set", serverLink, "netns", server]);
  await ip(["link", "set", clientLink, "netns", client]);
  await ip(["-n", server, "addr", "add", `${subnet}.1/24`, "dev", serverLink]);
  await ip(["-n", client, "addr", "add", `${subnet}.2/24`, "dev", clientLink]);
  for (const [ns, link] of [[server, serverLink], [client, clientLink]] as const) {
    await ip(["-n", ns, "link", "set", "lo", "up"]);
    await ip(["-n", ns, "link", "set", link, "up"]);
  }
  // Deleting the laptop's first address must keep the second one (a move, not a cut).
  const promote = await run("ip", ["netns", "exec", client, "sysctl", "-qw", `net.ipv4.conf.${clientLink}.promote_secondaries=1`]);
  if (promote.code !== 0) throw new Error(`sysctl promote_secondaries: ${promote.stderr}`);
  let host = 2;
  const network: TestNetwork = {
    server,
    client,
    serverAddress: `${subnet}.1`,
    clientAddress: `${subnet}.2`,
    inClient: (command, args) => ["ip", "netns", "exec", client, command, ...args],
    cut: () => ip(["-n", client, "link", "set", clientLink, "down"]),
    restore: () => ip(["-n", client, "link", "set", clientLink, "up"]),
    silence: () => ip(["-n", client, "route", "add", "blackhole", `${subnet}.1/32`]),
    unsilence: () => ip(["-n", client, "route", "del", "blackhole", `${subnet}.1/32`]),
    moveClient: async () => {
      const old = `${subnet}.${host}`;
      host += 1;
      await ip(["-n", client, "addr", "add", `${subnet}.${host}/24`, "dev", clientLink]);
      await ip(["-n", client, "addr", "del", `${old}/24`, "dev", clientLink]);
      network.clientAddress = `${subnet}.${host}`;
    },
  };
  return network;
}
