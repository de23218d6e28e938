import assert from "node:assert/strict";
import { type ChildProcess } from "node:child_process";
import { chmod, cp, lstat, mkdir, readFile, readlink, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { addKey, makeKey, startAgent, type TestAgent } from "../helpers/agent.js";
import { Cleanup, REPO, requireRoot, run, spawnTracked, tempDir, waitFor, type RunResult } from "../helpers/process.js";
import { removeAccount } from "../helpers/accounts.js";
import { freePort, stableDirectory, TEST_USER } from "../helpers/sshd.js";

/**
 * `ssh-anchor install HOST` from the laptop (this test, as root: only ssh runs, with -F none)
 * into two fresh accounts made here with the distribution's skeleton dotfiles (useradd -m) and
 * removed afterwards, each behind a private sshd of its own on loopback:
 *
 * - `<test user>-node`: Node is where the system has it (/usr/bin, on sshd's PATH): the package.
 * - `<test user>-bare`: a host without Node. Its sshd runs in a mount namespace of its own in
 *   which each directory holding node, nodejs, npm, npx or corepack (here /usr/bin) is an
 *   overlay whose upper layer holds whiteouts for them: for that sshd and everything it starts (logins, login shells, the daemon) Node does
 *   not exist at all, whatever PATH a start-up file sets, while the rest of the machine keeps it.
 *   A PATH without /usr/bin would not do: /etc/profile gives login shells /usr/bin back.
 */
const NODE_USER = `${TEST_USER}-node`;
const BARE_USER = `${TEST_USER}-bare`;
const HIDDEN = ["node", "nodejs", "npm", "npx", "corepack"];
const VERSION = (JSON.parse(await readFile(join(REPO, "package.json"), "utf8")) as { version: string }).version;

interface Account {
  readonly user: string;
  readonly home: string;
  readonly port: number;
  readonly log: () => string;
}


async function must(command: string, args: string[]): Promise<string> {
  const result = await run(command, args, { timeoutMs: 60_000 });
  if (result.code !== 0) throw new Error(`${command} ${args.join(" ")} failed: ${result.stderr}`);
  return result.stdout;
}


describe("install HOST: the package where Node is, the single executable where it is not", { skip: requireRoot() }, () => {
  const cleanup = new Cleanup();
  let base: string;
  let laptopAgent: TestAgent;
  let laptopPackage: string;
  let executable: string;
  let withNode: Account;
  let bare: Account;

  const sshOptions = (account: Account) => [
    "-p", String(account.port), "-F", "none", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
  ];
  /** ssh-anchor on the laptop: a copy of the package as npm installs it (no build/ beside it). */
  const install = (account: Account, extra: string[] = []) =>
    run(join(laptopPackage, "bin", "ssh-anchor"), ["install", ...extra, ...sshOptions(account), `${account.user}@127.0.0.1`], {
      env: { ...process.env, SSH_AUTH_SOCK: laptopAgent.path },
      timeoutMs: 240_000,
    });
  /** A fresh `ssh -A` login running `command`. */
  const login = (account: Account, command: string) =>
    run("ssh", [...sshOptions(account), "-o", "BatchMode=yes", "-A", `${account.user}@127.0.0.1`, command], {
      env: { ...process.env, SSH_AUTH_SOCK: laptopAgent.path },
      timeoutMs: 30_000,
    });
  const explain = (result: RunResult, account: Account) =>
    `status ${result.code}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}\nsshd log (tail):\n${account.log().split("\n").slice(-15).join("\n")}`;

  async function startSshd(user: string, hideNode: boolean): Promise<Account> {
    await removeAccount(user);
    await must("useradd", ["-m", "-s", "/bin/bash", user]);
    cleanup.add(() => removeAccount(user));
    // '*': no password, but not locked (sshd without PAM refuses locked accounts).
    await must("usermod", ["-p", "*", user]);
    const home = (await must("getent", ["passwd", user])).split(":")[5] as string;
    const dir = join(base, user);
    await mkdir(dir, { recursive: true });
    const port = await freePort();
    await must("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(dir, "hostkey")]);
    const config = join(dir, "sshd_config");
    await writeFile(
      config,
      [
        `Port ${port}`, "ListenAddress 127.0.0.1", `HostKey ${join(dir, "hostkey")}`, `AuthorizedKeysFile ${join(base, "authorized_keys")}`,
        `PidFile ${join(dir, "sshd.pid")}`, `AllowUsers ${user}`, "AllowAgentForwarding yes", "StrictModes no", "UsePAM no",
        "PasswordAuthentication no", "KbdInteractiveAuthentication no", "",
      ].join("\n"),
    );
    await mkdir("/run/sshd", { recursive: true, mode: 0o755 });
    const sshd = `exec /usr/sbin/sshd -D -e -f ${config}`;
    let child: ChildProcess;
    if (hideNode) {
      // Every directory that holds one of them (wherever this machine's Node is installed),
      // each overlaid with whiteouts for those it holds.
      const found = new Map<string, string[]>();
      for (const name of HIDDEN) {
        for (const directory of ["/usr/local/bin", "/usr/bin", "/bin", ...(process.env.PATH ?? "").split(":")]) {
          const path = join(directory, name);
          if (!directory.startsWith("/") || (await run("test", ["-e", path])).code !== 0) continue;
          const real = (await must("realpath", [directory])).trim();
          if (!(found.get(real) ?? []).includes(name)) found.set(real, [...(found.get(real) ?? []), name]);
        }
      }
      const layer = join(dir, "layer");
      await mkdir(layer);
      const script = ["set -e", `mount -t tmpfs tmpfs ${layer}`];
      [...found].forEach(([directory, names], i) => {
        script.push(`mkdir ${layer}/upper${i} ${layer}/work${i}`, ...names.map((name) => `mknod ${layer}/upper${i}/${name} c 0 0`));
        script.push(`mount -t overlay overlay -o lowerdir=${directory},upperdir=${layer}/upper${i},workdir=${layer}/work${i} ${directory}`);
      });
      script.push(sshd);
      child = spawnTracked(cleanup, "unshare", ["--mount", "--propagation", "private", "sh", "-c", script.join("\n")]);
    } else {
      child = spawnTracked(cleanup, "sh", ["-c", sshd]);
    }
    let log = "";
    child.stderr?.on("data", (chunk: Buffer) => (log += chunk.toString()));
    const account: Account = { user, home, port, log: () => log };
    await waitFor(`${user}'s sshd to accept logins (log: ${log})`, async () => (await login(account, "true")).code === 0, 15_000, 200);
    return account;
  }

  before(async () => {
    base = await tempDir("anchor-install-");
    await chmod(base, 0o755);
    cleanup.add(() => run("rm", ["-rf", base]));
    const laptop = join(base, "laptop");
    await mkdir(laptop, { mode: 0o700 });
    const key = await makeKey(laptop, "laptop-key");
    laptopAgent = await startAgent(cleanup, join(laptop, "agent", "sock"));
    await addKey(laptopAgent.path, key);
    await cp(`${key}.pub`, join(base, "authorized_keys"));
    await chmod(join(base, "authorized_keys"), 0o644);
    laptopPackage = join(laptop, "package");
    for (const part of ["bin", "dist", "shell", "man", "package.json", "README.md", "LICENSE"]) await cp(join(REPO, part), join(laptopPackage, part), { recursive: true });
    executable = join(laptop, "ssh-anchor-linux-x64");
    const built = await run(process.execPath, [join(REPO, "scripts", "build-sea.mjs"), executable], { timeoutMs: 180_000 });
    assert.equal(built.code, 0, built.stderr);
    withNode = await startSshd(NODE_USER, false);
    bare = await startSshd(BARE_USER, true);
  });
  after(() => cleanup.run());

  it("the bare account has no node at all, the other one has it on sshd's PATH (the ground the rest stands on)", async () => {
    const none = await login(bare, "command -v node; command -v npm; bash -lic 'command -v node' </dev/null 2>/dev/null; echo end");
    assert.equal(none.stdout, "end\n", explain(none, bare));
    const some = await login(withNode, "command -v node");
    assert.match(some.stdout, /\/node\n$/, explain(some, withNode));
  });

  it("without Node and without an executable for its architecture: one line saying what is missing and what to do", async () => {
    const wrong = join(base, "ssh-anchor-linux-arm64");
    // An ELF header for aarch64 (e_machine 183): the laptop has no executable the host can run.
    const header = Buffer.alloc(64);
    header.write("\u007fELF", 0, "latin1");
    header.writeUInt8(2, 4);
    header.writeUInt8(1, 5);
    header.writeUInt16LE(183, 18);
    await writeFile(wrong, header, { mode: 0o755 });
    const result = await install(bare, ["--executable", wrong]);
    assert.equal(result.code, 1, explain(result, bare));
    assert.match(result.stdout, /no Node >= 20 on its PATH, no ssh-anchor in ~\/\.local\/bin/);
    const lines = result.stderr.trim().split("\n");
    assert.equal(lines.length, 1, result.stderr);
    assert.match(lines[0] as string, /^ssh-anchor: no single executable for linux-x64 here; this laptop has .*linux-arm64.*: build one .*--executable FILE, or install Node >= 20 on the host$/);
    await assert.rejects(lstat(join(bare.home, ".local", "bin", "ssh-anchor")), "nothing was installed");
  });

  it("without Node: the single executable into ~/.local/bin, setup, and a fresh ssh -A login's ssh-add -l lists the laptop's key through the stable socket; a second run has nothing to do", async () => {
    const result = await install(bare, ["--executable", executable]);
    assert.equal(result.code, 0, explain(result, bare));
    const lines = result.stdout.trim().split("\n");
    assert.match(lines[0] as string, new RegExp(`^${BARE_USER}@127\\.0\\.0\\.1: Linux x86_64, no Node >= 20 on its PATH, no ssh-anchor in ~/\\.local/bin$`));
    assert.match(result.stdout, /^copying the single executable for linux-x64 \(\d+\.\d MiB, gzipped on the way\) to .*:~\/\.local\/bin$/m);
    assert.match(result.stdout, new RegExp(`^installed ssh-anchor ${VERSION} as ~/\\.local/bin/ssh-anchor$`, "m"));
    assert.match(result.stdout, new RegExp(`^setup: added the init line to ${bare.home}/\\.bashrc$`, "m"));
    assert.match(result.stdout, /^checked: a fresh ssh -A login reaches your agent through the stable socket \S+ \(1 key\)$/m);
    assert.match(lines.at(-1) as string, /^done: /);
    assert.equal(result.stderr, "", "no warning: a new login shell there gets the stable socket (setup writes the line by absolute path)");

    const installed = join(bare.home, ".local", "bin", "ssh-anchor");
    const info = await lstat(installed);
    assert.ok(info.isFile(), "a regular file, not a link to a package");
    assert.equal(info.size, (await stat(executable)).size);
    assert.equal(info.uid, Number((await must("id", ["-u", BARE_USER])).trim()), "owned by the account, installed without root");

    const stable = join(stableDirectory(bare.home), "agent.sock");
    const fresh = await login(bare, `SSH_AUTH_SOCK=${stable} ssh-add -l`);
    assert.equal(fresh.code, 0, explain(fresh, bare));
    assert.match(fresh.stdout, /laptop-key/);

    const again = await install(bare, ["--executable", executable]);
    assert.equal(again.code, 0, explain(again, bare));
    assert.match(again.stdout, new RegExp(`^nothing to do: ${BARE_USER}@127\\.0\\.0\\.1 has ssh-anchor ${VERSION} and its init line$`, "m"));
    assert.equal(again.stdout.trim().split("\n").length, 2, again.stdout);
    assert.equal(again.stderr, "");
    assert.equal((await lstat(installed)).mtimeMs, info.mtimeMs, "not copied again");
    assert.equal(await initBlocks(bare), 1);
  });

  it("with Node: the npm package into ~/.local, a fresh ssh -A login gets the laptop's key; a second run has nothing to do; an older version is replaced and the init line kept single", async () => {
    const result = await install(withNode);
    assert.equal(result.code, 0, explain(result, withNode));
    assert.match(result.stdout, new RegExp(`^${NODE_USER}@127\\.0\\.0\\.1: Linux x86_64, Node v\\d+\\.\\d+\\.\\d+, no ssh-anchor in ~/\\.local/bin$`, "m"));
    assert.match(result.stdout, /^copying the npm package \(\d+ KiB\) to .*, installed into ~\/\.local with npm install -g --prefix ~\/\.local$/m);
    assert.match(result.stdout, /^checked: a fresh ssh -A login reaches your agent through the stable socket \S+ \(1 key\)$/m);
    assert.equal(result.stderr, "", "no warning: a new login shell there gets the stable socket (setup writes the line by absolute path)");
    const link = join(withNode.home, ".local", "bin", "ssh-anchor");
    assert.equal(await readlink(link), "../lib/node_modules/ssh-anchor/bin/ssh-anchor");
    const manifest = join(withNode.home, ".local", "lib", "node_modules", "ssh-anchor", "package.json");
    assert.equal((JSON.parse(await readFile(manifest, "utf8")) as { version: string }).version, VERSION);

    const stable = join(stableDirectory(withNode.home), "agent.sock");
    const fresh = await login(withNode, `SSH_AUTH_SOCK=${stable} ssh-add -l`);
    assert.equal(fresh.code, 0, explain(fresh, withNode));
    assert.match(fresh.stdout, /laptop-key/);

    const again = await install(withNode);
    assert.equal(again.code, 0, explain(again, withNode));
    assert.match(again.stdout, /^nothing to do: .* has ssh-anchor \S+ and its init line$/m);

    // An older version installed (the same files, saying 0.0.1): replaced, its daemon restarted.
    const text = await readFile(manifest, "utf8");
    await writeFile(manifest, text.replace(`"version": "${VERSION}"`, '"version": "0.0.1"'));
    const upgrade = await install(withNode);
    assert.equal(upgrade.code, 0, explain(upgrade, withNode));
    assert.match(upgrade.stdout, /, ssh-anchor 0\.0\.1 in ~\/\.local\/bin$/m);
    assert.match(upgrade.stdout, new RegExp(`^installed ssh-anchor ${VERSION} as ~/\\.local/bin/ssh-anchor \\(was 0\\.0\\.1\\)$`, "m"));
    assert.match(upgrade.stdout, /^stopped the daemon of 0\.0\.1; the check below starts /m);
    assert.match(upgrade.stdout, /^checked: /m);
    assert.equal((JSON.parse(await readFile(manifest, "utf8")) as { version: string }).version, VERSION);
    assert.equal(await initBlocks(withNode), 1);
  });
});

/** How many of setup's blocks the account's ~/.bashrc holds. */
async function initBlocks(account: Account): Promise<number> {
  return ((await readFile(join(account.home, ".bashrc"), "utf8")).match(/^# >>> ssh-anchor/gm) ?? []).length;
}
