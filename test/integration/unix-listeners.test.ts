import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { after, describe, it } from "node:test";
import { PROC_NET_UNIX_MAX_BYTES, readListeners } from "../../src/shared/discovery/unix-listeners.js";
import { Cleanup } from "../helpers/process.js";

/**
 * /proc/net/unix holds every user's sockets, so another user decides its size (the red team's
 * flood: thousands of listening abstract sockets with long names made a daemon's periodic read
 * of it cost a full core and gigabytes). It is read up to a bound; past it there is no listing.
 */
describe("the system's listening sockets (/proc/net/unix), read up to a bound", () => {
  const cleanup = new Cleanup();
  after(() => cleanup.run());

  it("finds a listening socket by its path and inode", async () => {
    const path = `/tmp/anchor-listeners-${process.pid}.sock`;
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(path, resolve));
    cleanup.add(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const paths = [...((await readListeners()) ?? new Map()).values()];
    assert.ok(paths.includes(path), "the read lists it");
  });

  /** Another process listening on `count` abstract sockets with long names (about 150 bytes of
   * the listing each), up when this resolves. */
  let floods = 0;
  const flood = async (count: number): Promise<void> => {
    const prefix = `anchor-flood-${(floods += 1)}-`;
    const script = `const { createServer } = require("node:net"); let up = 0;
      for (let i = 0; i < ${count}; i++) { const s = createServer(); s.on("error", () => {});
        s.listen({ path: "\\0" + "${prefix}".padEnd(90, "x") + i }, () => { if (++up === ${count}) console.log("ready"); }); }
      setInterval(() => {}, 1000);`;
    const child = spawn("bash", ["-c", `ulimit -n ${count + 100} && exec node -e '${script}'`], { stdio: ["ignore", "pipe", "pipe"] });
    const stopped = new Promise<void>((resolve) => child.on("exit", () => resolve()));
    cleanup.add(() => {
      child.kill("SIGKILL");
      return stopped;
    });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the flood of ${count} sockets was not up within 60 s: ${stderr}`)), 60_000);
      child.stdout.on("data", (chunk: Buffer) => {
        if (chunk.toString().includes("ready")) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.on("exit", (code) => reject(new Error(`the flood exited (${code}): ${stderr}`)));
    });
  };

  it("reads a listing larger than its first read whole (the buffer grows up to the bound)", async () => {
    await flood(2000); // about 300 KB, past the first read's 64 KiB
    const path = `/tmp/anchor-listeners-big-${process.pid}.sock`;
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(path, resolve));
    cleanup.add(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const listed = (await readListeners()) ?? new Map<number, string>();
    assert.ok([...listed.values()].includes(path), `the read lists it (${listed.size} listed)`);
  });

  it("gives no listing, rather than a long read, once another process's sockets fill it past the bound", async () => {
    // Each line is about 150 bytes with a 90-byte abstract name: enough of them pass the bound.
    await flood(Math.ceil((PROC_NET_UNIX_MAX_BYTES * 1.2) / 150));
    assert.equal(await readListeners(), undefined);
  });
});
