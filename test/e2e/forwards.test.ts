import assert from "node:assert/strict";
import { chmod, chown, link, mkdir, symlink, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { makeAttacker, type Attacker } from "../helpers/attacker.js";
import { inTmux, TMUX } from "../helpers/panes.js";
import { Cleanup, requireRoot, run, sleep, tempDir, waitFor } from "../helpers/process.js";
import { stableDirectory, startTestHost, type Login, type TestHost } from "../helpers/sshd.js";

const skip = requireRoot();
const KEY = "gpg-e2e@example.invalid";

/**
 * Issue 20, the remote side: a laptop-side gpg-agent (a throwaway key, no passphrase) whose
 * restricted extra socket each login forwards for real through the private sshd to a path of its
 * own, ~/.ssh/anchor-forwards/gpg.TOKEN.sock; gpg in an old tmux pane reaches it through the
 * daemon's stable gpg socket (gpg's agent-socket path redirects there).
 */
describe("end to end: forwarded gpg-agent and named forwards survive reconnects", { skip }, () => {
  const cleanup = new Cleanup();
  let host: TestHost;
  let attacker: Attacker;
  let gpgHome: string;
  let extraSocket: string;
  let echoSocket: string;
  let forwards: string;
  let tokens = 0;
  const gpgEnv = () => ({ ...process.env, GNUPGHOME: gpgHome });

  before(async () => {
    host = await startTestHost(cleanup);
    attacker = await makeAttacker(cleanup);
    forwards = join(host.home, ".ssh", "anchor-forwards");
    const laptop = await tempDir("anchor-gpg-laptop-");
    cleanup.add(() => run("rm", ["-rf", laptop]));
    gpgHome = join(laptop, "gnupg");
    await mkdir(gpgHome, { mode: 0o700 });
    await writeFile(join(gpgHome, "gpg-agent.conf"), "allow-loopback-pinentry\n");
    cleanup.add(() => run("gpgconf", ["--kill", "gpg-agent"], { env: gpgEnv() }));
    const made = await run("gpg", ["--batch", "--pinentry-mode", "loopback", "--passphrase", "", "--quick-gen-key", `Test <${KEY}>`, "ed25519", "sign", "never"], { env: gpgEnv() });
    assert.equal(made.code, 0, made.stderr);
    const fpr = /^fpr:+([0-9A-F]+):/m.exec((await run("gpg", ["--list-keys", "--with-colons", KEY], { env: gpgEnv() })).stdout)?.[1] as string;
    const sub = await run("gpg", ["--batch", "--pinentry-mode", "loopback", "--passphrase", "", "--quick-add-key", fpr, "cv25519", "encr", "never"], { env: gpgEnv() });
    assert.equal(sub.code, 0, sub.stderr);
    extraSocket = (await run("gpgconf", ["--list-dirs", "agent-extra-socket"], { env: gpgEnv() })).stdout.trim();
    assert.equal((await run("gpg-connect-agent", ["/bye"], { env: gpgEnv() })).code, 0);
    // The public key on the host (the user's own keyring; gpg autostarts a local gpg-agent there,
    // which the daemon must take the path from when the first forward comes), and a message
    // encrypted to the key on the laptop.
    const shared = join(laptop, "shared");
    await mkdir(shared, { mode: 0o755 });
    await chmod(laptop, 0o755);
    const pub = (await run("gpg", ["--armor", "--export", KEY], { env: gpgEnv() })).stdout;
    await writeFile(join(shared, "pub.asc"), pub, { mode: 0o644 });
    await writeFile(join(shared, "plain"), "the laptop's secret words\n");
    const enc = await run("gpg", ["--batch", "--yes", "--trust-model", "always", "-r", KEY, "-o", join(shared, "msg.gpg"), "-e", join(shared, "plain")], { env: gpgEnv() });
    assert.equal(enc.code, 0, enc.stderr);
    await chmod(join(shared, "msg.gpg"), 0o644);
    const imported = await host.asUser(`gpg --batch --import ${shared}/pub.asc && cp ${shared}/msg.gpg ~/msg.gpg && echo hello > ~/small.txt`);
    assert.equal(imported.code, 0, imported.stderr);
    // connect's first contact makes the forwards directory (ssh never creates directories).
    assert.equal((await host.asUser("mkdir -p -m 700 ~/.ssh/anchor-forwards")).code, 0);
    // A tiny echo server on the laptop: the named forward's upstream.
    echoSocket = join(laptop, "echo.sock");
    const echo = createServer((socket) => socket.on("data", (chunk) => socket.write(`echo:${chunk.toString()}`)));
    await new Promise<void>((resolve) => echo.listen(echoSocket, resolve));
    cleanup.add(() => new Promise((resolve) => echo.close(resolve)));
  });
  after(() => cleanup.run());

  /** A login forwarding the laptop's extra gpg socket (and `more` -R specs) to paths of its own. */
  async function gpgLogin(more: readonly string[] = []): Promise<{ login: Login; socket: string }> {
    tokens += 1;
    const socket = join(forwards, `gpg.t${tokens}x.sock`);
    const login = await host.login(undefined, [`${socket}:${extraSocket}`, ...more]);
    await waitFor(`${socket} to be forwarded`, async () => (await run("test", ["-S", socket])).code === 0, 10_000);
    return { login, socket };
  }

  const sign = (session: string, marker: string) =>
    inTmux(host, session, marker, `gpg --batch --yes -u ${KEY} -o ~/small.sig --sign ~/small.txt && gpg --batch --verify ~/small.sig`);
  const signed = (result: { rc: number; screen: string }) => {
    assert.equal(result.rc, 0, result.screen);
    assert.match(result.screen, /Good signature from "Test <gpg-e2e@example\.invalid>"/);
  };

  it("in a pane of login 1, gpg --sign and --decrypt work after logout and login 2, though login 1's socket file is still there", async () => {
    const first = await gpgLogin();
    assert.equal((await host.ssh(`${TMUX} new -d -s gpg`)).code, 0);
    signed(await sign("gpg", "SIGN1"));
    // The daemon is stopped so that nothing removes login 1's forward: sshd leaves it behind
    // (no StreamLocalBindUnlink), as a host without ssh-anchor would.
    assert.equal((await host.anchor("stop")).code, 0);
    await first.login.end();
    assert.equal((await run("test", ["-S", first.socket])).code, 0, "login 1's forwarded socket stays behind");
    const second = await gpgLogin();
    const dec = await inTmux(host, "gpg", "DEC", "gpg --batch -d ~/msg.gpg");
    assert.equal(dec.rc, 0, dec.screen);
    assert.match(dec.screen, /^the laptop's secret words$/m);
    signed(await sign("gpg", "SIGN2"));
    // The restarted daemon removed login 1's dead socket.
    await waitFor(`${first.socket} to be removed`, async () => (await run("test", ["-e", first.socket])).code !== 0, 2000);
    const status = JSON.parse((await host.anchor("status --json")).stdout);
    const gpg = status.forwards.find((forward: { name: string }) => forward.name === "gpg");
    assert.equal(gpg.stable, join(stableDirectory(host.home), "gpg.sock"));
    assert.equal(gpg.upstreams.length, 1, JSON.stringify(gpg));
    assert.equal(gpg.upstreams[0].path, second.socket);
    assert.equal(gpg.upstreams[0].restricted, true, "the extra socket is the restricted one");
    const text = (await host.anchor("status")).stdout;
    assert.match(text, /forwards \(each login's forwarded socket/);
    assert.match(text, /restricted \(extra\) socket/);
    const doctor = (await host.anchor("doctor")).stdout;
    assert.match(doctor, /gpg's agent socket \S+ leads to the daemon's \S+gpg\.sock/);
    assert.match(doctor, /forward gpg: 1 live login/);
    await second.login.end();
  });

  it("keeps working when the newer of two overlapping logins ends first", async () => {
    const older = await gpgLogin();
    const newer = await gpgLogin();
    assert.equal((await host.ssh(`${TMUX} new -d -s gpgoverlap`)).code, 0);
    await newer.login.end();
    signed(await sign("gpgoverlap", "OVERLAP"));
    await older.login.end();
  });

  it("answers a pane's gpg in under 1 s when the newer login is a zombie (SIGSTOPped ssh)", async () => {
    const live = await gpgLogin();
    const sleeper = await gpgLogin();
    assert.equal((await host.ssh(`${TMUX} new -d -s gpgzombie`)).code, 0);
    sleeper.login.freeze();
    const probe = await inTmux(host, "gpgzombie", "ZGET", "gpg-connect-agent 'GETINFO version' /bye");
    assert.equal(probe.rc, 0, probe.screen);
    assert.match(probe.screen, /^D \d+\.\d+/m);
    assert.ok(probe.ms < 1000, `answered in ${probe.ms} ms next to a zombie`);
    signed(await sign("gpgzombie", "ZSIGN"));
    sleeper.login.thaw();
    await sleeper.login.end();
    await live.login.end();
  });

  it("removes a dead forwarded socket within 1 s of its login ending", async () => {
    const keep = await gpgLogin();
    const gone = await gpgLogin();
    await gone.login.end();
    const ended = Date.now();
    await waitFor(`${gone.socket} to be removed`, async () => (await run("test", ["-e", gone.socket])).code !== 0, 3000, 20);
    const ms = Date.now() - ended;
    assert.ok(ms < 1000, `removed ${ms} ms after the login ended`);
    await keep.login.end();
  });

  it("fails fast, without autostarting a gpg-agent, when no login forwards gpg", async () => {
    assert.equal((await host.ssh(`${TMUX} new -d -s gpgnone`)).code, 0);
    const result = await sign("gpgnone", "NONE");
    assert.notEqual(result.rc, 0, result.screen);
    assert.match(result.screen, /No agent running/);
    assert.ok(result.ms < 3000, `failed in ${result.ms} ms`);
    const agents = await run("pgrep", ["-u", String(host.uid), "-x", "gpg-agent"]);
    assert.notEqual(agents.code, 0, `a gpg-agent of the user runs: ${agents.stdout}`);
  });

  it("reaches a named forward (an echo server on the laptop) from an old pane after a reconnect", async () => {
    const first = await host.login(undefined, [`${join(forwards, "opener.a1.sock")}:${echoSocket}`]);
    await waitFor("the opener forward", async () => (await run("test", ["-S", join(forwards, "opener.a1.sock")])).code === 0, 10_000);
    assert.equal((await host.ssh(`${TMUX} new -d -s opener`)).code, 0);
    await first.end();
    const second = await host.login(undefined, [`${join(forwards, "opener.b2.sock")}:${echoSocket}`]);
    await waitFor("the second opener forward", async () => (await run("test", ["-S", join(forwards, "opener.b2.sock")])).code === 0, 10_000);
    const talk = `node -e 'const s=require("net").connect(process.argv[1]);s.end("ping\\n");s.pipe(process.stdout)' "$(ssh-anchor forward-path opener)"`;
    const result = await inTmux(host, "opener", "OPEN", talk);
    assert.equal(result.rc, 0, result.screen);
    assert.match(result.screen, /^echo:ping$/m);
    const path = await host.anchor("forward-path opener");
    assert.equal(path.stdout.trim(), join(stableDirectory(host.home), "opener.sock"));
    await second.end();
  });

  it("never uses another local user's socket put among the forwards", async () => {
    const real = await gpgLogin();
    const dir = await tempDir("anchor-aa-");
    await chown(dir, attacker.uid, attacker.uid);
    const fake = await attacker.fakeAgent(join(dir, "sock"));
    // The newest entries, each refused: another user's socket (moved in by root: no user can),
    // a hard link to it, and a symlink to it.
    await sleep(20);
    await run("cp", ["-a", fake.path, join(forwards, "gpg.zz1.sock")]).catch(() => undefined);
    await link(fake.path, join(forwards, "gpg.zz2.sock")).catch(() => undefined);
    await symlink(fake.path, join(forwards, "gpg.zz3.sock"));
    assert.equal((await host.ssh(`${TMUX} new -d -s gpgattack`)).code, 0);
    signed(await sign("gpgattack", "ATTACK"));
    assert.equal(await fake.received(), "", "the attacker's socket received nothing");
    const status = JSON.parse((await host.anchor("status --json")).stdout);
    const gpg = status.forwards.find((forward: { name: string }) => forward.name === "gpg");
    assert.deepEqual(gpg.upstreams.map((u: { path: string }) => u.path), [real.socket]);
    await real.login.end();
  });
});
