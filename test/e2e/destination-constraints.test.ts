import assert from "node:assert/strict";
import { access, appendFile, readFile, readlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { makeKey, startAgent, type TestAgent } from "../helpers/agent.js";
import { inTmux, TMUX, type PaneResult } from "../helpers/panes.js";
import { Cleanup, requireRoot, run, tempDir, waitFor } from "../helpers/process.js";
import { startHopHost, startTestHost, type HopHost, type TestHost } from "../helpers/sshd.js";

const skip = requireRoot();

/** Where the vendored OpenSSH 10.5 that .ci/build-openssh builds has its programs. */
const OPENSSH10 = "/opt/openssh-10.5p1/bin";

/**
 * The laptop's agent (and the ssh-add that constrains its key) and the ssh that hops on from the
 * host: all Debian's (OpenSSH 9.2), or all the vendored 10.5. (The laptop's `ssh -A` is Debian's.)
 */
const CLIENTS = [
  { name: "OpenSSH 9.2", bin: "/usr/bin" },
  { name: "OpenSSH 10.5", bin: OPENSSH10 },
];

/**
 * Keys added with `ssh-add -h` (destination constraints) through the stable socket. The laptop's
 * agent holds a key allowed for `hostA` and for `hostA>hostB` only. The person logs in to host A
 * (this sshd, host key A) with `ssh -A`; from a tmux pane there, whose login has ended, ssh hops
 * to host B (allowed) and host C (not allowed), each an sshd with a host key of its own. The
 * laptop's ssh binds each forwarded agent connection to host A (session-bind, is_forwarding=1);
 * the hop's ssh binds its own connection to B or C, and the agent checks that chain: so every
 * byte the hop's ssh sends must reach the laptop's agent on one connection, the bind included,
 * also when the daemon moved that connection off a zombie login before it was answered.
 */
describe("end to end: destination-constrained keys (ssh-add -h) through the stable socket", { skip }, () => {
  const cleanup = new Cleanup();
  let host: TestHost;
  let hostB: HopHost;
  let hostC: HopHost;
  /** Each client's laptop agent, holding the one key added with `ssh-add -h`. */
  const agents = new Map<string, TestAgent>();
  before(async () => {
    for (const client of CLIENTS) {
      for (const program of ["ssh", "ssh-add", "ssh-agent"]) {
        await access(join(client.bin, program)).catch(() => assert.fail(`${join(client.bin, program)} (${client.name}) is missing: .ci/build-openssh builds it`));
      }
    }
    host = await startTestHost(cleanup);
    hostB = await startHopHost(cleanup, "hostB");
    hostC = await startHopHost(cleanup, "hostC");
    const scanned = await run("ssh-keyscan", ["-p", String(host.port), "-t", "ed25519", "127.0.0.1"]);
    const hostKeyA = /ssh-ed25519 \S+/.exec(scanned.stdout)?.[0];
    assert.ok(hostKeyA, `ssh-keyscan found no host key for host A: ${scanned.stderr}`);
    // ssh-add -h names hosts; their keys come from known_hosts (here -H, a file of the test's).
    const laptop = await tempDir("anchor-hop-laptop-");
    cleanup.add(() => run("rm", ["-rf", laptop]));
    const knownHosts = join(laptop, "known_hosts");
    await writeFile(knownHosts, `hostA ${hostKeyA}\nhostB ${hostB.hostKey}\nhostC ${hostC.hostKey}\n`);
    const constraints = ["-H", knownHosts, "-h", "hostA", "-h", "hostA>hostB"];
    // One key, in host A's authorized_keys (addLaptopAgent) and in B's and C's: only the
    // constraint can refuse it.
    const key = await makeKey(laptop, "hop-key");
    for (const hop of [hostB, hostC]) await appendFile(hop.authorizedKeys, await readFile(`${key}.pub`, "utf8"));
    agents.set("/usr/bin", await host.addLaptopAgent("hop", [key], false, constraints));
    const env = { ...process.env, PATH: `${OPENSSH10}:${process.env.PATH ?? ""}` };
    const agent10 = await startAgent(cleanup, join(laptop, "agent10", "sock"), env);
    assert.equal(await readlink(`/proc/${agent10.pid}/exe`), join(OPENSSH10, "ssh-agent"));
    const added = await run(join(OPENSSH10, "ssh-add"), [...constraints, key], { env: { ...env, SSH_AUTH_SOCK: agent10.path } });
    assert.equal(added.code, 0, added.stderr);
    agents.set(OPENSSH10, agent10);
  });
  after(() => cleanup.run());

  const hop = (ssh: string, to: HopHost, word: string) =>
    `${ssh} -F none -p ${to.port} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o LogLevel=ERROR -o PreferredAuthentications=publickey ${host.user}@127.0.0.1 echo ${word}`;
  const allowed = (result: PaneResult | { code: number | null; stdout: string; stderr: string }, word: string) => {
    const [code, text] = "rc" in result ? [result.rc, result.screen] : [result.code, result.stdout + result.stderr];
    assert.equal(code, 0, `${text}\n--- host B's sshd:\n${hostB.log().slice(-3000)}`);
    assert.match(text, new RegExp(`^${word}$`, "m"));
  };
  const refused = (result: PaneResult | { code: number | null; stdout: string; stderr: string }, word: string) => {
    const [code, text] = "rc" in result ? [result.rc, result.screen] : [result.code, result.stdout + result.stderr];
    assert.equal(code, 255, text);
    assert.match(text, /Permission denied \(publickey\)/);
    assert.doesNotMatch(text, new RegExp(`^${word}$`, "m"));
  };
  const status = async () =>
    JSON.parse((await host.anchor("status --json")).stdout) as { connections: { failovers: number; answeredEmpty: number }; agents: Array<{ path: string; state: string }> };
  const counters = async () => (await status()).connections;

  for (const client of CLIENTS) {
    const ssh = join(client.bin, "ssh");
    const agentOf = () => agents.get(client.bin) as TestAgent;
    it(`${client.name}: the raw forwarded socket allows A>B and refuses A>C (the reference)`, async () => {
      const raw = (to: HopHost, word: string) =>
        host.ssh(`test -S "$SSH_ANCHOR_ORIGINAL_SOCK" || exit 7; SSH_AUTH_SOCK="$SSH_ANCHOR_ORIGINAL_SOCK" ${hop(ssh, to, word)}`, 20_000, agentOf());
      allowed(await raw(hostB, "raw-reached-B"), "raw-reached-B");
      refused(await raw(hostC, "raw-reached-C"), "raw-reached-C");
    });

    it(`${client.name}: an old tmux pane after a reconnect: A>B works, A>C is refused`, async (t) => {
      const session = `hop${CLIENTS.indexOf(client)}`;
      const created = await host.ssh(`${TMUX} new -d -s ${session}`, 20_000, agentOf());
      assert.equal(created.code, 0, created.stderr);
      // That login has ended; a new one forwards the agent.
      const login = await host.login(agentOf());
      const before = await counters();
      const toB = await inTmux(host, session, "HOPB", hop(ssh, hostB, "pane-reached-B"));
      allowed(toB, "pane-reached-B");
      const toC = await inTmux(host, session, "HOPC", hop(ssh, hostC, "pane-reached-C"));
      refused(toC, "pane-reached-C");
      t.diagnostic(`HOPB: ${toB.ms} ms, HOPC: ${toC.ms} ms`);
      // Refused by the agent's rule, not by the daemon answering as an empty agent.
      assert.equal((await counters()).answeredEmpty, before.answeredEmpty);
      await login.end();
    });

    it(`${client.name}: both still hold when the hop's connection is moved off a zombie before its first answer`, async (t) => {
      const session = `zhop${CLIENTS.indexOf(client)}`;
      const created = await host.ssh(`${TMUX} new -d -s ${session}`, 20_000, agentOf());
      assert.equal(created.code, 0, created.stderr);
      const live = await host.login(agentOf());
      for (const [to, word, marker, expect] of [
        [hostB, "moved-reached-B", "ZHOPB", allowed],
        [hostC, "moved-reached-C", "ZHOPC", refused],
      ] as const) {
        // A newer login whose laptop sleeps: the daemon tries it first, and the hop's first
        // message (its session-bind) goes to it and gets no answer.
        const sleeper = await host.login(agentOf());
        // Known live first (a probe of the new login that began before the freeze would find
        // it a zombie before the hop asks anything).
        await waitFor(`the daemon to find ${sleeper.forwardedSocket} live`, async () => (await status()).agents.some((a) => a.path === sleeper.forwardedSocket && a.state === "live"), {
          timeoutMs: 10_000,
          intervalMs: 200,
          explain: host.explain,
        });
        const before = await counters();
        sleeper.freeze();
        const result = await inTmux(host, session, marker, hop(ssh, to, word));
        expect(result, word);
        const afterwards = await counters();
        if (afterwards.failovers !== before.failovers + 1) {
          assert.fail(`the hop's connection must have been moved off the zombie ${sleeper.forwardedSocket} (failovers ${before.failovers} -> ${afterwards.failovers})\n${await host.explain()}`);
        }
        assert.equal(afterwards.answeredEmpty, before.answeredEmpty);
        assert.ok(result.ms < 8000, `the hop took ${result.ms} ms next to a zombie`);
        t.diagnostic(`${marker}: ${result.ms} ms, moved off the zombie`);
        sleeper.thaw();
        await sleeper.end();
      }
      await live.end();
    });
  }
});
