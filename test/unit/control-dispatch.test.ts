import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { StatusReport } from "../../src/shared/control/status.js";
import { dispatchControl, type ControlTarget } from "../../src/features/daemon/control-dispatch.js";

/** A target that records what it was asked, in order. */
function recordingTarget(): ControlTarget & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    status: async () => {
      calls.push("status");
      return { running: true } as StatusReport;
    },
    rescan: async () => void calls.push("rescan"),
    stop: async () => void calls.push("stop"),
    ready: async () => void calls.push("ready"),
    scope: async (agentPath) => {
      calls.push(`scope ${agentPath}`);
      return { id: "s1" };
    },
  };
}

describe("the daemon's answer to a control command", () => {
  it("rescans before it reports, so the report is of after the rescan", async () => {
    const target = recordingTarget();
    assert.deepEqual(await dispatchControl("rescan", target), { running: true });
    assert.deepEqual(target.calls, ["rescan", "status"]);
  });

  it("answers stop before stopping (the answer goes out on the socket that stopping closes)", async () => {
    const target = recordingTarget();
    assert.deepEqual(await dispatchControl("stop", target), { stopping: true, pid: process.pid });
    assert.deepEqual(target.calls, []);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(target.calls, ["stop"]);
  });

  it("hands a scope request the login's agent socket path", async () => {
    const target = recordingTarget();
    assert.deepEqual(await dispatchControl("scope /tmp/ssh-x/agent.1", target), { id: "s1" });
    assert.deepEqual(target.calls, ["scope /tmp/ssh-x/agent.1"]);
  });

  it("answers ready once the target says every start-up socket is bound", async () => {
    const target = recordingTarget();
    assert.deepEqual(await dispatchControl("ready", target), { ready: true, pid: process.pid });
    assert.deepEqual(target.calls, ["ready"]);
  });
});
