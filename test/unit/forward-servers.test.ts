import assert from "node:assert/strict";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { ForwardServers } from "../../src/features/daemon/forwards/forward-servers.js";
import { run, tempDir, waitFor } from "../helpers/process.js";

/** Unix-socket handles of this process (a listening server is one). */
const pipeServers = (): number => process.getActiveResourcesInfo().filter((kind) => kind === "PipeWrap").length;

describe("the forwards' stable sockets", () => {
  const directories: string[] = [];
  after(() => Promise.all(directories.map((directory) => rm(directory, { recursive: true, force: true }))));

  it("binds a socket once when asked twice at once, a leftover in the way, and keeps no server after stop", async () => {
    const directory = await tempDir();
    directories.push(directory);
    // A socket file an earlier run left (bound, never listening): each bind must replace it.
    await run("python3", ["-c", `import socket; s = socket.socket(socket.AF_UNIX); s.bind(${JSON.stringify(join(directory, "opener.sock"))})`]);
    const log: string[] = [];
    const servers = new ForwardServers({
      directory: () => directory,
      uid: process.getuid?.() ?? 0,
      log: (message) => log.push(message),
      onConnection: (socket) => socket.destroy(),
      gpgAgentSocket: async () => undefined,
    });
    const before = pipeServers();
    // Two looks at start (the directory's first read, a change notification) both name it.
    const [first, second] = await Promise.all([servers.serve("opener"), servers.serve("opener")]);
    assert.equal(first, join(directory, "opener.sock"));
    assert.equal(second, first);
    assert.equal(pipeServers() - before, 1, `one server for the socket: ${log.join("; ")}`);
    await servers.stop();
    // Closing takes a turn of the event loop; a server nobody closed never goes.
    await waitFor("every server to be closed (the daemon must be able to exit)", () => pipeServers() === before, 2000, 20);
  });
});
