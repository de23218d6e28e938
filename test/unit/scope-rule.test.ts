import assert from "node:assert/strict";
import { chmod, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import fc from "fast-check";
import type { Identity } from "../../src/shared/protocol/identities.js";
import { fingerprint } from "../../src/shared/protocol/identities.js";
import { ScopeRegistry } from "../../src/features/daemon/scopes/registry.js";
import { LIMITS } from "../../src/features/daemon/policy.js";
import { anchorOf, belongsTo, isCertificate, looksShared, scopeId, subsetRefusal, widerThan, type Anchor } from "../../src/shared/scope/rule.js";
import { perIdentityEvidence } from "../../src/shared/scope/account.js";
import { scopedSocketPath, SCOPED_SOCKET_NAME } from "../../src/shared/scope/socket-path.js";
import { run, tempDir } from "../helpers/process.js";

/** A key blob as an agent sends it: the type string, then some key bytes. */
function identity(keyType: string, seed: string, comment = seed): Identity {
  const type = Buffer.from(keyType);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(type.length);
  return { keyType, blob: Buffer.concat([length, type, Buffer.from(seed)]), comment };
}
const key = (seed: string) => identity("ssh-ed25519", seed);
const fp = (id: Identity) => fingerprint(id.blob);
const anchor = (...ids: Identity[]): Anchor => anchorOf(ids);

const alice = key("alice");
const bob = key("bob");
const team = key("team");
const aliceCert = identity("ssh-ed25519-cert-v01@openssh.com", "alice-cert-monday");
const aliceToken = identity("sk-ssh-ed25519@openssh.com", "alice-yubikey");

describe("the per-identity rule", () => {
  it("an agent belongs to a scope only if it offers every key of the anchor", () => {
    const scope = anchor(alice, team);
    assert.ok(belongsTo([fp(alice), fp(team)], scope));
    assert.ok(!belongsTo([fp(team)], scope), "the team key alone never matches");
    assert.ok(!belongsTo([fp(alice)], scope), "a key of the anchor missing: out of the scope (fails closed)");
    assert.ok(!belongsTo([fp(bob), fp(team)], scope), "another person with the same team key");
  });

  it("a shared team key does not merge two people's scopes", () => {
    const aliceScope = anchor(alice, team);
    const bobScope = anchor(bob, team);
    assert.notEqual(scopeId(aliceScope), scopeId(bobScope));
    assert.ok(!belongsTo(anchor(bob, team).keys, aliceScope));
    assert.ok(!belongsTo(anchor(alice, team).keys, bobScope));
  });

  it("keys added to an agent later keep it in its scope", () => {
    assert.ok(belongsTo([fp(alice), fp(team), fp(key("added-later"))], anchor(alice, team)));
  });

  it("an agent whose keys are not known yet belongs to no scope", () => {
    assert.ok(!belongsTo(undefined, anchor(alice)));
  });

  it("an empty anchor matches nothing", () => {
    assert.ok(!belongsTo([fp(alice)], { keys: [] }));
  });

  it("certificates are left out of the anchor (they are re-issued); the key beside them counts", () => {
    assert.ok(isCertificate(aliceCert.keyType));
    assert.ok(!isCertificate(aliceToken.keyType));
    assert.deepEqual(anchor(alice, aliceCert).keys, [fp(alice)]);
    // Tuesday's certificate: the same scope.
    const tuesday = identity("ssh-ed25519-cert-v01@openssh.com", "alice-cert-tuesday");
    assert.equal(scopeId(anchor(alice, tuesday)), scopeId(anchor(alice, aliceCert)));
    assert.deepEqual(anchor(aliceCert).keys, [], "certificates only: nothing to anchor on");
  });

  it("hardware keys (sk-*) count like any key", () => {
    assert.deepEqual(anchor(aliceToken).keys, [fp(aliceToken)]);
    assert.ok(!belongsTo([fp(alice)], anchor(alice, aliceToken)), "the token pulled out: out of the scope");
  });

  it("the scope id depends on the set of keys, not their order or repeats", () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.string({ minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 6 }), fc.nat(), (seeds, shift) => {
        const ids = seeds.map(key);
        const rotated = [...ids.slice(shift % ids.length), ...ids.slice(0, shift % ids.length), ids[0] as Identity];
        assert.equal(scopeId(anchorOf(ids)), scopeId(anchorOf(rotated)));
        assert.match(scopeId(anchorOf(ids)), /^[0-9a-f]{16}$/);
      }),
    );
  });

  it("property: an agent never serves a scope whose anchor holds a key it does not offer", () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.string({ minLength: 1, maxLength: 4 }), { maxLength: 8 }), fc.uniqueArray(fc.string({ minLength: 1, maxLength: 4 }), { maxLength: 8 }), (agentSeeds, anchorSeeds) => {
        const offered = agentSeeds.map((seed) => fp(key(seed)));
        const scope = anchorOf(anchorSeeds.map(key));
        const expected = scope.keys.length > 0 && scope.keys.every((k) => offered.includes(k));
        assert.equal(belongsTo(offered, scope), expected);
      }),
    );
  });
});

describe("scoping a login", () => {
  it("refuses an agent with no keys, or only certificates", () => {
    assert.match(subsetRefusal(anchor(), []) ?? "", /offers no keys/);
    assert.match(subsetRefusal(anchor(aliceCert), []) ?? "", /offers no keys/);
  });

  it("refuses a login whose keys are all held by another agent that holds more (the team key alone)", () => {
    const others = [{ path: "/tmp/ssh-b/agent.2", keys: [fp(bob), fp(team)] }];
    assert.match(subsetRefusal(anchor(team), others) ?? "", /also offered by \/tmp\/ssh-b\/agent\.2/);
  });

  it("accepts the same person's second login (the same keys) and people with personal keys beside a team key", () => {
    const others = [
      { path: "/tmp/ssh-a/agent.1", keys: [fp(alice), fp(team)] },
      { path: "/tmp/ssh-b/agent.2", keys: [fp(bob), fp(team)] },
      { path: "/tmp/ssh-z/agent.3", keys: undefined },
    ];
    assert.equal(subsetRefusal(anchor(alice, team), others), undefined);
    assert.equal(subsetRefusal(anchor(bob, team), others), undefined);
  });

  it("accepts a person's second login when their agent also holds a certificate (agents' keys are plain keys, as anchors)", () => {
    const others = [{ path: "/tmp/ssh-a/agent.1", keys: anchorOf([alice, aliceCert]).keys }];
    assert.equal(subsetRefusal(anchor(alice, aliceCert), others), undefined);
  });

  it("names the registered scopes a login's agent would also serve", () => {
    const small = { ...anchor(team), id: "small" };
    const same = { ...anchor(alice, team), id: "same" };
    assert.deepEqual(widerThan(anchor(alice, team), [small, same]), [small]);
  });
});

describe("doctor's 'looks shared' heuristic", () => {
  it("two agents that each offer a key the other does not: several people", () => {
    assert.ok(looksShared([[fp(alice), fp(team)], [fp(bob), fp(team)]]));
    assert.ok(looksShared([[fp(alice)], [fp(bob)]]));
  });
  it("one person's agents (the same keys, or a few more) are not", () => {
    assert.ok(!looksShared([[fp(alice)], [fp(alice), fp(key("later"))], []]));
    assert.ok(!looksShared([[fp(alice)]]));
  });
});

describe("scoped socket paths", () => {
  it("live in the given private directory, named from the scope id", () => {
    const path = scopedSocketPath("/tmp/ssh-anchor-1000", "0123456789abcdef");
    assert.equal(path, "/tmp/ssh-anchor-1000/id-0123456789abcdef.sock");
    assert.match("id-0123456789abcdef.sock", SCOPED_SOCKET_NAME);
  });
  it("are length-checked like the stable socket", () => {
    assert.throws(() => scopedSocketPath(`/tmp/${"d".repeat(90)}`, "0123456789abcdef"), /too long/);
  });
});

describe("the scope registry", async () => {
  const dir = await tempDir();
  after(() => run("rm", ["-rf", dir]));

  it("survives a restart, 0600, fingerprints only", async () => {
    const file = join(dir, "agent.sock.scopes");
    const first = new ScopeRegistry(() => file);
    await first.load();
    const { scope } = await first.register(anchor(alice, team));
    assert.equal(scope.id, scopeId(anchor(alice, team)));
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    const again = new ScopeRegistry(() => file);
    await again.load();
    assert.deepEqual(again.all().map((s) => s.id), [scope.id]);
    assert.doesNotMatch(await readFile(file, "utf8"), /AAAA/, "no key material, only fingerprints");
  });

  it("ignores malformed entries and recomputes ids from the keys", async () => {
    const file = join(dir, "edited.scopes");
    await writeFile(file, JSON.stringify([{ id: "ffffffffffffffff", keys: [fp(alice)] }, { keys: [] }, { keys: ["not a fingerprint"] }, 7]));
    await chmod(file, 0o600);
    const registry = new ScopeRegistry(() => file);
    await registry.load();
    assert.deepEqual(registry.all().map((s) => s.id), [scopeId(anchor(alice))]);
    await writeFile(file, "{not json");
    await registry.load();
    assert.deepEqual(registry.all(), []);
  });

  it(`keeps at most ${LIMITS.scopes} scopes, forgetting the one whose last login is oldest`, async () => {
    const registry = new ScopeRegistry(() => join(dir, "many.scopes"));
    for (let i = 0; i < LIMITS.scopes; i++) await registry.register(anchor(key(`person-${i}`)), 1000 + i);
    // Person 0 logs in again: now person 1 is the oldest.
    await registry.register(anchor(key("person-0")), 5000);
    const { forgotten } = await registry.register(anchor(key("newcomer")), 6000);
    assert.deepEqual(forgotten.map((s) => s.id), [scopeId(anchor(key("person-1")))]);
    assert.equal(registry.all().length, LIMITS.scopes);
  });
  it(`never writes more than LIMITS.registryBytes, and reads back a file of exactly that size`, async () => {
    const file = join(dir, "large.scopes");
    const registry = new ScopeRegistry(() => file);
    // Agents of 400 keys each: 64 such scopes would be about 1.3 MiB.
    const person = (i: number): Anchor => anchor(...Array.from({ length: 400 }, (_, k) => key(`person-${i}-key-${k}`)));
    let forgottenForSize = 0;
    for (let i = 0; i < LIMITS.scopes; i++) {
      const { scope, forgotten } = await registry.register(person(i), 1000 + i);
      forgottenForSize += forgotten.length;
      assert.ok((await stat(file)).size <= LIMITS.registryBytes, `after login ${i}: ${(await stat(file)).size} bytes`);
      assert.ok(forgotten.every((old) => old.lastLoginMs < 1000 + i) && registry.get(scope.id), "the oldest go, never the new one");
    }
    assert.ok(forgottenForSize > 0, "the byte bound, not the count, forgot scopes");
    const back = new ScopeRegistry(() => file);
    await back.load();
    assert.deepEqual(back.all().map((s) => s.id), registry.all().map((s) => s.id), "what was written is what is read");

    // Filled to the byte: still read whole (writer and reader share one bound).
    const text = await readFile(file, "utf8");
    const padded = text.replace(/\n$/, " ".repeat(LIMITS.registryBytes - Buffer.byteLength(text)) + "\n");
    assert.equal(Buffer.byteLength(padded), LIMITS.registryBytes);
    await writeFile(file, padded);
    await back.load();
    assert.equal(back.all().length, registry.all().length);
    assert.ok(back.all().length > 0);
    // The per-identity rule reads the same file within the same bound.
    const socket = join(dir, "agent.sock");
    await writeFile(`${socket}.scopes`, padded, { mode: 0o600 });
    const evidence = await perIdentityEvidence({ socket, home: join(dir, "no-home"), env: {} });
    assert.deepEqual(evidence, { kind: "scopes", file: `${socket}.scopes` });
    await writeFile(file, `${padded} `);
    await back.load();
    assert.deepEqual(back.all(), [], "one byte over the bound is not one of ours");
  });
});
