import assert from "node:assert/strict";
import { mkdir, readFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { TestAgent } from "../helpers/agent.js";
import { LaptopTerminal } from "../helpers/laptop.js";
import { makeNetwork, type TestNetwork } from "../helpers/netns.js";
import { BIN, Cleanup, requireRoot, run, sleep, tempDir, waitFor } from "../helpers/process.js";
import { startTestHost, type TestHost } from "../helpers/sshd.js";

const skip = requireRoot();

const SCOPED = /\/id-([0-9a-f]{16})\.sock$/;

/**
 * Issue 20, per-identity accounts: a person's named forward reaches only that person's panes.
 * Two people (two laptop agents with different keys) connect to one account with per-identity
 * on, each forwarding an echo server of their own under the same name; each person's scoped
 * forward socket reaches their own laptop's server only, before and after a reconnect, and the
 * unscoped one reaches neither.
 */
describe("per-identity forwards: each person's scoped forward socket reaches only their own laptop", { skip }, () => {
  const cleanup = new Cleanup();
  let network: TestNetwork;
  let host: TestHost;
  let laptop: LaptopTerminal;
  let laptopHome: string;
  const people: Record<string, { agent: TestAgent; echo: string; pane: string; log: string }> = {};
  before(async () => {
    network = await makeNetwork(cleanup);
    host = await startTestHost(cleanup, {
      serverNamespace: network.server,
      clientNamespace: network.client,
      address: network.serverAddress,
      rcLine: 'eval "$(ssh-anchor init --per-identity bash)"',
    });
    laptop = new LaptopTerminal(network, cleanup);
    laptopHome = await tempDir("anchor-laptop-");
    cleanup.add(() => run("rm", ["-rf", laptopHome]));
    await mkdir(join(laptopHome, "run"), { mode: 0o700 });
    for (const name of ["alice", "bob"]) {
      const echo = join(laptopHome, "run", `${name}.sock`);
      // The laptop's echo server answers with its person's name: who was reached is plain to see.
      const server: Server = createServer((socket) => socket.on("data", (data) => socket.write(`${name}:${data.toString()}`)));
      await new Promise<void>((resolve) => server.listen(echo, resolve));
      cleanup.add(() => new Promise((resolve) => server.close(resolve)));
      people[name] = { agent: await host.addLaptopAgent(name), echo, pane: "", log: join(laptopHome, `${name}.log`) };
    }
  });
  after(() => cleanup.run());

  const forwardsDir = () => join(host.home, ".ssh", "anchor-forwards");
  const logText = (log: string) => readFile(log, "utf8").catch(() => "");
  const person = (name: string) => people[name] as (typeof people)[string];
  async function explained<T>(name: string, what: Promise<T>): Promise<T> {
    try {
      return await what;
    } catch (error) {
      const { log, pane } = person(name);
      throw new Error(`${(error as Error).message}\n--- ${name}'s connect log:\n${await logText(log)}--- screen:\n${await laptop.screen(pane)}\n--- status:\n${(await host.anchor("status")).stdout}--- ${forwardsDir()}:\n${(await host.asUser(`ls -la ${forwardsDir()}`)).stdout}--- the daemon's log:\n${(await host.asUser("tail -40 ~/.ssh/anchor-*/agent.sock.log")).stdout}`);
    }
  }
  /** Sends a line through a socket on the host, as the test user; what came back ("" when it was closed). */
  async function throughHost(path: string): Promise<string> {
    const script = `const s=require("net").connect(process.argv[1]);s.setTimeout(3000,()=>{console.log("TIMEOUT");process.exit(1)});s.on("data",d=>{process.stdout.write(d);s.end()});s.on("error",e=>console.log("ERR "+e.code));s.write("hello\\n")`;
    return (await host.asUser(`node -e '${script}' ${path}`)).stdout;
  }
  /** The scope id of a tmux session (its SSH_AUTH_SOCK, which connect's prelude set). */
  async function sessionScope(session: string): Promise<{ id: string; directory: string }> {
    const env = (await host.asUser(`tmux show-environment -t =${session} SSH_AUTH_SOCK`)).stdout.trim();
    const path = env.replace(/^SSH_AUTH_SOCK=/, "");
    const id = SCOPED.exec(path)?.[1];
    assert.ok(id, `${session}'s session holds a scoped socket: ${env}`);
    return { id, directory: dirname(path) };
  }
  /** The token of the ssh connection connect has now (the last attempt that connected), from its log. */
  async function tokenNow(name: string): Promise<string> {
    const log = await logText(person(name).log);
    const attempt = [...log.matchAll(/attempt (\d+): connected in/g)].pop()?.[1];
    const token = new RegExp(`attempt ${attempt}: forwards with token ([A-Za-z0-9_-]+)`).exec(log)?.[1];
    assert.ok(token, `${name}'s connect log names the token of its connection:\n${log}`);
    return token;
  }

  it("two people on one account: each scoped forward socket reaches only its person's laptop, and still does after a reconnect", async () => {
    for (const name of ["alice", "bob"]) {
      const who = person(name);
      who.pane = await laptop.open({ SSH_AUTH_SOCK: who.agent.path, TERM: "xterm-256color", HOME: laptopHome });
      await laptop.type(who.pane, `${BIN} connect --log ${who.log} --session ${name} --forward echo=${who.echo} ${host.sshOptions.join(" ")}; echo "EXIT=$?"`);
      await explained(name, waitFor(`${name}'s connect to attach`, async () => /attempt 1: connected in/.test(await logText(who.log)) && (await host.asUser(`tmux has-session -t =${name}`)).code === 0, 20_000, 100));
    }
    const scopes = { alice: await sessionScope("alice"), bob: await sessionScope("bob") };
    assert.notEqual(scopes.alice.id, scopes.bob.id);

    const tokens: Record<string, string> = {};
    const check = async (attempt: number) => {
      for (const name of ["alice", "bob"] as const) {
        // The laptop named the scope the daemon gave the login: connect computed the same id.
        const token = await tokenNow(name);
        if (attempt > 1) assert.notEqual(token, tokens[name], `${name} forwards with a new token after the reconnect`);
        tokens[name] = token;
        assert.ok(token.startsWith(`${scopes[name].id}-`), `${name}'s token ${token} names the scope of ${name}'s session (${scopes[name].id})`);
        const upstream = join(forwardsDir(), `echo.${token}.sock`);
        await explained(name, waitFor(`${name}'s forward ${upstream}`, async () => (await host.asUser(`test -S ${upstream}`)).code === 0, 5000));
        const stable = join(scopes[name].directory, `id-${scopes[name].id}.echo.sock`);
        await explained(name, waitFor(`the daemon to serve ${stable}`, async () => (await host.asUser(`test -S ${stable}`)).code === 0, 5000));
        const printed = (await host.anchor(`forward-path echo --scope ${scopes[name].id}`)).stdout.trim();
        assert.equal(printed, stable, "forward-path --scope names the scoped socket");
        const inScope = await host.asUser(`SSH_AUTH_SOCK=${join(scopes[name].directory, `id-${scopes[name].id}.sock`)} ${host.binDirectory}/ssh-anchor forward-path echo`);
        assert.equal(inScope.stdout.trim(), stable, "in a shell of the scope, forward-path names its scope's socket");
        assert.equal(await throughHost(stable), `${name}:hello\n`, `${name}'s scoped echo socket reaches ${name}'s laptop (attempt ${attempt})`);
      }
      // The shared (unscoped) socket on a per-identity account: never a person's forward.
      const unscoped = join(scopes.alice.directory, "echo.sock");
      const answer = await throughHost(unscoped);
      assert.doesNotMatch(answer, /alice|bob/, `the unscoped ${unscoped} reaches nobody's laptop: ${answer}`);
    };
    await check(1);

    // Both connections cut: each connect reconnects with a new token; old panes' paths are the same.
    await network.cut();
    for (const name of ["alice", "bob"]) await explained(name, waitFor(`${name}'s connect to notice the cut`, async () => /network: address-lost/.test(await logText(person(name).log)), 5000, 50));
    await sleep(2000);
    await network.restore();
    for (const name of ["alice", "bob"]) await explained(name, waitFor(`${name}'s connect to re-attach`, async () => /re-attached \d+ ms after/.test(await logText(person(name).log)), 30_000, 100));
    assert.deepEqual({ alice: await sessionScope("alice"), bob: await sessionScope("bob") }, scopes, "the sessions keep their scopes");
    await check(2);

    const status = await host.anchor("status --json");
    const report = JSON.parse(status.stdout) as { forwards?: { name: string; upstreams: { path: string; scope?: string | null }[] }[] };
    const echo = report.forwards?.find((forward) => forward.name === "echo");
    assert.ok(echo && echo.upstreams.length > 0, status.stdout);
    for (const upstream of echo.upstreams) assert.match(upstream.scope ?? "", new RegExp(`^(${scopes.alice.id}|${scopes.bob.id})$`), `status names each forward's scope: ${upstream.path}`);

    for (const name of ["alice", "bob"]) {
      const { pane } = person(name);
      await laptop.keys(pane, "C-b", "d");
      await explained(name, laptop.waitForScreen(pane, /EXIT=0/, `${name}'s connect to exit after detaching`));
    }
  });

  it("gpg: each person's gpg in their own session signs with their own laptop's key (the redirect names the shell's scope)", async () => {
    const users: Record<string, { gnupg: string; pane: string; log: string }> = {};
    for (const name of ["alice", "bob"]) {
      // A laptop-side gpg-agent per person, with a throwaway key without a passphrase.
      const gnupg = join(laptopHome, `gnupg-${name}`);
      await mkdir(gnupg, { mode: 0o700 });
      const gpgEnv = { ...process.env, GNUPGHOME: gnupg };
      cleanup.add(() => run("gpgconf", ["--kill", "gpg-agent"], { env: gpgEnv }));
      const made = await run("gpg", ["--batch", "--pinentry-mode", "loopback", "--passphrase", "", "--quick-gen-key", `${name} <${name}@test.invalid>`, "ed25519", "sign", "0"], { env: gpgEnv });
      assert.equal(made.code, 0, made.stderr);
      const exported = join(laptopHome, `${name}.asc`);
      await run("sh", ["-c", `gpg --armor --export ${name}@test.invalid > ${exported} && chmod 644 ${exported}`], { env: gpgEnv });
      await run("chmod", ["755", laptopHome]);
      const imported = await host.asUser(`timeout 20 gpg --batch --no-autostart --import < ${exported}`);
      assert.equal(imported.code, 0, imported.stderr);
      users[name] = { gnupg, pane: "", log: join(laptopHome, `${name}-gpg.log`) };
    }
    for (const name of ["alice", "bob"]) {
      const who = users[name] as (typeof users)[string];
      people[name] = { ...person(name), log: who.log };
      who.pane = await laptop.open({ SSH_AUTH_SOCK: person(name).agent.path, TERM: "xterm-256color", HOME: laptopHome });
      people[name] = { ...person(name), pane: who.pane };
      await laptop.type(who.pane, `export GNUPGHOME=${who.gnupg}; ${BIN} connect --log ${who.log} --session ${name}-gpg --gpg ${host.sshOptions.join(" ")}; echo "EXIT=$?"`);
      await explained(name, waitFor(`${name}'s connect to attach`, async () => /attempt 1: connected in/.test(await logText(who.log)) && (await host.asUser(`tmux has-session -t =${name}-gpg`)).code === 0, 20_000, 100));
    }
    const signedIn = async (name: string) => {
      const out = join(host.home, `signed-${name}.txt`);
      await host.asUser(`rm -f ${out}`);
      // An interactive bash in a new window of the person's session: the per-identity line runs
      // (SSH_ANCHOR_SCOPE_PREFIX from the session's scoped SSH_AUTH_SOCK), then gpg signs.
      const script = `cd ~ && echo payload > in-${name} && gpg --batch --yes -o in-${name}.sig --sign in-${name} && gpg --batch --verify in-${name}.sig; echo rc=\\$?`;
      await host.asUser(`tmux new-window -d -t =${name}-gpg: "bash -ic '{ ${script}; } >${out}.tmp 2>&1; mv ${out}.tmp ${out}'"`);
      return explained(name, waitFor(`gpg in ${name}'s session`, async () => {
        const text = await readFile(out, "utf8").catch(() => "");
        return /rc=\d+/.test(text) && text;
      }, 20_000, 100));
    };
    for (const [name, other] of [["alice", "bob"], ["bob", "alice"]] as const) {
      const text = await signedIn(name);
      assert.match(text, /rc=0/, text);
      assert.match(text, new RegExp(`Good signature from "${name} <${name}@test\\.invalid>"`), text);
      assert.ok(!text.includes(`${other}@`), `${name}'s gpg never signs with ${other}'s key:\n${text}`);
    }
    // A shell of no scope: gpg's redirect leads to the shared socket, which reaches no person's forward.
    const shared = await host.asUser("echo payload | timeout 10 gpg --batch --yes --no-autostart --sign -o /dev/null; echo rc=$?");
    assert.doesNotMatch(shared.stdout, /rc=0/, shared.stdout + shared.stderr);

    for (const name of ["alice", "bob"]) {
      const { pane } = users[name] as (typeof users)[string];
      await laptop.keys(pane, "C-b", "d");
      await explained(name, laptop.waitForScreen(pane, /EXIT=0/, `${name}'s connect to exit after detaching`));
    }
  });
});
