import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { MemoryKeeper } from "../../src/features/daemon/memory-keeper.js";

const CHECK_MS = 40;

/** A keeper looking every CHECK_MS at a counter the test moves; counts its collections. */
function keeperUnderTest() {
  let activity = 0;
  let collections = 0;
  const keeper = new MemoryKeeper(
    () => activity,
    () => (collections += 1),
    CHECK_MS,
  );
  keeper.start();
  return {
    serve: () => (activity += 1),
    get collections() {
      return collections;
    },
    stop: () => keeper.stop(),
  };
}

describe("MemoryKeeper", () => {
  it("collects once after start-up (its garbage is a burst's), then never while the daemon stays idle", async () => {
    const keeper = keeperUnderTest();
    await sleep(CHECK_MS * 8);
    keeper.stop();
    assert.equal(keeper.collections, 1);
  });

  it("collects once when a burst of traffic is over, then stays quiet", async () => {
    const keeper = keeperUnderTest();
    await sleep(CHECK_MS * 3);
    const afterStart = keeper.collections;
    const burst = setInterval(keeper.serve, CHECK_MS / 4);
    try {
      // The heap grows by tens of MiB during the burst, and still nothing is collected while
      // traffic goes on: a full collection then costs the next thousand connections (see the keeper).
      const grown = Array.from({ length: 1_000_000 }, (_, i) => ({ i }));
      await sleep(CHECK_MS * 5);
      assert.equal(keeper.collections, afterStart, "a collection while traffic goes on");
      assert.equal(grown.length, 1_000_000);
    } finally {
      clearInterval(burst);
    }
    await sleep(CHECK_MS * 4);
    assert.equal(keeper.collections, afterStart + 1);
    await sleep(CHECK_MS * 4);
    keeper.stop();
    assert.equal(keeper.collections, afterStart + 1, "an idle daemon is not collected again");
  });

  it("collects again after the next burst", async () => {
    const keeper = keeperUnderTest();
    await sleep(CHECK_MS * 3);
    for (const expected of [2, 3]) {
      keeper.serve();
      await sleep(CHECK_MS * 4);
      assert.equal(keeper.collections, expected);
    }
    keeper.stop();
  });

  it("uses the gc() that --expose-gc puts on the global (the daemon's flags) rather than making a context for it", async () => {
    const global = globalThis as { gc?: unknown };
    const before = global.gc;
    let calls = 0;
    global.gc = () => (calls += 1);
    try {
      const keeper = keeperUnderTest();
      await sleep(CHECK_MS * 3);
      keeper.stop();
      assert.equal(keeper.collections, 1);
      assert.equal(calls, 2, "one collection: the young generation, then the whole heap");
    } finally {
      global.gc = before;
    }
  });
});
