import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MalformedStatus, parseStatusReport } from "../../src/shared/control/status.js";

const report = {
  running: true,
  version: "0.1.0",
  pid: 4242,
  socket: "/home/me/.ssh/anchor-devbox/agent.sock",
  logFile: null,
  startedAt: "2026-12-01T00:00:00.000Z",
  uptimeSeconds: 5,
  route: null,
  connections: { served: 1, requests: 2, active: 0, failovers: 0, answeredEmpty: 0, rejected: 0, shed: 0 },
  memoryKiB: { private: 1, privateSource: "RssAnon", rss: 2, heapUsed: 1, external: 1 },
  agents: [{ path: "/tmp/ssh-x/agent.1", kind: "forwarded", state: "live", reason: "answered", keys: 1, createdAt: "x", rank: 1 }],
  ignored: [],
};

describe("a status answer read back from a control socket", () => {
  it("is taken when it has the daemon's shape", () => {
    assert.deepEqual(parseStatusReport(structuredClone(report)), report);
  });

  it("from an earlier daemon without a private-memory figure, stands resident memory in, and says so", () => {
    const earlier = { ...structuredClone(report), memoryKiB: { rss: 2, heapUsed: 1, external: 1 } };
    assert.deepEqual(parseStatusReport(earlier).memoryKiB, { private: 2, privateSource: "rss", rss: 2, heapUsed: 1, external: 1 });
    assert.throws(() => parseStatusReport({ ...report, memoryKiB: { ...report.memoryKiB, privateSource: "evil" } }), /privateSource/);
  });

  it("loses its control characters: no escape sequence reaches the terminal", () => {
    const hostile = structuredClone(report);
    hostile.agents[0]!.reason = "\u001b]0;owned\u0007\u001b[2Jclear";
    assert.equal(parseStatusReport(hostile).agents[0]?.reason, "?]0;owned??[2Jclear");
  });

  it("is refused, naming the field, when anything is off", () => {
    for (const [field, value] of [["pid", "1"], ["running", false], ["agents", {}], ["connections", null]] as const) {
      assert.throws(() => parseStatusReport({ ...report, [field]: value }), MalformedStatus, field);
    }
    assert.throws(() => parseStatusReport({ ...report, agents: [{ ...report.agents[0], state: "evil" }] }), /agent.state/);
    assert.throws(() => parseStatusReport("not an object"), /report is not an object/);
  });
});

const base = report;
const FP = `SHA256:${"A".repeat(43)}`;
const scope = { id: "0123456789abcdef", socket: "/home/me/.ssh/anchor-devbox/id-0123456789abcdef.sock", keys: [FP], lastLoginAt: "2026-12-01T00:00:00.000Z", agents: ["/tmp/ssh-x/agent.1"] };

describe("a status answer with per-identity scopes", () => {
  const report = { ...base, agents: [{ ...base.agents[0]!, fingerprints: [FP] }], scopes: [scope] };
  it("keeps its scopes and the agents' fingerprints", () => {
    assert.deepEqual(parseStatusReport(structuredClone(report)), report);
  });

  it("is refused when a scope or a fingerprint is not the daemon's shape", () => {
    for (const bad of [{ ...scope, id: "../../etc" }, { ...scope, keys: ["not a fingerprint"] }, { ...scope, agents: "x" }, { ...scope, socket: 7 }]) {
      assert.throws(() => parseStatusReport({ ...report, scopes: [bad] }), MalformedStatus);
    }
    assert.throws(() => parseStatusReport({ ...report, agents: [{ ...report.agents[0], fingerprints: ["x"] }] }), /fingerprints/);
  });

  it("strips control characters from what it shows", () => {
    const parsed = parseStatusReport({ ...report, scopes: [{ ...scope, agents: ["/tmp/\u001b[2Jx"] }] });
    assert.deepEqual(parsed.scopes?.[0]?.agents, ["/tmp/?[2Jx"]);
  });
});
