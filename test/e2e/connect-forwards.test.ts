import assert from "node:assert/strict";
import { chmod, mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { LaptopTerminal } from "../helpers/laptop.js";
import { makeNetwork, type TestNetwork } from "../helpers/netns.js";
import { BIN, Cleanup, requireRoot, run, sleep, tempDir, waitFor } from "../helpers/process.js";
import { startTestHost, TEST_USER, type TestHost } from "../helpers/sshd.js";

const skip = requireRoot();

/**
 * Issue 20, the laptop's side: connect sets the forwards up by itself (no ssh_config lines), to a
 * path of each connection's own on the host, and `setup --forwards` writes the lines with which
 * plain ssh does the same.
 */
describe("connect --forward and --gpg: each connection forwards to a path of its own", { skip }, () => {
  const cleanup = new Cleanup();
  let network: TestNetwork;
  let host: TestHost;
  let laptop: LaptopTerminal;
  /** The laptop user's home (root's, moved: nothing is written in /root). */
  let laptopHome: string;
  let echoSocket: string;
  let logs: string;
  before(async () => {
    network = await makeNetwork(cleanup);
    host = await startTestHost(cleanup, { serverNamespace: network.server, clientNamespace: network.client, address: network.serverAddress });
    laptop = new LaptopTerminal(network, cleanup);
    laptopHome = await tempDir("anchor-laptop-");
    cleanup.add(() => run("rm", ["-rf", laptopHome]));
    logs = join(laptopHome, "logs");
    await mkdir(logs);
    // A tiny echo server on the laptop, in a private directory of the laptop user's.
    await mkdir(join(laptopHome, "run"), { mode: 0o700 });
    echoSocket = join(laptopHome, "run", "echo.sock");
    const server: Server = createServer((socket) => socket.on("data", (data) => socket.write(`echo:${data.toString()}`)));
    await new Promise<void>((resolve) => server.listen(echoSocket, resolve));
    cleanup.add(() => new Promise((resolve) => server.close(resolve)));
    // Nothing of an earlier run's logins.
    await host.asUser(`rm -rf ${forwardsDir()}`);
  });
  after(() => cleanup.run());

  const forwardsDir = () => join(host.home, ".ssh", "anchor-forwards");
  const logText = (log: string) => readFile(log, "utf8").catch(() => "");
  async function waitForLog(log: string, pane: string, pattern: RegExp, what: string, timeoutMs = 20_000): Promise<void> {
    try {
      await waitFor(what, async () => pattern.test(await logText(log)), timeoutMs, 50);
    } catch (error) {
      throw new Error(`${(error as Error).message}\n--- connect's log:\n${await logText(log)}--- screen:\n${await laptop.screen(pane)}`);
    }
  }
  /** Detaches (the remote tmux's C-b d) and waits for connect's exit; on failure the screen and log show why. */
  async function detach(pane: string, log: string): Promise<void> {
    try {
      // The remote shell answers first: a prefix key typed before tmux has its client is lost.
      await laptop.type(pane, "echo ready-$((1+2))");
      await laptop.waitForScreen(pane, /ready-3/, "the remote shell to answer");
      await laptop.keys(pane, "C-b", "d");
      await laptop.waitForScreen(pane, /EXIT=0/, "connect to exit 0 after detaching");
    } catch (error) {
      throw new Error(`${(error as Error).message}\n--- connect's log:\n${await logText(log)}--- screen:\n${await laptop.screen(pane)}`);
    }
  }
  /** The forwarded sockets of `name` in U on the host, as the test user sees them. */
  async function forwarded(name: string): Promise<string[]> {
    const listed = await host.asUser(`ls -1 ${forwardsDir()} 2>/dev/null`);
    return listed.stdout.split("\n").filter((file) => file.startsWith(`${name}.`) && file.endsWith(".sock"));
  }
  /** Sends a line through a socket on the host, as the test user; what came back. */
  async function throughHost(path: string): Promise<string> {
    const script = `const s=require("net").connect(process.argv[1]);s.setTimeout(3000,()=>{console.log("TIMEOUT");process.exit(1)});s.on("data",d=>{process.stdout.write(d);s.end()});s.on("error",e=>console.log("ERR "+e.code));s.write("hello\\n")`;
    return (await host.asUser(`node -e '${script}' ${path}`)).stdout;
  }

  it("sets up --forward without any ssh_config lines, asks the host's home once, and a new token after a reconnect is not blocked by the old file", async () => {
    const pane = await laptop.open({ SSH_AUTH_SOCK: host.laptopAgent.path, TERM: "xterm-256color", HOME: laptopHome });
    const log = join(logs, "echo.log");
    // host.sshOptions holds -F none: no ssh_config line is read, so every forward is connect's own.
    await laptop.type(pane, `${BIN} connect --log ${log} --session fw --forward echo=${echoSocket} ${host.sshOptions.join(" ")}; echo "EXIT=$?"`);
    await waitForLog(log, pane, /attempt 1: connected in/, "connect to attach");
    assert.match(await logText(log), /asking .* once for its home/);
    // The forwards directory, made by the first-contact probe: the user's own, 0700.
    const mode = await host.asUser(`stat -c '%a %U' ${forwardsDir()}`);
    assert.equal(mode.stdout.trim(), `700 ${TEST_USER}`);
    // What connect learnt is kept on the laptop, in a 0600 file of the user's.
    const cacheDir = join(laptopHome, ".local", "state", "ssh-anchor", "hosts");
    const [cached] = await readdir(cacheDir);
    assert.ok(cached, "a cache file");
    assert.match(await readFile(join(cacheDir, cached), "utf8"), new RegExp(`^home=${host.home}$`, "m"));

    const first = await waitFor("the echo forward on the host", async () => (await forwarded("echo")).length === 1 && (await forwarded("echo")), 5000);
    // The token: the scope of the laptop agent's keys (docs/per-identity.md), then 12 random characters.
    const firstToken = /^echo\.([0-9a-f]{16}-[A-Za-z0-9]{12})\.sock$/.exec(first[0] as string)?.[1];
    assert.ok(firstToken, first.join(" "));
    assert.match(await logText(log), new RegExp(`attempt 1: forwards with token ${firstToken}`));
    assert.equal(await throughHost(join(forwardsDir(), first[0] as string)), "echo:hello\n");

    // A cut and a reconnect: a new token, bound while the old login's file is still there.
    await network.cut();
    await waitForLog(log, pane, /network: address-lost/, "connect to notice the cut", 5000);
    await sleep(2000);
    await network.restore();
    await waitForLog(log, pane, /re-attached \d+ ms after/, "connect to re-attach");
    const second = await waitFor("the new login's echo forward", async () => {
      const now = await forwarded("echo");
      return now.some((file) => file !== first[0]) && now;
    }, 5000);
    const fresh = second.find((file) => file !== first[0]) as string;
    assert.ok(second.includes(first[0] as string), `the old login's file is still there (no StreamLocalBindUnlink, no daemon removing it in this test): ${second.join(" ")}`);
    assert.equal(await throughHost(join(forwardsDir(), fresh)), "echo:hello\n", "the new forward reaches the laptop's echo server");
    // No second probe: the cache answered.
    assert.equal((await logText(log)).match(/asking .* once for its home/g)?.length, 1);
    // Nothing said about forwards that did not bind.
    assert.doesNotMatch(await laptop.screen(pane), /not forwarded/);

    await detach(pane, log);
  });

  it("says in one line when a forward did not bind, and the session goes on", async () => {
    // Another process of the test user's at the path the next forward needs is impossible to
    // foresee (the token is random): take the directory away instead; the prelude remakes it.
    // No daemon meanwhile: a running one makes the directory again at its next socket check,
    // and under load that came before sshd bound the forward (which then did bind).
    assert.equal((await host.anchor("stop")).code, 0);
    const moved = await host.asUser(`mv ${forwardsDir()} ${forwardsDir()}.away`);
    assert.equal(moved.code, 0, moved.stderr);
    const pane = await laptop.open({ SSH_AUTH_SOCK: host.laptopAgent.path, TERM: "xterm-256color", HOME: laptopHome });
    const log = join(logs, "fail.log");
    await laptop.type(pane, `${BIN} connect --log ${log} --session fwfail --forward echo=${echoSocket} ${host.sshOptions.join(" ")}; echo "EXIT=$?"`);
    await waitForLog(log, pane, /attempt 1: connected in/, "connect to attach");
    await sleep(500);
    await laptop.type(pane, "echo alive-$((20+1))");
    await laptop.waitForScreen(pane, /alive-21/, "the session to go on");
    const mode = await host.asUser(`stat -c '%a' ${forwardsDir()}`);
    assert.equal(mode.stdout.trim(), "700", "made again for the next login");
    await detach(pane, log);
    // Said before tmux took the screen (as the "not found on the host" line): there after detaching.
    const said = (await laptop.screen(pane)).split("\n").filter((line) => line.startsWith("ssh-anchor: "));
    assert.deepEqual(said, ["ssh-anchor: not forwarded (the socket did not bind on the host): echo; this login goes on without it"]);
    await host.asUser(`rm -rf ${forwardsDir()}.away`);
  });

  it("forwards the laptop's restricted gpg-agent socket with --gpg: gpg on the host signs through it", async () => {
    // A laptop-side gpg-agent with a throwaway key without a passphrase.
    const gnupg = join(laptopHome, "gnupg");
    await mkdir(gnupg, { mode: 0o700 });
    const gpgEnv = { ...process.env, GNUPGHOME: gnupg };
    cleanup.add(() => run("gpgconf", ["--kill", "gpg-agent"], { env: gpgEnv }));
    const made = await run("gpg", ["--batch", "--pinentry-mode", "loopback", "--passphrase", "", "--quick-gen-key", "Anchor Test <anchor@test.invalid>", "ed25519", "sign", "0"], { env: gpgEnv });
    assert.equal(made.code, 0, made.stderr);
    const publicKey = (await run("gpg", ["--armor", "--export", "anchor@test.invalid"], { env: gpgEnv })).stdout;
    const extra = (await run("gpgconf", ["--list-dirs", "agent-extra-socket"], { env: gpgEnv })).stdout.trim();

    // The host's gpg: the public key only, and its agent socket a libassuan redirect to the
    // forwarded socket (until the daemon's stable gpg socket does that), never an agent of its own.
    const remoteGnupg = join(host.home, "gnupg-test");
    await host.asUser(`rm -rf ${remoteGnupg}; mkdir -m 700 ${remoteGnupg} && echo no-autostart > ${remoteGnupg}/gpg.conf`);
    await writeFile(join(laptopHome, "pub.asc"), publicKey);
    await chmod(laptopHome, 0o755);
    const imported = await host.asUser(`GNUPGHOME=${remoteGnupg} gpg --batch --import < ${join(laptopHome, "pub.asc")}`);
    assert.equal(imported.code, 0, imported.stderr);
    const remoteSocket = (await host.asUser(`GNUPGHOME=${remoteGnupg} gpgconf --list-dirs agent-socket`)).stdout.trim();

    const pane = await laptop.open({ SSH_AUTH_SOCK: host.laptopAgent.path, TERM: "xterm-256color", HOME: laptopHome, GNUPGHOME: gnupg });
    const log = join(logs, "gpg.log");
    // (The laptop's tmux server keeps the first pane's environment: GNUPGHOME is set by hand.)
    await laptop.type(pane, `export GNUPGHOME=${gnupg}; ${BIN} connect --log ${log} --session gpg --gpg ${host.sshOptions.join(" ")}; echo "EXIT=$?"`);
    await waitForLog(log, pane, /attempt 1: connected in/, "connect to attach");
    assert.match(await logText(log), new RegExp(`forwards: gpg=${extra.replaceAll(".", "\\.")} `));
    const token = /attempt 1: forwards with token ([\w-]+)/.exec(await logText(log))?.[1];
    const path = join(forwardsDir(), `gpg.${token}.sock`);
    await waitFor("the gpg forward", async () => (await host.asUser(`test -S ${path}`)).code === 0, 5000);

    const version = await host.asUser(`gpg-connect-agent -S ${path} 'GETINFO version' /bye`);
    assert.match(version.stdout, /^D \d+\.\d+/m, version.stdout + version.stderr);
    await host.asUser(`printf '%%Assuan%%\\nsocket=%s\\n' ${path} > ${remoteSocket}`);
    const signed = await host.asUser(`cd ${remoteGnupg} && echo payload > in && GNUPGHOME=${remoteGnupg} gpg --batch --yes -u anchor@test.invalid -o in.sig --sign in && GNUPGHOME=${remoteGnupg} gpg --batch --verify in.sig`);
    assert.equal(signed.code, 0, signed.stderr);
    assert.match(signed.stderr, /Good signature from "Anchor Test <anchor@test\.invalid>"/);
    // The host's gpg never started an agent of its own on the path.
    assert.equal((await host.asUser(`test -f ${remoteSocket}`)).code, 0, "the redirect is still a file");

    await detach(pane, log);
  });

  it("setup --forwards writes the lines with which plain ssh forwards the same (per-laptop %C token)", async () => {
    await host.asUser(`mkdir -p -m 700 ${forwardsDir()}`);
    const config = join(laptopHome, ".ssh", "config");
    await mkdir(join(laptopHome, ".ssh"), { recursive: true, mode: 0o700 });
    const [, port] = host.sshOptions;
    await writeFile(
      config,
      [
        "Host anchor-test",
        `    HostName ${network.serverAddress}`,
        `    Port ${port}`,
        `    User ${TEST_USER}`,
        "    StrictHostKeyChecking no",
        "    UserKnownHostsFile /dev/null",
        "    BatchMode yes",
        "    LogLevel ERROR",
        "",
      ].join("\n"),
    );
    const env = { ...process.env, HOME: laptopHome };
    const original = await readFile(config, "utf8");
    const setup = await run(BIN, ["setup", "--forwards", "anchor-test", "--forward", `echo=${echoSocket}`, "--remote-home", host.home], { env });
    assert.equal(setup.code, 0, setup.stdout + setup.stderr);
    const written = await readFile(config, "utf8");
    assert.ok(written.includes(`    RemoteForward ${forwardsDir()}/echo.%C.sock ${echoSocket}`), written);
    // Plain ssh, the laptop's config file only: the forward is there in the login, and reaches the echo server.
    const script = `const fs=require("fs"),net=require("net");const d=process.argv[1];const f=fs.readdirSync(d).filter(n=>/^echo\\.[0-9a-f]{40}\\.sock$/.test(n));if(f.length!==1){console.log("FOUND "+f.join(","));process.exit(1)}const s=net.connect(d+"/"+f[0]);s.on("data",x=>{process.stdout.write(x);s.end()});s.write("plain\\n")`;
    const [command, ...args] = network.inClient("ssh", ["-F", config, "anchor-test", `node -e '${script}' ${forwardsDir()}`]);
    const plain = await run(command, args, { env: { ...env, SSH_AUTH_SOCK: host.laptopAgent.path }, timeoutMs: 20_000 });
    assert.equal(plain.stdout, "echo:plain\n", plain.stdout + plain.stderr);
    // --undo takes the block away, and only it.
    const undo = await run(BIN, ["setup", "--forwards", "anchor-test", "--undo"], { env });
    assert.equal(undo.code, 0, undo.stdout + undo.stderr);
    assert.equal(await readFile(config, "utf8"), original);
  });
});
