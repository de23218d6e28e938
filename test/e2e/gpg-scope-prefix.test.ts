import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { TestAgent } from "../helpers/agent.js";
import { inTmux, TMUX } from "../helpers/panes.js";
import { Cleanup, requireRoot, waitFor } from "../helpers/process.js";
import { startTestHost, type TestHost } from "../helpers/sshd.js";

const skip = requireRoot();

/** `id-<scope>.` of a scoped SSH_AUTH_SOCK, the prefix the per-identity line derives from it. */
const prefixOf = (socket: string | undefined) => /\/(id-[0-9a-f]{16}\.)sock$/.exec(socket ?? "")?.[1];

/**
 * Red team F2: on a per-identity account gpg's redirect leads to D/${SSH_ANCHOR_SCOPE_PREFIX}gpg.sock.
 * The first person to start the account's tmux server left their prefix in its global
 * environment; a session another person created later without a shell (a window's command)
 * carried the first person's prefix beside its own SSH_AUTH_SOCK, so its gpg reached the first
 * person's forwarded agent. The rule: a program's prefix agrees with its SSH_AUTH_SOCK, or is
 * absent (the shared gpg.sock, which reaches no person's forward).
 */
describe("per-identity gpg prefix: a tmux window never carries another person's SSH_ANCHOR_SCOPE_PREFIX (F2)", { skip }, () => {
  const cleanup = new Cleanup();
  let host: TestHost;
  let alice: TestAgent;
  let bob: TestAgent;
  before(async () => {
    host = await startTestHost(cleanup, { rcLine: 'eval "$(ssh-anchor init --per-identity bash)"' });
    alice = await host.addLaptopAgent("alice");
    bob = await host.addLaptopAgent("bob");
  });
  after(() => cleanup.run());

  /** The environment a window's command (no shell, no rc line) got, from `env` written to a file. */
  async function windowEnv(file: string): Promise<Record<string, string>> {
    const text = await waitFor(`${file} written`, async () => {
      const content = await readFile(file, "utf8").catch(() => "");
      return content.includes("ENV_DONE=1") && content;
    }, { timeoutMs: 10_000, intervalMs: 100, explain: host.explain });
    return Object.fromEntries(text.split("\n").filter((line) => line.includes("=")).map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]));
  }

  /**
   * A window command that records its environment. Several words: tmux runs them itself, not
   * through the user's shell -c (bash would read the rc line when it thinks sshd ran it), as it
   * runs `gpg-connect-agent ...` or a program a script starts.
   */
  const record = (file: string) => `/bin/sh -c 'env > ${file}.tmp; echo ENV_DONE=1 >> ${file}.tmp; mv ${file}.tmp ${file}; sleep 60'`;

  it("Alice's tmux server, Bob's new session: its command has Bob's prefix or none, never Alice's; a new shell in it has Bob's", async () => {
    assert.equal((await host.ssh(`${TMUX} new -d -s alice`, 20_000, alice)).code, 0);
    // Alice's pane's shell is up (its rc line ran).
    const shown = await inTmux(host, "alice", "A0", 'echo "prefix=$SSH_ANCHOR_SCOPE_PREFIX"');
    const alicePrefix = /prefix=(id-[0-9a-f]{16}\.)$/m.exec(shown.screen)?.[1];
    assert.ok(alicePrefix, `Alice's shell holds her prefix:\n${shown.screen}`);

    const out = join(host.home, "bob2.env");
    const made = await host.ssh(`${TMUX} new -d -s bob2 ${record(out)}`, 20_000, bob);
    assert.equal(made.code, 0, made.stderr);
    const env = await windowEnv(out);
    const bobPrefix = prefixOf(env.SSH_AUTH_SOCK);
    assert.ok(bobPrefix && bobPrefix !== alicePrefix, `Bob's session holds his own scoped socket: ${env.SSH_AUTH_SOCK}`);
    const prefix = env.SSH_ANCHOR_SCOPE_PREFIX ?? "";
    assert.notEqual(prefix, alicePrefix, `Bob's window command must not carry Alice's prefix (its SSH_AUTH_SOCK is ${env.SSH_AUTH_SOCK})`);
    // Bob's login made it, its prefix came with its SSH_AUTH_SOCK (update-environment): his gpg works.
    assert.equal(prefix, bobPrefix, `the prefix agrees with SSH_AUTH_SOCK: "${prefix}" beside ${env.SSH_AUTH_SOCK}`);
    const global = await host.asUser(`${TMUX} show-environment -g SSH_ANCHOR_SCOPE_PREFIX`);
    assert.doesNotMatch(global.stdout, /id-/, "the server's global environment holds nobody's prefix");

    // A session Bob makes later, after Alice's shell ran again: the same.
    await inTmux(host, "alice", "A1", "true");
    const out3 = join(host.home, "bob3.env");
    assert.equal((await host.ssh(`${TMUX} new -d -s bob3 ${record(out3)}`, 20_000, bob)).code, 0);
    const env3 = await windowEnv(out3);
    assert.ok([undefined, "", prefixOf(env3.SSH_AUTH_SOCK)].includes(env3.SSH_ANCHOR_SCOPE_PREFIX), `bob3: "${env3.SSH_ANCHOR_SCOPE_PREFIX}" beside ${env3.SSH_AUTH_SOCK}`);

    // A new shell in Bob's session: the per-identity line derives Bob's prefix from the session's socket.
    assert.equal((await host.asUser(`${TMUX} new-window -t =bob2:`)).code, 0);
    const inBob = await inTmux(host, "bob2", "B0", 'echo "prefix=$SSH_ANCHOR_SCOPE_PREFIX"');
    assert.match(inBob.screen, new RegExp(`prefix=${bobPrefix.replaceAll(".", "\\.")}$`, "m"), inBob.screen);
  });

  it("connect's session-env: a session it makes or attaches gets this login's prefix even where no shell ever cleared the server's global one", async () => {
    // Alice starts the account's default tmux server with a command, no shell: nothing clears
    // her prefix from its global environment.
    assert.equal((await host.ssh("tmux new -d -s alicec sleep 600", 20_000, alice)).code, 0);
    const global = (await host.asUser("tmux show-environment -g SSH_ANCHOR_SCOPE_PREFIX")).stdout;
    const alicePrefix = /=(id-[0-9a-f]{16}\.)$/m.exec(global)?.[1];
    assert.ok(alicePrefix, `the server's global environment holds Alice's prefix: ${global}`);
    const doctor = await host.anchor("doctor");
    assert.match(doctor.stdout + doctor.stderr, /global environment holds SSH_ANCHOR_SCOPE_PREFIX=id-[0-9a-f]{16}\. .*set-environment -gu SSH_ANCHOR_SCOPE_PREFIX/s, `doctor warns:\n${doctor.stdout}${doctor.stderr}`);
    // Bob's connect: its remote prelude evaluates session-env, then makes the session (-d here:
    // no terminal) with the options session-env set, as `exec tmux new-session -A -D -s` does.
    const out = join(host.home, "bobc.env");
    const made = await host.ssh(`eval "$(ssh-anchor session-env tmux bobc)"; tmux new-session -d -s bobc "$@" ${record(out)}`, 20_000, bob);
    assert.equal(made.code, 0, made.stderr);
    const env = await windowEnv(out);
    const bobPrefix = prefixOf(env.SSH_AUTH_SOCK);
    assert.ok(bobPrefix && bobPrefix !== alicePrefix, `Bob's session holds his own scoped socket: ${env.SSH_AUTH_SOCK}`);
    assert.equal(env.SSH_ANCHOR_SCOPE_PREFIX, bobPrefix, `a new session's command: its prefix agrees with its SSH_AUTH_SOCK ${env.SSH_AUTH_SOCK}`);
    // Bob's connect to a session that exists (Alice's): set-environment points it at Bob's.
    const attached = await host.ssh(`eval "$(ssh-anchor session-env tmux alicec)"`, 20_000, bob);
    assert.equal(attached.code, 0, attached.stderr);
    const out2 = join(host.home, "alicec.env");
    assert.equal((await host.asUser(`tmux new-window -d -t =alicec: ${record(out2)}`)).code, 0);
    const env2 = await windowEnv(out2);
    assert.equal(env2.SSH_AUTH_SOCK, env.SSH_AUTH_SOCK, "the attached session holds Bob's socket");
    assert.equal(env2.SSH_ANCHOR_SCOPE_PREFIX, bobPrefix, "and Bob's prefix beside it");
  });
});
