import assert from "node:assert/strict";
import { lstat } from "node:fs/promises";
import { dirname } from "node:path";
import { after, before, describe, it } from "node:test";
import { makeKey, type TestAgent } from "../helpers/agent.js";
import { inTmux, TMUX, type PaneResult } from "../helpers/panes.js";
import { Cleanup, requireRoot, run, tempDir } from "../helpers/process.js";
import { startTestHost, type TestHost } from "../helpers/sshd.js";

const skip = requireRoot();

/** What `ssh-anchor status --json` says about scopes. */
interface ScopeJson {
  id: string;
  socket: string;
  keys: string[];
  agents: string[];
}

describe("end to end: one shared account, two people, init --per-identity (issue 12)", { skip }, () => {
  const cleanup = new Cleanup();
  let host: TestHost;
  let alice: TestAgent;
  let bob: TestAgent;
  let teamKey: string;
  before(async () => {
    host = await startTestHost(cleanup, { rcLine: 'eval "$(ssh-anchor init --per-identity bash)"' });
    const dir = await tempDir("anchor-team-");
    cleanup.add(() => run("rm", ["-rf", dir]));
    // One key both people hold: it must not make their scopes one.
    teamKey = await makeKey(dir, "team-key");
    alice = await host.addLaptopAgent("alice", [teamKey]);
    bob = await host.addLaptopAgent("bob", [teamKey]);
  });
  after(() => cleanup.run());

  /** `ssh-add -L` in that person's old pane listed their own key and the team key, never the other's. */
  const onlyKeysOf = (result: PaneResult, person: string, other: string) => {
    assert.equal(result.rc, 0, result.screen);
    const listed = result.screen.split("\n").filter((line) => /^ssh-ed25519 /.test(line));
    assert.ok(listed.some((line) => line.endsWith(` ${person}-key`)), result.screen);
    assert.ok(listed.some((line) => line.endsWith(" team-key")), result.screen);
    assert.ok(!result.screen.includes(`${other}-key`), `${person}'s pane must never see ${other}'s key:\n${result.screen}`);
  };
  /** Nobody of that person is connected: a clean, fast "no identities", never the other's keys. */
  const cleanFailure = (result: PaneResult, other: string) => {
    assert.equal(result.rc, 1, result.screen);
    assert.match(result.screen, /The agent has no identities/);
    assert.ok(!result.screen.includes(`${other}-key`), result.screen);
    assert.ok(result.ms < 4000, `took ${result.ms} ms`);
  };
  const listIn = (session: string, marker: string) => inTmux(host, session, marker, "ssh-add -L");
  const scopes = async (): Promise<ScopeJson[]> => JSON.parse((await host.anchor("status --json")).stdout).scopes;

  it("each person's old pane reaches only that person's agent, or none, never the other's; reconnecting brings it back", async () => {
    assert.equal((await host.ssh(`${TMUX} new -d -s alice`, 20_000, alice)).code, 0);
    assert.equal((await host.ssh(`${TMUX} new -d -s bob`, 20_000, bob)).code, 0);
    // Both logins are over. Each pane holds its own person's scoped socket.
    const sockets: string[] = [];
    for (const session of ["alice", "bob"]) {
      const env = await inTmux(host, session, `ENV${session}`, 'echo "sock=$SSH_AUTH_SOCK"');
      const match = /sock=(\/\S+\/id-[0-9a-f]{16}\.sock)$/m.exec(env.screen);
      assert.ok(match, env.screen);
      sockets.push(match[1] as string);
    }
    assert.notEqual(sockets[0], sockets[1], "two people, two scopes: the team key does not merge them");
    for (const socket of sockets) {
      const stats = await lstat(socket);
      assert.ok(stats.isSocket());
      assert.equal(stats.mode & 0o777, 0o600, `${socket} must be 0600`);
      assert.equal(stats.uid, host.uid);
      assert.equal((await lstat(dirname(socket))).mode & 0o777, 0o700);
    }

    cleanFailure(await listIn("alice", "A0"), "bob");
    cleanFailure(await listIn("bob", "B0"), "alice");

    // Bob is connected, Alice is not: Alice's pane must not reach Bob's agent.
    const bobLogin = await host.login(bob);
    cleanFailure(await listIn("alice", "A1"), "bob");
    onlyKeysOf(await listIn("bob", "B1"), "bob", "alice");
    await bobLogin.end();

    // The other way round.
    const aliceLogin = await host.login(alice);
    onlyKeysOf(await listIn("alice", "A2"), "alice", "bob");
    cleanFailure(await listIn("bob", "B2"), "alice");

    // Both connected, the newest login Bob's: each pane still reaches only its own person.
    const bobAgain = await host.login(bob);
    onlyKeysOf(await listIn("alice", "A3"), "alice", "bob");
    onlyKeysOf(await listIn("bob", "B3"), "bob", "alice");
    // And it signs a new login with Alice's key.
    const hop = await inTmux(host, "alice", "HOP", `ssh ${host.sshOptions.filter((o) => o !== "-A").join(" ")} echo signed-in-scope`);
    assert.equal(hop.rc, 0, hop.screen);
    assert.match(hop.screen, /^signed-in-scope$/m);

    // (The helper's own logins, with the default laptop key, made a scope of their own.)
    const listed = (await scopes()).filter((scope) => sockets.includes(scope.socket));
    assert.equal(listed.length, 2, JSON.stringify(listed));
    const [first, second] = listed as [ScopeJson, ScopeJson];
    assert.deepEqual(first.agents.length, 1, JSON.stringify(listed));
    assert.deepEqual(second.agents.length, 1, JSON.stringify(listed));
    assert.notEqual(first.agents[0], second.agents[0]);
    assert.deepEqual(new Set([first.agents[0], second.agents[0]]), new Set([aliceLogin.forwardedSocket, bobAgain.forwardedSocket]));

    // status lists the scopes; doctor says which scope each live agent and each pane is in.
    const text = (await host.anchor("status")).stdout;
    for (const scope of listed) assert.ok(text.includes(`  ${scope.id}  ${scope.socket}`), text);
    const doctor = JSON.parse((await host.anchor("doctor --json")).stdout) as { findings: { title: string; details?: string[] }[] };
    const details = doctor.findings.flatMap((finding) => [finding.title, ...(finding.details ?? [])]);
    const idOf = (socket: string) => /id-([0-9a-f]{16})\.sock$/.exec(socket)?.[1];
    const [aliceId, bobId] = sockets.map(idOf);
    assert.ok(details.includes(`${aliceLogin.forwardedSocket}: scope ${aliceId}`), details.join("\n"));
    assert.ok(details.includes(`${bobAgain.forwardedSocket}: scope ${bobId}`), details.join("\n"));
    assert.ok(details.some((line) => /^tmux \S+ alice:0\.0 \(bash\) is in scope /.test(line) && line.endsWith(aliceId as string)), details.join("\n"));
    assert.ok(details.some((line) => /^tmux \S+ bob:0\.0 \(bash\) is in scope /.test(line) && line.endsWith(bobId as string)), details.join("\n"));
    await bobAgain.end();
    await aliceLogin.end();
  });

  it("a restarted daemon serves the same scoped sockets: old panes keep working with no action", async () => {
    assert.equal((await host.anchor("stop")).code, 0);
    // Nothing serves Alice's pane now; the next login (its rc line) starts the daemon again.
    const down = await listIn("alice", "R0");
    assert.equal(down.rc, 2, down.screen);
    assert.match(down.screen, /Error connecting to agent/);
    const aliceLogin = await host.login(alice);
    onlyKeysOf(await listIn("alice", "R1"), "alice", "bob");
    cleanFailure(await listIn("bob", "R2"), "alice");
    await aliceLogin.end();
  });

  it("a zombie within one scope is handled as on the unscoped socket: the request moves to the live login", async () => {
    const live = await host.login(alice);
    const sleeper = await host.login(alice);
    // Bob is connected too, newest of all: never a candidate for Alice's pane.
    const bobLogin = await host.login(bob);
    sleeper.freeze();
    const first = await listIn("alice", "Z1");
    onlyKeysOf(first, "alice", "bob");
    assert.ok(first.ms < 6000, `ssh-add -L took ${first.ms} ms next to a zombie`);
    const again = await listIn("alice", "Z2");
    onlyKeysOf(again, "alice", "bob");
    assert.ok(again.ms < 1500, `the zombie must be avoided afterwards (took ${again.ms} ms)`);
    const status = JSON.parse((await host.anchor("status --json")).stdout);
    assert.ok(status.connections.failovers >= 1, "the first request must have been moved off the zombie");
    assert.equal(status.agents.find((a: { path: string }) => a.path === sleeper.forwardedSocket)?.state, "zombie");
    onlyKeysOf(await listIn("bob", "ZB"), "bob", "alice");
    sleeper.thaw();
    await sleeper.end();
    await bobLogin.end();
    await live.end();
  });

  it("refuses to scope a login whose agent offers only a key another agent also holds (the team key alone)", async () => {
    const teamOnly = await host.addLaptopAgent("carol", [teamKey], false);
    const bobLogin = await host.login(bob);
    const result = await host.ssh('echo "sock=$SSH_AUTH_SOCK"', 20_000, teamOnly);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /ssh-anchor: no per-identity socket for this login: every key this login's agent offers is also offered by/);
    // It keeps the login's own socket: never a scope, never the shared stable socket.
    // (Not the word "anchor" anywhere: the test account's own name holds it.)
    assert.doesNotMatch(result.stdout, /\/anchor-[^/]*\/(agent|link)\.sock|\/id-[0-9a-f]+\.sock/);
    // The login's own forwarded socket, in either of sshd's layouts (/tmp for OpenSSH <= 10.0,
    // ~/.ssh/agent for >= 10.1).
    assert.match(result.stdout, /sock=(\/tmp\/ssh-\w+\/agent\.\d+|\/.*\/\.ssh\/agent\/s\.\w+\.sshd\.\w+)\n/);
    await bobLogin.end();
  });
});
