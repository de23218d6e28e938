import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import { lstat, mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { addKey, makeKey, sshAdd, startAgent, type TestAgent } from "../helpers/agent.js";
import { forwardedSocketPath, startDaemon, type TestDaemon } from "../helpers/daemon.js";
import { BIN, Cleanup, REPO, run, spawnTracked, tempDir, waitFor } from "../helpers/process.js";
import { LIMITS } from "../../src/features/daemon/policy.js";
import { registryText, type Scope } from "../../src/features/daemon/scopes/registry.js";
import { scopeId } from "../../src/shared/scope/rule.js";
import { socketAcceptsConnections } from "../../src/shared/core/dial.js";
import type { StatusReport } from "../../src/shared/control/status.js";

/** Each shell: how to evaluate the per-identity code, then print the two variables. */
const SHELLS = {
  bash: ["bash", 'eval "$(ssh-anchor init --per-identity bash)"'],
  zsh: ["zsh", 'eval "$(ssh-anchor init --per-identity zsh)"'],
  sh: ["dash", 'eval "$(ssh-anchor init --per-identity sh)"'],
  fish: ["fish", "ssh-anchor init --per-identity fish | source"],
} as const;
const SHOW = 'printf "%s|%s" "$SSH_AUTH_SOCK" "$SSH_ANCHOR_ORIGINAL_SOCK"';

describe("per-identity scopes through the real daemon (no sshd: agents at forwarded paths)", () => {
  const cleanup = new Cleanup();
  let daemon: TestDaemon;
  let alice: TestAgent;
  let bob: TestAgent;
  let env: NodeJS.ProcessEnv;
  before(async () => {
    daemon = await startDaemon(cleanup);
    const keys = await tempDir();
    cleanup.add(() => run("rm", ["-rf", keys]));
    const team = await makeKey(keys, "team-key");
    alice = await startAgent(cleanup, forwardedSocketPath(daemon.tmpRoot, "Alice00001"));
    bob = await startAgent(cleanup, forwardedSocketPath(daemon.tmpRoot, "Bob0000002"));
    await addKey(alice.path, await makeKey(keys, "alice-key"));
    await addKey(alice.path, team);
    await addKey(bob.path, await makeKey(keys, "bob-key"));
    await addKey(bob.path, team);
    env = { ...process.env, HOME: daemon.home, PATH: `${join(REPO, "bin")}:${process.env.PATH}`, SSH_ANCHOR_SOCKET: daemon.socket };
  });
  after(() => cleanup.run());

  const scope = (agent: TestAgent) => run(BIN, ["scope"], { env: { ...env, SSH_AUTH_SOCK: agent.path } });

  it("gives each person a 0600 socket beside the stable one that lists only their keys", async () => {
    const [a, b] = [await scope(alice), await scope(bob)];
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    const [aliceSocket, bobSocket] = [a.stdout.trim(), b.stdout.trim()];
    assert.notEqual(aliceSocket, bobSocket);
    for (const socket of [aliceSocket, bobSocket]) {
      assert.equal(dirname(socket), dirname(daemon.socket));
      assert.match(socket, /\/id-[0-9a-f]{16}\.sock$/);
      assert.equal((await lstat(socket)).mode & 0o777, 0o600);
    }
    const listed = await sshAdd(aliceSocket, ["-L"]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, / alice-key$/m);
    assert.match(listed.stdout, / team-key$/m);
    assert.doesNotMatch(listed.stdout, /bob-key/);
    // The same person again: the same socket.
    assert.equal((await scope(alice)).stdout.trim(), aliceSocket);
  });

  it("refuses to scope the stable socket or a scoped one, in one line", async () => {
    for (const socket of [daemon.socket, (await scope(alice)).stdout.trim()]) {
      const result = await run(BIN, ["scope"], { env: { ...env, SSH_AUTH_SOCK: socket } });
      assert.equal(result.code, 1);
      assert.match(result.stderr, /^ssh-anchor: SSH_AUTH_SOCK is already ssh-anchor's .*\n$/);
    }
    const unset = await run(BIN, ["scope"], { env: { ...env, SSH_AUTH_SOCK: "" } });
    assert.equal(unset.code, 1);
    assert.match(unset.stderr, /^ssh-anchor: SSH_AUTH_SOCK is not set/);
  });

  it("prints the same per-identity code from the Node-free launcher as from the CLI", async () => {
    for (const shell of ["bash", "zsh", "sh", "fish"]) {
      const fast = await run(BIN, ["init", "--per-identity", shell]);
      // As the launcher starts Node: with the path it was run as (the scripts call it).
      const node = await run(process.execPath, [join(REPO, "dist", "cli.js"), "init", "--per-identity", shell], { env: { ...process.env, SSH_ANCHOR_LAUNCHER: BIN } });
      assert.equal(fast.code, 0);
      assert.equal(fast.stdout, node.stdout);
      assert.match(fast.stdout, /command "?\$__ssh_anchor_bin"? scope/);
    }
  });

  for (const [shell, [binary, load]] of Object.entries(SHELLS)) {
    it(`${shell}: a login exports its person's scoped socket; a shell that holds one keeps it without ssh-anchor`, async () => {
      const login = await run(binary, ["-c", `${load}; ${SHOW}`], { env: { ...env, SSH_AUTH_SOCK: bob.path }, timeoutMs: 10_000 });
      assert.equal(login.stderr, "");
      const [scoped, original] = login.stdout.split("|");
      assert.match(scoped as string, /\/id-[0-9a-f]{16}\.sock$/);
      assert.equal(original, bob.path);
      // A new pane in that person's session: no ssh-anchor on PATH, nothing printed, kept as is.
      const code = (await run(BIN, ["init", "--per-identity", shell])).stdout;
      const quoted = shell === "fish" ? `echo '${code.replaceAll("'", "\\'")}' | source` : `eval '${code.replaceAll("'", `'"'"'`)}'`;
      const pane = await run(binary, ["-c", `${quoted}; ${SHOW}`], { env: { ...env, PATH: "/usr/bin:/bin", SSH_AUTH_SOCK: scoped } });
      assert.equal(pane.stderr, "");
      assert.equal(pane.stdout, `${scoped}|`);
    });
  }

  it("a login that cannot be scoped keeps its own socket and says why in one line", async () => {
    const empty = await startAgent(cleanup, forwardedSocketPath(daemon.tmpRoot, "Empty00003"));
    const result = await run("bash", ["-c", `${SHELLS.bash[1]}; ${SHOW}`], { env: { ...env, SSH_AUTH_SOCK: empty.path }, timeoutMs: 10_000 });
    assert.equal(result.stdout, `${empty.path}|${empty.path}`);
    assert.match(result.stderr, /^ssh-anchor: no per-identity socket for this login: this login's agent offers no keys.*\n$/);
  });

  it("a certificate does not change the scope, nor its renewal", async () => {
    const dir = await tempDir();
    cleanup.add(() => run("rm", ["-rf", dir]));
    const ca = await makeKey(dir, "ca");
    const carolKey = await makeKey(dir, "carol-key");
    const sign = (serial: string) => run("ssh-keygen", ["-q", "-s", ca, "-I", `carol-${serial}`, "-n", "deploy", "-V", "+1d", "-z", serial, `${carolKey}.pub`]);
    assert.equal((await sign("1")).code, 0);
    const monday = await startAgent(cleanup, forwardedSocketPath(daemon.tmpRoot, "Carol00004"));
    await addKey(monday.path, carolKey); // ssh-add loads carol-key-cert.pub beside it
    assert.match((await sshAdd(monday.path, ["-l"])).stdout, /CERT/);
    const first = await scope(monday);
    assert.equal(first.code, 0, first.stderr);
    assert.equal((await run("rm", ["-f", `${carolKey}-cert.pub`])).code, 0);
    assert.equal((await sign("2")).code, 0);
    const tuesday = await startAgent(cleanup, forwardedSocketPath(daemon.tmpRoot, "Carol00005"));
    await addKey(tuesday.path, carolKey);
    const second = await scope(tuesday);
    assert.equal(second.code, 0, second.stderr);
    assert.equal(second.stdout, first.stdout, "the renewed certificate keeps the scope");
    const listed = await sshAdd(first.stdout.trim(), ["-l"]);
    assert.match(listed.stdout, /carol-key/);
    assert.doesNotMatch(listed.stdout, /alice-key|bob-key/);
    monday.kill();
    tuesday.kill();
  });

  it("warns a login whose keys hold an earlier, smaller scope: its agent serves that scope too", async () => {
    const dir = await tempDir();
    cleanup.add(() => run("rm", ["-rf", dir]));
    const shared = await makeKey(dir, "shared-key");
    const first = await startAgent(cleanup, forwardedSocketPath(daemon.tmpRoot, "Small00006"));
    await addKey(first.path, shared);
    const small = await scope(first);
    assert.equal(small.code, 0, small.stderr);
    first.kill();
    const wider = await startAgent(cleanup, forwardedSocketPath(daemon.tmpRoot, "Wider00007"));
    await addKey(wider.path, await makeKey(dir, "dave-key"));
    await addKey(wider.path, shared);
    const result = await scope(wider);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /^ssh-anchor: warning: scope [0-9a-f]{16} \(1 key\) holds only keys this login also offers/);
    // As documented: the smaller scope's socket now reaches this agent.
    assert.match((await sshAdd(small.stdout.trim(), ["-L"])).stdout, / dave-key$/m);
    wider.kill();
  });

  it("binds a scoped socket again when a tmp cleaner removes it", async () => {
    const aliceSocket = (await scope(alice)).stdout.trim();
    await run("rm", ["-f", aliceSocket]);
    // The daemon looks at its socket files every 5 s.
    await waitFor(`${aliceSocket} to be back`, async () => (await lstat(aliceSocket).catch(() => undefined))?.isSocket(), 12_000, 200);
    const listed = await sshAdd(aliceSocket, ["-L"]);
    assert.match(listed.stdout, / alice-key$/m);
  });

  it("answers as an empty agent when none of the scope's agents is left, never with another person's", async () => {
    const aliceSocket = (await scope(alice)).stdout.trim();
    alice.kill();
    const listed = await sshAdd(aliceSocket, ["-L"]);
    assert.equal(listed.code, 1, listed.stdout + listed.stderr);
    assert.match(listed.stdout + listed.stderr, /The agent has no identities/);
    const status = await daemon.status();
    const scopes = status.scopes ?? [];
    assert.ok(scopes.some((entry) => entry.socket === aliceSocket && entry.agents.length === 0), JSON.stringify(scopes));
    assert.ok(scopes.some((entry) => entry.agents.includes(bob.path)), JSON.stringify(scopes));
  });
});

/** Registry entries for these key lists, the first one's last login the oldest. */
function scopesOf(keyLists: readonly string[][]): Scope[] {
  return keyLists.map((list, i) => {
    const keys = [...list].sort();
    return { id: scopeId({ keys }), keys, lastLoginMs: 1_000_000 + i };
  });
}

describe("a scope registry at its size bound (LIMITS.registryBytes)", () => {
  const cleanup = new Cleanup();
  after(() => cleanup.run());

  it("loads, stays within the bound when a login is added, and survives a restart with every scoped socket served", async () => {
    const base = await tempDir();
    cleanup.add(() => run("rm", ["-rf", base]));
    for (const dir of ["home", "tmp", "anchor"]) await mkdir(join(base, dir), { mode: 0o700 });
    const socket = join(base, "anchor", "agent.sock");
    const registry = `${socket}.scopes`;
    const env = { ...process.env, HOME: join(base, "home"), SSH_ANCHOR_SOCKET: socket };
    const alice = await startAgent(cleanup, forwardedSocketPath(join(base, "tmp"), "Alice00001"));
    await addKey(alice.path, await makeKey(base, "alice-key"));

    // LIMITS.scopes - 1 people whose agents offer some 300 keys each: the file filled to the byte.
    const fingerprint = () => `SHA256:${randomBytes(32).toString("base64").replace(/=+$/, "")}`;
    const people = LIMITS.scopes - 1;
    const keysEach = Math.floor(LIMITS.registryBytes / people / 53) - 2;
    const keyLists = Array.from({ length: people }, () => Array.from({ length: keysEach }, fingerprint));
    // Each key more is 53 bytes ("SHA256:" and 43 characters, quotes, a comma): fill the file to
    // within one key of the bound, so that any new scope makes the writer forget one.
    const spare = Math.floor((LIMITS.registryBytes - Buffer.byteLength(registryText(scopesOf(keyLists)))) / 53);
    for (let i = 0; i < spare; i++) keyLists[i % people]!.push(fingerprint());
    const scopes = scopesOf(keyLists);
    const text = registryText(scopes);
    assert.ok(Buffer.byteLength(text) <= LIMITS.registryBytes && Buffer.byteLength(text) > LIMITS.registryBytes - 53, `${Buffer.byteLength(text)} bytes`);
    await writeFile(registry, text.replace(/\n$/, `${" ".repeat(LIMITS.registryBytes - Buffer.byteLength(text))}\n`), { mode: 0o600 });
    assert.equal((await stat(registry)).size, LIMITS.registryBytes);

    let log = "";
    const start = async () => {
      const child = spawnTracked(cleanup, BIN, ["run", "--socket", socket, "--tmp-dir", join(base, "tmp"), "--verbose"], env);
      child.stderr?.on("data", (chunk: Buffer) => (log += chunk.toString()));
      await waitFor(`the daemon's socket\n${log}`, () => socketAcceptsConnections(socket, 500), 10_000);
      return child;
    };
    // Every key of every scope is in the report: more than run()'s 1 MiB of output.
    const status = async () =>
      JSON.parse((await promisify(execFile)(BIN, ["status", "--json", "--socket", socket], { env, maxBuffer: 16 * LIMITS.registryBytes, timeout: 20_000 })).stdout) as StatusReport;
    /** Every scope the daemon reports has its socket there, answering. */
    const served = async (report: StatusReport) => {
      const reported = report.scopes ?? [];
      for (const scope of reported) {
        assert.ok(scope.socket && (await lstat(scope.socket)).isSocket(), `${scope.id}'s socket\n${log}`);
        assert.ok(await socketAcceptsConnections(scope.socket, 1000), `${scope.socket} answers`);
      }
      return reported.map((scope) => scope.id).sort();
    };

    // A file exactly at the bound is read whole: every scope in it is served.
    let daemon = await start();
    assert.deepEqual(await served(await status()), scopes.map((scope) => scope.id).sort(), log);

    // A login adds a scope: the writer forgets the oldest to stay within the bound.
    const login = await run(BIN, ["scope"], { env: { ...env, SSH_AUTH_SOCK: alice.path } });
    assert.equal(login.code, 0, login.stderr + log);
    const aliceScoped = login.stdout.trim();
    assert.ok((await stat(registry)).size <= LIMITS.registryBytes, `${(await stat(registry)).size} bytes`);
    const remembered = (JSON.parse(await readFile(registry, "utf8")) as Scope[]).map((scope) => scope.id).sort();
    assert.ok(remembered.length >= people - 2 && remembered.length <= LIMITS.scopes, `${remembered.length} scopes kept`);
    assert.ok(!remembered.includes(scopes[0]!.id), "the oldest login was forgotten");

    // A restart (upgrade, reboot, an idle exit): the same scopes, each socket served again.
    const exited = new Promise((resolve) => daemon.once("exit", resolve));
    daemon.kill("SIGTERM");
    await exited;
    await assert.rejects(lstat(aliceScoped), { code: "ENOENT" });
    daemon = await start();
    assert.deepEqual(await served(await status()), remembered, log);
    const listed = await sshAdd(aliceScoped, ["-l"]);
    assert.equal(listed.code, 0, listed.stderr + log);
    assert.match(listed.stdout, /alice-key/);
    daemon.kill("SIGTERM");
  });
});
