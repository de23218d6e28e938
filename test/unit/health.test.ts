import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { rankAgents, routeReason, type AgentHealth } from "../../src/shared/discovery/health.js";
import { ptysInTitle } from "../../src/shared/discovery/presence.js";
import type { AgentKind } from "../../src/shared/discovery/candidate.js";

let ino = 0;
function agent(path: string, kind: AgentKind, createdMs: number, health: AgentHealth, lastInputMs?: number) {
  return { candidate: { path, kind, createdMs, dev: 1, ino: ++ino }, health, lastInputMs };
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

  it("puts the login typed into after the newest login started first (the device the person is at)", () => {
    const ranked = rankAgents([agent("desk", "forwarded", 1000, "live", 5000), agent("laptop", "forwarded", 4000, "live", 4100)]);
    assert.deepEqual(ranked.map((a) => a.candidate.path), ["desk", "laptop"]);
  });

  it("keeps a fresh login first when the others' last input is older than its start", () => {
    const ranked = rankAgents([agent("desk", "forwarded", 1000, "live", 3000), agent("fresh", "forwarded", 4000, "unknown")]);
    assert.deepEqual(ranked.map((a) => a.candidate.path), ["fresh", "desk"]);
  });

  it("lets the zombie rule win over recent input", () => {
    const ranked = rankAgents([agent("typed", "forwarded", 1000, "zombie", 9000), agent("other", "forwarded", 2000, "live")]);
    assert.deepEqual(ranked.map((a) => a.candidate.path), ["other", "typed"]);
  });
});

describe("routeReason", () => {
  const terminal = () => "/dev/pts/3";
  it("names the input on the first login's terminal when that is why", () => {
    const ranked = rankAgents([agent("desk", "forwarded", 1000, "live", 50_000), agent("laptop", "forwarded", 4000, "live")]);
    assert.match(routeReason(ranked, terminal, 62_000), /^its terminal \/dev\/pts\/3 had keyboard input 12 s ago, later than any of the other 1 login showed presence$/);
  });
  it("names the newest login otherwise, and the zombies tried last", () => {
    const ranked = rankAgents([agent("new", "forwarded", 60_000, "live"), agent("z", "forwarded", 1000, "zombie", 2000)]);
    assert.equal(routeReason(ranked, () => undefined, 62_000), "the only live login: it is the newest login (started 2 s ago, no terminal); 1 unresponsive login (zombie) tried last");
  });
});

describe("ptysInTitle", () => {
  it("reads the ptys of an sshd title (before and since OpenSSH 9.8, several sessions)", () => {
    assert.deepEqual(ptysInTitle("sshd: me@pts/3"), ["/dev/pts/3"]);
    assert.deepEqual(ptysInTitle("sshd-session: me@pts/0\0\0"), ["/dev/pts/0"]);
    assert.deepEqual(ptysInTitle("sshd: me@pts/3,pts/5   "), ["/dev/pts/3", "/dev/pts/5"]);
  });
  it("finds none in a session without a pty, a privileged process or another program", () => {
    assert.deepEqual(ptysInTitle("sshd: me@notty"), []);
    assert.deepEqual(ptysInTitle("sshd: me [priv]"), []);
    assert.deepEqual(ptysInTitle("bash\0-c\0x@pts/3"), []);
    assert.deepEqual(ptysInTitle("sshd: me@pts/../../etc/passwd"), []);
  });
});
