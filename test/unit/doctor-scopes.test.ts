import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { AgentFinding } from "../../src/features/doctor/doctor.js";
import { isScopedSocket, scopeFindings, withoutSharedSocketFixes, type PerIdentityState } from "../../src/features/doctor/scopes.js";

const agent = (path: string, ...keys: string[]): AgentFinding => ({
  path,
  kind: "forwarded",
  state: "live",
  reason: "answered a probe in 1 ms",
  keys: keys.map((fingerprint) => ({ type: "ssh-ed25519", fingerprint, comment: fingerprint.toLowerCase() })),
});
const off: PerIdentityState = { enabled: false, scopes: [], sockets: [], uid: 4_000_000, directory: "/tmp/ssh-anchor-4000000" };

describe("doctor: shared accounts", () => {
  it("warns when live agents look like several people's and per-identity is off", async () => {
    const findings = await scopeFindings(off, [agent("/tmp/ssh-a/agent.1", "A", "T"), agent("/tmp/ssh-b/agent.2", "B", "T")], {}, false);
    assert.equal(findings.length, 1);
    assert.equal(findings[0]?.verdict, "warn");
    assert.match(findings[0]?.title ?? "", /looks shared/);
    assert.match(findings[0]?.fix ?? "", /init --per-identity/);
  });

  it("says nothing when one person's agents are all there is", async () => {
    assert.deepEqual(await scopeFindings(off, [agent("/tmp/ssh-a/agent.1", "A"), agent("/tmp/ssh-a2/agent.3", "A", "A2")], {}, false), []);
  });

  it("shows which scope each live agent and this shell belong to when per-identity is on", async () => {
    const directory = off.directory;
    const socket = `${directory}/id-0123456789abcdef.sock`;
    const state: PerIdentityState = {
      ...off,
      enabled: true,
      sockets: [socket],
      scopes: [{ id: "0123456789abcdef", socket, keys: ["A", "T"], lastLoginAt: new Date(0).toISOString(), agents: ["/tmp/ssh-a/agent.1"] }],
    };
    const findings = await scopeFindings(state, [agent("/tmp/ssh-a/agent.1", "A", "T"), agent("/tmp/ssh-b/agent.2", "B", "T")], { SSH_AUTH_SOCK: socket }, false);
    const lines = findings.flatMap((finding) => [finding.title, ...(finding.details ?? [])]);
    assert.ok(lines.includes("this shell is in scope 0123456789abcdef: it reaches /tmp/ssh-a/agent.1"), lines.join("\n"));
    assert.ok(lines.includes("/tmp/ssh-a/agent.1: scope 0123456789abcdef"), lines.join("\n"));
    assert.ok(lines.includes("/tmp/ssh-b/agent.2: no scope"), lines.join("\n"));
    assert.ok(isScopedSocket(socket, directory));
    assert.ok(!isScopedSocket(`${directory}/agent.sock`, directory));
  });
});

describe("doctor: fix lines with per-identity on", () => {
  it("never tell a pane or tmux to use the shared stable socket", () => {
    const stable = "/tmp/ssh-anchor-1000/agent.sock";
    const fixed = withoutSharedSocketFixes(
      [
        { area: "shell", verdict: "warn", title: "login socket", fix: `export SSH_AUTH_SOCK=${stable}   (and add the init line)` },
        { area: "tmux", verdict: "fail", title: "dead pane", fix: `export SSH_AUTH_SOCK=${stable}` },
        { area: "tmux", verdict: "warn", title: "server", fix: `tmux -S /tmp/tmux-1000/default set-environment -g SSH_AUTH_SOCK ${stable}   (or: ssh-anchor doctor --fix)` },
        { area: "daemon", verdict: "fail", title: "not running", fix: "ssh-anchor start" },
        { area: "tmux", verdict: "fail", title: "another socket", fix: `export SSH_AUTH_SOCK=${stable}.other` },
      ],
      stable,
    );
    assert.equal(fixed[0]?.fix, 'export SSH_AUTH_SOCK="$(ssh-anchor scope)"   (from a login with agent forwarding: this login\'s own scope)');
    assert.match(fixed[1]?.fix ?? "", /^export SSH_AUTH_SOCK=<that person's scoped socket>/);
    assert.match(fixed[2]?.fix ?? "", /^export SSH_AUTH_SOCK=<that person's scoped socket>/);
    assert.equal(fixed[3]?.fix, "ssh-anchor start");
    assert.equal(fixed[4]?.fix, `export SSH_AUTH_SOCK=${stable}.other`);
  });
});
