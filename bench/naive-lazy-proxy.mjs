/**
 * The naive relay made lazy: the upstream is connected only when the client's first bytes
 * have come (as ssh-anchor does, so that a client that sends nothing or garbage never costs a
 * forwarded channel). The floor of any relay with that guarantee, beside the eager naive one.
 * node bench/naive-lazy-proxy.mjs <listen path> <agent path>.
 */
import { connect, createServer } from "node:net";

const [listenPath, agentPath] = process.argv.slice(2);
createServer((client) => {
  client.once("data", (first) => {
    client.pause();
    const upstream = connect({ path: agentPath });
    upstream.write(first);
    client.pipe(upstream);
    upstream.pipe(client);
    upstream.on("error", () => client.destroy());
  });
  client.on("error", () => client.destroy());
}).listen(listenPath, () => process.stdout.write("ready\n"));
