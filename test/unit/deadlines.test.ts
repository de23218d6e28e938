import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { TIMING } from "../../src/shared/core/timing.js";
import { probeVerdictDeadline, replyDeadline } from "../../src/features/daemon/policy.js";

describe("per-agent deadlines from probe round trips", () => {
  it("use the configured ceilings while nothing is known about an agent", () => {
    assert.equal(replyDeadline([], 1000), 1000);
    assert.equal(probeVerdictDeadline([], 2000), 2000);
  });

  it("judge a nearby laptop (a few ms) within well under a second, never below the floors", () => {
    assert.equal(replyDeadline([3, 5, 4], 1000), TIMING.minReplyDeadlineMs);
    assert.equal(probeVerdictDeadline([3, 5, 4], 2000), TIMING.minProbeVerdictMs);
    assert.ok(replyDeadline([3], 1000) + probeVerdictDeadline([3], 2000) < 1000);
  });

  it("follow the slowest recent round trip, up to the ceilings (a far laptop is never judged by a near one's clock)", () => {
    assert.equal(replyDeadline([20, 100], 1000), 4 * 100 + TIMING.rttSlackMs);
    assert.equal(replyDeadline([280], 1000), 1000);
    assert.equal(probeVerdictDeadline([280], 2000), 4 * 280 + 2 * TIMING.rttSlackMs);
    assert.equal(probeVerdictDeadline([900], 2000), 2000);
  });
});
