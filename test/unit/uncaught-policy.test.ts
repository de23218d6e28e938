import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { LIMITS } from "../../src/features/daemon/policy.js";
import { keepServingThroughBugs } from "../../src/features/daemon/uncaught-policy.js";

describe("an uncaught exception in the daemon", () => {
  after(() => {
    process.exitCode = undefined;
  });

  it("is logged and survived, until too many come within a minute: then a clean stop, status 70", () => {
    const lines: string[] = [];
    let stops = 0;
    const before = new Set(process.listeners("uncaughtException"));
    keepServingThroughBugs((message) => lines.push(message), () => (stops += 1));
    // Called directly, not emitted: the test runner's own listener would count it as a failure.
    const policy = process.listeners("uncaughtException").find((listener) => !before.has(listener));
    assert.ok(policy);
    process.off("uncaughtException", policy);
    for (let i = 0; i < LIMITS.uncaughtPerMinute; i++) policy(new Error(`bug ${i}`), "uncaughtException");
    assert.equal(stops, 0);
    assert.ok(lines.at(-1)?.startsWith(`internal error (a bug; still serving): Error: bug ${LIMITS.uncaughtPerMinute - 1}`));
    policy(new Error("one too many"), "uncaughtException");
    assert.equal(stops, 1);
    assert.equal(process.exitCode, 70);
    assert.ok(lines.at(-1)?.startsWith(`internal error, ${LIMITS.uncaughtPerMinute + 1} in a minute, stopping: Error: one too many`));
  });
});
