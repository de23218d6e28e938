import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { Forwards } from "../../src/features/daemon/forwards/forwards.js";
import { forwardsBlockLines } from "../../src/features/setup/forwards.js";
import { forwardNameRefusal, newForwardToken } from "../../src/shared/core/forwards.js";
import { parseForwardFile } from "../../src/shared/discovery/forwards.js";
import { forwardedAgentPath, forwardServesScope, forwardTokenScope, scopedForwardToken } from "../../src/shared/scope/forward-token.js";

const ALICE = "0123456789abcdef";
const BOB = "fedcba9876543210";

describe("per-identity forwards: the scope in a forward's token", () => {
  it("puts the scope first in connect's token and reads it back; a token without one is unscoped", () => {
    const token = scopedForwardToken(ALICE, newForwardToken());
    assert.match(token, /^0123456789abcdef-[A-Za-z0-9]{12}$/);
    assert.equal(forwardTokenScope(token), ALICE);
    assert.equal(parseForwardFile(`/u/gpg.${token}.sock`)?.token, token, "a scoped token is a token of the contract");
    assert.equal(forwardTokenScope(newForwardToken()), undefined);
    assert.equal(scopedForwardToken(undefined, "abc"), "abc");
    // ssh_config's %C expands to 40 hex digits: `<scope>-%C` is a scoped token too.
    assert.equal(forwardTokenScope(`${ALICE}-${"a".repeat(40)}`), ALICE);
  });

  it("reads names from the file system strictly: only the whole shape counts", () => {
    for (const bad of [
      `${ALICE.toUpperCase()}-abc`, // upper-case hex is not a scope id
      `${ALICE}0-abc`, // 17 hex digits
      `${ALICE.slice(1)}-abc`, // 15
      `${ALICE}-`, // nothing after the scope
      `${ALICE}-a-b`, // a second "-" is not the shape
      `${ALICE}-${"x".repeat(48)}`, // longer than a token
      `x${ALICE}-abc`,
      `${ALICE}-ab.c`,
      `${ALICE}-ab\nc`,
    ]) {
      assert.equal(forwardTokenScope(bad), undefined, JSON.stringify(bad));
    }
    assert.throws(() => scopedForwardToken("not-a-scope", "abc"));
  });

  it("never takes a forward named like a person's scoped socket (id-…): D/NAME.sock would replace D/id-<scope>.sock", () => {
    assert.equal(parseForwardFile(`/home/me/.ssh/anchor-forwards/id-${ALICE}.bobconn9.sock`), undefined);
    assert.match(forwardNameRefusal(`id-${ALICE}`) ?? "", /reserved: names starting with id- are per-identity sockets/);
    assert.match(forwardNameRefusal("id-x") ?? "", /reserved/);
    assert.equal(forwardNameRefusal("idle"), undefined);
  });

  it("serves a scope only from forwards of that scope, or of one holding all its keys (the agent's rule)", () => {
    const keys: Record<string, readonly string[]> = {
      [ALICE]: ["SHA256:A", "SHA256:T"],
      [BOB]: ["SHA256:B", "SHA256:T"],
      aaaaaaaaaaaaaaaa: ["SHA256:A", "SHA256:N", "SHA256:T"], // Alice with a key added
      bbbbbbbbbbbbbbbb: ["SHA256:T"], // the team key alone
    };
    const keysOf = (scope: string) => keys[scope];
    assert.equal(forwardServesScope(ALICE, ALICE, keysOf), true);
    assert.equal(forwardServesScope(BOB, ALICE, keysOf), false, "never another person's");
    assert.equal(forwardServesScope("aaaaaaaaaaaaaaaa", ALICE, keysOf), true, "the same person with a key added serves her older scope");
    assert.equal(forwardServesScope(ALICE, "aaaaaaaaaaaaaaaa", keysOf), false, "but not the other way round");
    assert.equal(forwardServesScope("bbbbbbbbbbbbbbbb", ALICE, keysOf), false, "the team key alone serves nobody's scope");
    assert.equal(forwardServesScope("cccccccccccccccc", ALICE, keysOf), false, "a scope the daemon does not know: closed");
    assert.equal(forwardServesScope(undefined, ALICE, keysOf), false, "an unscoped forward serves no scope");
  });

  it("finds the agent ssh forwards: ForwardAgent yes (IdentityAgent first, else SSH_AUTH_SOCK), a path, $VAR, or none", () => {
    const env = { SSH_AUTH_SOCK: "/run/agent.sock", OTHER: "/run/other.sock" };
    const settings = (entries: Record<string, string>) => new Map(Object.entries(entries));
    assert.equal(forwardedAgentPath(settings({ forwardagent: "no" }), env), undefined);
    assert.equal(forwardedAgentPath(settings({}), env), undefined);
    assert.equal(forwardedAgentPath(settings({ forwardagent: "yes" }), env), "/run/agent.sock");
    assert.equal(forwardedAgentPath(settings({ forwardagent: "yes", identityagent: "none" }), env), "/run/agent.sock");
    assert.equal(forwardedAgentPath(settings({ forwardagent: "yes", identityagent: "~/.1p/agent.sock" }), env, "/home/me"), "/home/me/.1p/agent.sock");
    assert.equal(forwardedAgentPath(settings({ forwardagent: "$OTHER" }), env), "/run/other.sock");
    assert.equal(forwardedAgentPath(settings({ forwardagent: "/a/b.sock" }), env), "/a/b.sock");
    assert.equal(forwardedAgentPath(settings({ forwardagent: "yes" }), {}), undefined, "no agent in the environment");
  });

  it("setup --forwards names the scope in the ssh_config block's token", () => {
    const lines = forwardsBlockLines({ host: "devbox", home: "/home/me", forwards: [{ name: "gpg", local: "/run/g" }], scope: ALICE });
    assert.ok(lines.includes(`    RemoteForward /home/me/.ssh/anchor-forwards/gpg.${ALICE}-%C.sock /run/g`), lines.join("\n"));
  });
});

describe("the daemon's stable forward sockets: who each may reach", () => {
  it("a scope's only its own forwards; the unscoped one every forward, but on a per-identity account no person's", async () => {
    const home = await mkdtemp(join(tmpdir(), "anchor-fwscope-"));
    const servers: Server[] = [];
    let perIdentity = false;
    const forwards = new Forwards({
      home,
      uid: process.getuid?.() ?? 0,
      directory: () => home,
      log: () => undefined,
      verbose: false,
      agentHealth: () => undefined,
      scopeKeys: (scope) => (scope === ALICE ? ["SHA256:A"] : scope === BOB ? ["SHA256:B"] : undefined),
      perIdentity: async () => perIdentity,
      shortOfDescriptors: () => undefined,
      gpgAgentSocket: async () => undefined,
    });
    try {
      await forwards.book.start();
      for (const token of [`${ALICE}-aaaa`, `${BOB}-bbbb`, "plain"]) {
        const server = createServer((socket) => socket.destroy());
        await new Promise<void>((resolve) => server.listen(join(home, ".ssh", "anchor-forwards", `echo.${token}.sock`), resolve));
        servers.push(server);
      }
      await forwards.book.rescan();
      const reached = async (scope: string | undefined) => {
        const accept = await forwards.admission(scope);
        return forwards.book.ranked("echo", accept).map((forward) => forward.token).sort();
      };
      assert.deepEqual(await reached(undefined), [`${ALICE}-aaaa`, `${BOB}-bbbb`, "plain"], "one person's account: every forward");
      assert.deepEqual(await reached(ALICE), [`${ALICE}-aaaa`]);
      assert.deepEqual(await reached(BOB), [`${BOB}-bbbb`]);
      perIdentity = true;
      await new Promise((resolve) => setTimeout(resolve, 1100)); // the answer is kept for TIMING.perIdentityAnswerMs
      assert.deepEqual(await reached(undefined), ["plain"], "per-identity: the shared socket never reaches a person's forward");
      assert.deepEqual(await reached(ALICE), [`${ALICE}-aaaa`]);
    } finally {
      await forwards.stop();
      await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
      await rm(home, { recursive: true, force: true });
    }
  });
});
