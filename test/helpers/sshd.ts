import { spawn, type ChildProcess } from "node:child_process";
import { appendFile, chmod, cp, mkdir, readFile, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { hostname } from "node:os";
import { join } from "node:path";
import { ensureAccount, killProcessesOf, restoreOnCleanup, suiteAccountName, systemDirectory } from "./accounts.js";
import { addKey, makeKey, startAgent, type TestAgent } from "./agent.js";
import { Cleanup, explainAll, processesOf, REPO, run, section, spawnTracked, tail, tempDir, waitFor, type Explain } from "./process.js";

/**
 * The unprivileged user the end-to-end tests log in as: the suite's own account, unique to the
 * test process (`anchor-t-<pid>`), made by startTestHost and removed when the test ends
 * (test/helpers/accounts.ts). SSH_ANCHOR_TEST_USER names another (two checkouts side by side);
 * one that already existed is kept, with the files the helper wrote put back.
 */
export const TEST_USER = process.env.SSH_ANCHOR_TEST_USER ?? suiteAccountName("t");

/** The sshd the end-to-end tests run: Debian's (OpenSSH 9.2, sockets in /tmp/ssh-XXXX), or with
 * SSH_ANCHOR_TEST_SSHD another build, such as .ci/run's OpenSSH 10.5 (sockets in ~/.ssh/agent). */
export const SSHD = process.env.SSH_ANCHOR_TEST_SSHD ?? "/usr/sbin/sshd";

/** Where ssh-anchor keeps the stable socket of a user whose home is `home` (src/shared/core/location.ts). */
export function stableDirectory(home: string): string {
  return join(home, ".ssh", `anchor-${hostname()}`);
}

/** A free TCP port on loopback. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function must(command: string, args: string[]): Promise<string> {
  const result = await run(command, args);
  if (result.code !== 0) throw new Error(`${command} ${args.join(" ")} failed: ${result.stderr}`);
  return result.stdout;
}

/** One held-open `ssh -A` login. */
export interface Login {
  /** The forwarded agent socket sshd made for this login. */
  readonly forwardedSocket: string;
  /** Logs out (the client ssh exits; sshd removes the socket). */
  end(): Promise<void>;
  /** The laptop goes to sleep: the client stops, the server keeps the session (a zombie). */
  freeze(): void;
  thaw(): void;
}

export interface TestHost {
  readonly port: number;
  readonly uid: number;
  readonly home: string;
  /** ssh options for a login as the test user (agent forwarding on). */
  readonly sshOptions: readonly string[];
  /** The laptop's agent, holding the key the test user's authorized_keys accepts. */
  readonly laptopAgent: TestAgent;
  readonly keyComment: string;
  /** Runs a command in a fresh `ssh -A` login that ends when the command does (forwarding `agent`, default the laptop's). */
  ssh(command: string, timeoutMs?: number, agent?: TestAgent): ReturnType<typeof run>;
  /** Opens a login that stays until ended (forwarding `agent`, default the laptop's; and each
   * `-R remote:local` of `forwards`, Unix socket forwards). */
  login(agent?: TestAgent, forwards?: readonly string[]): Promise<Login>;
  /**
   * Another person's laptop agent: a new key of its own (unless `ownKey` is false) plus
   * `extraKeys` (a team key), all accepted by the one test account's authorized_keys; each
   * key's comment is its file name (`<name>-key` for its own). `addArgs` go to each `ssh-add`
   * (constraints such as `-h`).
   */
  addLaptopAgent(name: string, extraKeys?: readonly string[], ownKey?: boolean, addArgs?: readonly string[]): Promise<TestAgent>;
  /** Runs a command as the test user on the host, without any login (tmux, screen control). */
  asUser(command: string): ReturnType<typeof run>;
  /** The installed ssh-anchor, run as the test user. */
  anchor(args: string): ReturnType<typeof run>;
  /** The directory holding the installed `ssh-anchor`, for a PATH. */
  readonly binDirectory: string;
  /** The stable socket the test user's rc line exports. */
  readonly stableSocket: string;
  /** The test user's name. */
  readonly user: string;
  /**
   * What a person needs when a wait on this host times out: the test user's processes, its
   * tmux sessions and screens, the daemon's log tail and sshd's (stderr) tail.
   */
  readonly explain: Explain;
}

/**
 * A private sshd on loopback, an unprivileged test user whose shell rc evaluates
 * `ssh-anchor init bash`, and a laptop-side ssh-agent to forward. Needs root.
 */
export interface TestHostOptions {
  /** Run sshd in this network namespace, listening on `address` (default: loopback). */
  readonly serverNamespace?: string;
  /** Namespace the test's own ssh commands run in (the laptop). */
  readonly clientNamespace?: string;
  readonly address?: string;
  /** The test user's shell start-up line (default: the daemon's init line). */
  readonly rcLine?: string;
}

export async function startTestHost(cleanup: Cleanup, options: TestHostOptions = {}): Promise<TestHost> {
  const address = options.address ?? "127.0.0.1";
  const inNamespace = (namespace: string | undefined, command: string, args: string[]): [string, string[]] =>
    namespace ? ["ip", ["netns", "exec", namespace, command, ...args]] : [command, args];
  const base = await tempDir("anchor-e2e-");
  await chmod(base, 0o755);
  cleanup.add(() => run("rm", ["-rf", base]));

  // Made here and removed at the end (userdel -r) unless it already existed; then the files
  // written below are put back as they were (their restoration, added first, runs last).
  const created = await ensureAccount(cleanup, TEST_USER, { home: true, shell: "/bin/bash" });
  // '*': no password, but not locked (sshd without PAM refuses locked accounts).
  if (!created) {
    const shadow = (await must("getent", ["shadow", TEST_USER])).split(":")[1] ?? "";
    cleanup.add(() => run("usermod", ["-p", shadow, TEST_USER]));
  }
  await must("usermod", ["-p", "*", TEST_USER]);
  const uid = Number((await must("id", ["-u", TEST_USER])).trim());
  const home = (await must("getent", ["passwd", TEST_USER])).split(":")[5] as string;
  // (Directories the tests make that were not there, such as ~/.ssh and ~/.config, go again.)
  if (!created) await restoreOnCleanup(cleanup, [".bashrc", ".bash_profile", ".screen", ".ssh", ".config", ".local", ".cache"].map((name) => join(home, name)));
  const killUser = async () => {
    await killProcessesOf(TEST_USER);
    await run("rm", ["-rf", stableDirectory(home), `/tmp/ssh-anchor-${uid}`, `/tmp/tmux-${uid}`, join(home, ".screen"), join(home, ".ssh", "rc"), join(home, ".ssh", "agent"), join(home, ".ssh", "anchor-forwards"), join(home, ".gnupg")]);
    // Session directories of logins whose sshd was killed above, before it could remove them.
    await run("find", ["/tmp", "-maxdepth", "1", "-name", "ssh-*", "-user", TEST_USER, "-exec", "rm", "-rf", "{}", "+"]);
  };
  await killUser();
  cleanup.add(killUser);

  // The package as installed, readable by the test user wherever the repository lives.
  const pkg = join(base, "pkg");
  for (const part of ["bin", "dist", "shell", "package.json"]) {
    await cp(join(REPO, part), join(pkg, part), { recursive: true });
  }
  await run("chmod", ["-R", "a+rX", pkg]);
  const rc = `export PATH=${pkg}/bin:$PATH\nexport SCREENDIR=$HOME/.screen\n${options.rcLine ?? 'eval "$(ssh-anchor init bash)"'}\n`;
  await writeFile(join(home, ".bashrc"), rc);
  await writeFile(join(home, ".bash_profile"), ". ~/.bashrc\n");
  await must("chown", [`${TEST_USER}:`, join(home, ".bashrc"), join(home, ".bash_profile")]);
  await mkdir(join(home, ".screen"), { mode: 0o700 });
  await must("chown", [`${TEST_USER}:`, join(home, ".screen")]);

  const laptop = join(base, "laptop");
  await mkdir(laptop, { mode: 0o700 });
  const key = await makeKey(laptop, "laptop-key");
  const laptopAgent = await startAgent(cleanup, join(laptop, "agent", "sock"));
  await addKey(laptopAgent.path, key);

  const port = await freePort();
  await must("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(base, "hostkey")]);
  await cp(`${key}.pub`, join(base, "authorized_keys"));
  await chmod(join(base, "authorized_keys"), 0o644);
  await writeFile(
    join(base, "sshd_config"),
    [
      `Port ${port}`,
      `ListenAddress ${address}`,
      `HostKey ${join(base, "hostkey")}`,
      `AuthorizedKeysFile ${join(base, "authorized_keys")}`,
      `PidFile ${join(base, "sshd.pid")}`,
      "AllowAgentForwarding yes",
      "StrictModes no",
      "UsePAM no",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "",
    ].join("\n"),
  );
  await systemDirectory(cleanup, "/run/sshd");
  const sshd = spawnTracked(cleanup, ...inNamespace(options.serverNamespace, SSHD, ["-D", "-e", "-f", join(base, "sshd_config")]));
  // sshd -e logs to stderr: its last lines say why a login was refused or a session ended.
  let sshdLog = "";
  sshd.stderr?.on("data", (chunk: Buffer) => (sshdLog = (sshdLog + chunk.toString()).slice(-64_000)));
  const explain = explainAll(
    () => processesOf(TEST_USER),
    async () => {
      const sessions = await run("runuser", ["-u", TEST_USER, "--", "sh", "-c", `tmux ls; tmux -L anchor-e2e ls; SCREENDIR=${join(home, ".screen")} screen -ls`], { timeoutMs: 5000 });
      return section("the test user's tmux sessions and screens", sessions.stdout + sessions.stderr);
    },
    async () => section("the daemon's log (tail)", tail(await readFile(join(stableDirectory(home), "agent.sock.log"), "utf8").catch((error: Error) => error.message))),
    () => section("sshd's log (tail)", tail(sshdLog)),
  );

  const sshOptions = [
    "-p", String(port), "-F", "none", "-A",
    "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR",
    `${TEST_USER}@${address}`,
  ];
  const sshEnv = { ...process.env, SSH_AUTH_SOCK: laptopAgent.path };
  const envFor = (agent: TestAgent | undefined) => (agent ? { ...process.env, SSH_AUTH_SOCK: agent.path } : sshEnv);
  const ssh = (command: string, timeoutMs = 20_000, agent?: TestAgent) =>
    run(...inNamespace(options.clientNamespace, "ssh", [...sshOptions, command]), { env: envFor(agent), timeoutMs });
  let tried: Awaited<ReturnType<typeof ssh>> | undefined;
  await waitFor("sshd to accept logins", async () => (tried = await ssh("true", 5000)).code === 0, {
    timeoutMs: 10_000,
    intervalMs: 200,
    explain: explainAll(() => section("the last ssh's stderr", tried?.stderr ?? "(none ran)"), explain),
  });

  const login = async (agent?: TestAgent, forwards: readonly string[] = []): Promise<Login> => {
    const child: ChildProcess = spawn(...inNamespace(options.clientNamespace, "ssh", [...forwards.flatMap((spec) => ["-R", spec]), ...sshOptions, 'printf "%s\\n" "$SSH_ANCHOR_ORIGINAL_SOCK"; exec sleep 600']), {
      env: envFor(agent),
      stdio: ["ignore", "pipe", "pipe"],
    });
    cleanup.add(() => {
      child.kill("SIGCONT");
      child.kill("SIGKILL");
    });
    let output = "";
    let errors = "";
    child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on("data", (chunk: Buffer) => (errors += chunk.toString()));
    const loginExplain = explainAll(() => section("the login's ssh (stdout, stderr, exit)", `${output}${errors}exit: ${child.exitCode ?? child.signalCode ?? "running"}`), explain);
    const forwardedSocket = await waitFor("the login's forwarded socket", () => output.split("\n")[0]?.startsWith("/") && output.includes("\n") && output.split("\n")[0], {
      timeoutMs: 10_000,
      explain: loginExplain,
    });
    return {
      forwardedSocket: forwardedSocket as string,
      end: async () => {
        child.kill("SIGCONT");
        child.kill("SIGTERM");
        // sshd removes the socket once it notices the connection is gone.
        await waitFor(`${forwardedSocket} to disappear`, async () => (await run("test", ["-e", forwardedSocket as string])).code !== 0, { timeoutMs: 10_000, explain: loginExplain });
      },
      freeze: () => child.kill("SIGSTOP"),
      thaw: () => child.kill("SIGCONT"),
    };
  };

  const asUser = (command: string) =>
    // SHLVL=1: see run(); this bash must not read the test user's ~/.bashrc.
    run("runuser", ["-u", TEST_USER, "--", "bash", "-c", command], { env: { ...process.env, HOME: home, SCREENDIR: join(home, ".screen"), SHLVL: "1" } });
  return {
    port,
    uid,
    home,
    sshOptions,
    laptopAgent,
    keyComment: "laptop-key",
    ssh,
    login,
    addLaptopAgent: async (name, extraKeys = [], ownKey = true, addArgs = []) => {
      const dir = join(laptop, name);
      await mkdir(dir, { mode: 0o700 });
      const keys = [...(ownKey ? [await makeKey(dir, `${name}-key`)] : []), ...extraKeys];
      const agent = await startAgent(cleanup, join(dir, "agent", "sock"));
      for (const key of keys) {
        await addKey(agent.path, key, addArgs);
        await appendFile(join(base, "authorized_keys"), await readFile(`${key}.pub`, "utf8"));
      }
      return agent;
    },
    asUser,
    anchor: (args) => asUser(`${pkg}/bin/ssh-anchor ${args}`),
    binDirectory: join(pkg, "bin"),
    stableSocket: join(stableDirectory(home), "agent.sock"),
    user: TEST_USER,
    explain,
  };
}

/** Another sshd on loopback, with a host key of its own, that only takes logins (no forwarding). */
export interface HopHost {
  readonly port: number;
  /** Its host key, as a known_hosts line's key part (`ssh-ed25519 AAAA...`). */
  readonly hostKey: string;
  /** The key lines its AuthorizedKeysFile holds (read at each login: may be written later). */
  readonly authorizedKeys: string;
  /** sshd's stderr so far (why a login was refused). */
  log(): string;
}

/** Starts an sshd (SSHD) on a free loopback port with a fresh ed25519 host key; `user` logs in with the keys written to `authorizedKeys`. */
export async function startHopHost(cleanup: Cleanup, name: string): Promise<HopHost> {
  const base = await tempDir(`anchor-${name}-`);
  await chmod(base, 0o755);
  cleanup.add(() => run("rm", ["-rf", base]));
  await must("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", name, "-f", join(base, "hostkey")]);
  const authorizedKeys = join(base, "authorized_keys");
  await writeFile(authorizedKeys, "", { mode: 0o644 });
  const port = await freePort();
  await writeFile(
    join(base, "sshd_config"),
    [
      `Port ${port}`,
      "ListenAddress 127.0.0.1",
      `HostKey ${join(base, "hostkey")}`,
      `AuthorizedKeysFile ${authorizedKeys}`,
      `PidFile ${join(base, "sshd.pid")}`,
      "StrictModes no",
      "UsePAM no",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "LogLevel VERBOSE",
      "",
    ].join("\n"),
  );
  await systemDirectory(cleanup, "/run/sshd");
  const sshd = spawnTracked(cleanup, SSHD, ["-D", "-e", "-f", join(base, "sshd_config")]);
  let log = "";
  sshd.stderr?.on("data", (chunk: Buffer) => (log = (log + chunk.toString()).slice(-64_000)));
  await waitFor(`the ${name} sshd to listen`, async () => (await run("ssh-keyscan", ["-p", String(port), "-t", "ed25519", "127.0.0.1"], { timeoutMs: 3000 })).stdout.includes("ssh-ed25519"), {
    timeoutMs: 10_000,
    intervalMs: 200,
    explain: () => section(`the ${name} sshd's log`, log),
  });
  const hostKey = (await readFile(join(base, "hostkey.pub"), "utf8")).split(" ").slice(0, 2).join(" ");
  return { port, hostKey, authorizedKeys, log: () => log };
}
