import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { rankAgents, type AgentHealth } from "../../src/shared/discovery/health.js";
import type { AgentKind } from "../../src/shared/discovery/candidate.js";

let ino = 0;
function agent(path: string, kind: AgentKind, createdMs: number, health: AgentHealth) {
  return { candidate: { path, kind, createdMs, dev: 1, ino: ++ino }, health };
}

describe("rankAgents", () => {
  it("puts the newest forwarded agent first", () => {
    const ranked = rankAgents([agent("old", "forwarded", 1, "live"), agent("new", "forwarded", 2, "unknown")]);
    assert.deepEqual(ranked.map((a) => a.candidate.path), ["new", "old"]);
  });

  it("uses local agents only after every forwarded one, whatever their age", () => {
    const ranked = rankAgents([agent("local", "local", 9, "live"), agent("fwd", "forwarded", 1, "live")]);
    assert.deepEqual(ranked.map((a) => a.candidate.path), ["fwd", "local"]);
  });

  it("keeps zombies as a last resort and leaves dead agents out", () => {
    const ranked = rankAgents([
      agent("zombie", "forwarded", 9, "zombie"),
      agent("dead", "forwarded", 8, "dead"),
      agent("local", "local", 1, "unknown"),
    ]);
    assert.deepEqual(ranked.map((a) => a.candidate.path), ["local", "zombie"]);
  });

  it("treats user-named directories like forwarded agents and breaks ties by path", () => {
    const ranked = rankAgents([agent("b", "extra", 5, "live"), agent("a", "forwarded", 5, "live")]);
    assert.deepEqual(ranked.map((a) => a.candidate.path), ["a", "b"]);
  });
});
