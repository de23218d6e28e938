/**
 * The baseline every Node agent proxy starts from: accept, connect upstream, pipe both ways.
 * Run as its own process, plain JavaScript with no loader and no flags (what a 20-line relay
 * costs, memory included): node bench/naive-proxy.mjs <listen path> <agent path>.
 */
import { connect, createServer } from "node:net";

const [listenPath, agentPath] = process.argv.slice(2);
createServer((client) => {
  const upstream = connect({ path: agentPath });
  client.pipe(upstream);
  upstream.pipe(client);
  client.on("error", () => upstream.destroy());
  upstream.on("error", () => client.destroy());
}).listen(listenPath, () => process.stdout.write("ready\n"));
