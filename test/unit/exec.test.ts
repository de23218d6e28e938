import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { runOnTerminal, runProgram } from "../../src/shared/core/exec.js";
import { readSshConfig } from "../../src/shared/core/ssh-config.js";

describe("running another program for its output", () => {
  it("gives its output and status, and no failure for status 0", async () => {
    const run = await runProgram("sh", ["-c", "echo out; echo err >&2"], { timeoutMs: 5000 });
    assert.deepEqual(run, { code: 0, stdout: "out\n", stderr: "err\n", missing: false, failure: undefined });
  });

  it("reports a non-zero status with what the program said", async () => {
    const run = await runProgram("sh", ["-c", "echo partial; exit 3"], { timeoutMs: 5000 });
    assert.equal(run.code, 3);
    assert.equal(run.stdout, "partial\n");
    assert.equal(run.failure, "sh exited with status 3");
  });

  it("tells a program that is not installed", async () => {
    const run = await runProgram("ssh-anchor-no-such-program", [], { timeoutMs: 5000 });
    assert.equal(run.missing, true);
    assert.equal(run.code, null);
    assert.equal(run.failure, "ssh-anchor-no-such-program is not installed (not found on PATH)");
  });

  it("stops a program that outlives its time, and says so", async () => {
    const started = performance.now();
    const run = await runProgram("sleep", ["10"], { timeoutMs: 200 });
    assert.ok(performance.now() - started < 5000);
    assert.equal(run.code, null);
    assert.equal(run.failure, "sleep did not finish within 200 ms");
    const blocking = runOnTerminal("sleep", ["10"], { timeoutMs: 200 });
    assert.equal(blocking.failure, "sleep did not finish within 200 ms");
  });

  it("stops a program whose output exceeds the bound", async () => {
    const run = await runProgram("yes", [], { timeoutMs: 10_000 });
    assert.equal(run.code, null);
    assert.ok(run.failure);
  });

  it("passes the environment it is given", async () => {
    const run = await runProgram("sh", ["-c", 'echo "$ANCHOR_EXEC_TEST"'], { timeoutMs: 5000, env: { ...process.env, ANCHOR_EXEC_TEST: "given" } });
    assert.equal(run.stdout, "given\n");
  });
});

describe("ssh's effective settings", () => {
  it("are ssh's own answer, options included, keys in lower case", async () => {
    const read = await readSshConfig(["-p", "2222", "-o", "User=someone"], "example.invalid", 10_000);
    assert.equal(read.kind, "read");
    assert.equal(read.kind === "read" && read.settings.get("port"), "2222");
    assert.equal(read.kind === "read" && read.settings.get("user"), "someone");
  });

  it("fail with ssh's last word when ssh rejects the options", async () => {
    const read = await readSshConfig(["-o", "NoSuchOption=1"], "example.invalid", 10_000);
    assert.equal(read.kind, "failed");
    assert.match(read.kind === "failed" ? read.reason : "", /nosuchoption|Bad configuration option/i);
  });
});
