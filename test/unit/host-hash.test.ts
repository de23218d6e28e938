import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { hostHash } from "../../src/shared/discovery/host-hash.js";
import { run } from "../helpers/process.js";

describe("hostHash", () => {
  it("matches OpenSSH's misc-agent.c recipe computed independently (Python's hashlib)", async () => {
    const script =
      "import hashlib,sys; a='abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';" +
      "print(''.join(a[b % 62] for b in hashlib.sha512(sys.argv[1].encode()).digest()[:10]))";
    const oracle = await run("python3", ["-c", script, "build-7.example.org"]);
    assert.equal(hostHash("build-7.example.org"), oracle.stdout.trim());
  });

  it("is ten letters of OpenSSH's alphabet, stable for a host and different across hosts", () => {
    assert.match(hostHash("build-7"), /^[A-Za-z0-9]{10}$/);
    assert.equal(hostHash("build-7"), hostHash("build-7"));
    assert.notEqual(hostHash("build-7"), hostHash("build-8"));
  });
});

describe("daemon memory flags", () => {
  it("are the same for `start` and for `run` through bin/ssh-anchor", async () => {
    const { DAEMON_ENV, DAEMON_NODE_FLAGS } = await import("../../src/shared/control/lifecycle.js");
    const { readFile } = await import("node:fs/promises");
    const { BIN } = await import("../helpers/process.js");
    const launcher = await readFile(BIN, "utf8");
    const env = Object.entries(DAEMON_ENV).map(([key, value]) => `${key}=${value}`).join(" ");
    assert.ok(launcher.includes(`${env} exec node ${DAEMON_NODE_FLAGS.join(" ")} "$root/dist/daemon.js" "$@"`));
  });
});
