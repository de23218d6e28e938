import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { mapBounded, withinMs } from "../../src/shared/core/bounded.js";

describe("mapBounded: every item, a bounded number at a time", () => {
  it("never has more than the limit in flight, and gives the results in the items' order", async () => {
    let inFlight = 0;
    let most = 0;
    const items = Array.from({ length: 50 }, (_, i) => i);
    const results = await mapBounded(items, 4, async (item) => {
      inFlight += 1;
      most = Math.max(most, inFlight);
      // Later items finish sooner: the order of the results must still be the items'.
      await new Promise((resolve) => setTimeout(resolve, (50 - item) % 7));
      inFlight -= 1;
      return item * 2;
    });
    assert.equal(most, 4);
    assert.deepEqual(results, items.map((item) => item * 2));
  });

  it("starts nothing more once stopped, and copes with no items", async () => {
    const started: number[] = [];
    const results = await mapBounded([1, 2, 3, 4, 5], 1, async (item) => void started.push(item), () => started.length >= 2);
    assert.deepEqual(started, [1, 2]);
    assert.equal(results.length, 5);
    assert.deepEqual(await mapBounded([], 8, async () => 1), []);
  });
});

describe("withinMs: a wait that never outlasts its budget", () => {
  it("says whether the work settled in time, a failure counting as settled", async () => {
    assert.equal(await withinMs(Promise.resolve("value"), 1000), true);
    assert.equal(await withinMs(Promise.reject(new Error("failed")), 1000), true);
    const never = new Promise<void>(() => undefined);
    const started = performance.now();
    assert.equal(await withinMs(never, 50), false);
    assert.ok(performance.now() - started < 1000, "the budget ends the wait");
  });
});
