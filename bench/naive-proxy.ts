/**
 * The baseline every Node agent proxy starts from: accept, connect upstream, pipe both ways.
 * Run as its own process: node bench/naive-proxy.ts <listen path> <agent path>.
 */
import { connect, createServer } from "node:net";

const [listenPath, agentPath] = process.argv.slice(2) as [string, string];
createServer((client) => {
  const upstream = connect({ path: agentPath });
  client.pipe(upstream);
  upstream.pipe(client);
  client.on("error", () => upstream.destroy());
  upstream.on("error", () => client.destroy());
}).listen(listenPath, () => process.stdout.write("ready\n"));
