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

  it("collects the young generation alone now and then while idle, and never the whole heap again", async () => {
    const global = globalThis as { gc?: unknown };
    const before = global.gc;
    const calls: (boolean | undefined)[] = [];
    global.gc = (youngOnly?: boolean) => calls.push(youngOnly);
    let full = 0;
    const keeper = new MemoryKeeper(() => 0, () => (full += 1), CHECK_MS, CHECK_MS * 3);
    try {
      keeper.start();
      await sleep(CHECK_MS * 14);
    } finally {
      keeper.stop();
      global.gc = before;
    }
    assert.equal(full, 1, "start-up's collection only");
    assert.deepEqual(calls.slice(0, 2), [true, undefined], "start-up's collection: young, then whole");
    const idle = calls.slice(2);
    assert.ok(idle.length >= 2 && idle.length <= 5, `young-only collections while idle: ${idle.length} in 14 looks, one every third expected`);
    assert.ok(idle.every((youngOnly) => youngOnly === true), `while idle: ${JSON.stringify(idle)}`);
  });
});
