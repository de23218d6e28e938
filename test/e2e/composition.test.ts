import assert from "node:assert/strict";
import { chmod, lstat, mkdir, readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { connect as dial, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { makeAttacker, type Attacker } from "../helpers/attacker.js";
import type { TestAgent } from "../helpers/agent.js";
import { LaptopTerminal } from "../helpers/laptop.js";
import {
  activateForUser,
  daemonLogTail,
  daemonPids,
  dumpPanes,
  executableOf,
  keysListed,
  Problems,
  resetAccount,
  SAME_NETWORK,
  SCOPE_SOCKET,
  typeIn,
  writeAccountFile,
  type Mux,
  type UserActivator,
} from "../helpers/matrix.js";
import { BIN, Cleanup, REPO, requireRoot, run, sleep, tempDir, waitFor } from "../helpers/process.js";
import { stableDirectory, startTestHost, type TestHost } from "../helpers/sshd.js";
import { withoutBinaryLine } from "../helpers/shell-code.js";

/**
 * The composition matrix (issue 18): every feature is safe alone, and two of them together can
 * undo a promise. For every pair among the features below, one end-to-end check through the
 * real thing (sshd, two people's laptop agents on one shared account, tmux and screen, a
 * second local user, socket activation as systemd does it, the single executable) that the
 * promises of BOTH still hold, as a user would notice them: which keys `ssh-add -l` lists in a
 * pane, which files exist, what doctor says, that nothing reached the attacker.
 *
 * One sshd, one single-executable build and one test account serve every cell; each cell gives
 * the account back as it found it (resetAccount). A cell records every broken promise it sees
 * (Problems) and fails once, listing them, with the panes and the daemon's log appended.
 */

export const FEATURES = ["per-identity", "link", "activation", "connect", "setup", "single-executable"] as const;
export type Feature = (typeof FEATURES)[number];
/** connect is checked once per multiplexer: its tmux and screen preludes are different code. */
const PER_MULTIPLEXER: readonly Feature[] = ["connect"];
const MULTIPLEXERS: readonly Mux[] = ["tmux", "screen"];

const PLAIN = 'eval "$(ssh-anchor init bash)"';
const LINK = 'eval "$(ssh-anchor init --link bash)"';
const PER_IDENTITY = 'eval "$(ssh-anchor init --per-identity bash)"';
/** Debian's ~/.bashrc: nothing below it runs for `ssh host command`. */
const DEBIAN_GUARD = "case $- in *i*) ;; *) return ;; esac";

/** What the whole matrix shares. */
interface World {
  readonly host: TestHost;
  /** Two people's laptop agents; both keys open the one shared account. */
  readonly alice: TestAgent;
  readonly bob: TestAgent;
  readonly attacker: Attacker;
  /** The single executable, and a directory holding only it (as `ssh-anchor`). */
  readonly sea: string;
  readonly seaBin: string;
  /** The npm install's bin directory (startTestHost's copy of the package). */
  readonly pkgBin: string;
  /** A directory the test user can read (the activator's script). */
  readonly shared: string;
  /** connect's --log files. */
  readonly logs: string;
}

/** What `ssh-add -l` (and `echo $SSH_AUTH_SOCK`) said somewhere. */
interface AgentView {
  readonly sock: string;
  readonly keys: string[];
  readonly rc: number;
  readonly text: string;
}

function describeView(view: AgentView): string {
  return `SSH_AUTH_SOCK=${view.sock || "(unset)"}, ssh-add -l exit ${view.rc}, keys [${view.keys.join(", ")}]${view.keys.length ? "" : `: ${view.text.trim().split("\n").slice(-2).join(" / ")}`}`;
}

function sameKeys(view: AgentView, expected: readonly string[]): boolean {
  return JSON.stringify(view.keys) === JSON.stringify([...expected].sort());
}

/** Whether `line` runs `ssh-anchor <mode> bash`, by name or by the absolute path setup writes. */
function runsInitForm(line: string | undefined, mode: "init" | "init --link"): boolean {
  return line !== undefined && new RegExp(`^eval "\\$\\((?:ssh-anchor|"?[^" ]*/ssh-anchor"?) ${mode} bash\\)"$`).test(line);
}


/** The last line of a shell file that runs `ssh-anchor init ...` (the one that wins). */
function lastInitLine(text: string): string | undefined {
  return text
    .split("\n")
    .filter((line) => /ssh-anchor"? init/.test(line) && !/^\s*#/.test(line))
    .at(-1);
}

/** One cell's run: its cleanup, its problems, its dumps, and the things every cell does. */
class CellRun {
  readonly cleanup = new Cleanup();
  readonly problems = new Problems();
  readonly #dumps: Array<[string, () => Promise<string>]> = [];
  #raw = 0;
  #laptop: LaptopTerminal | undefined;
  constructor(readonly world: World) {}

  get host(): TestHost {
    return this.world.host;
  }
  get stable(): string {
    return this.world.host.stableSocket;
  }
  get linkPath(): string {
    return join(stableDirectory(this.world.host.home), "link.sock");
  }

  expect(ok: unknown, message: string | (() => string)): boolean {
    return this.problems.expect(ok, message);
  }

  /** Adds `what` to the dump printed when this cell fails. */
  dump(label: string, what: () => Promise<string>): void {
    this.#dumps.push([label, what]);
  }

  async dumpAll(): Promise<string> {
    const parts = [await dumpPanes(this.host).catch((error) => `(panes: ${error})`)];
    const log = await daemonLogTail(this.host).catch(() => "");
    if (log) parts.push(`--- daemon log (tail):\n${log}`);
    for (const [label, what] of this.#dumps) parts.push(`--- ${label}:\n${await what().catch((error) => `(${error})`)}`);
    return parts.join("\n");
  }

  /** Writes the account's ~/.bashrc: PATH with `bin` first, then `line`; returns the text. */
  async rc(line: string | undefined, options: { bin?: string; guard?: boolean; path?: string } = {}): Promise<string> {
    const text = [
      `export PATH=${options.path ?? options.bin ?? this.world.pkgBin}:$PATH`,
      "export SCREENDIR=$HOME/.screen",
      ...(options.guard ? [DEBIAN_GUARD] : []),
      ...(line ? [line] : []),
      "",
    ].join("\n");
    await writeAccountFile(this.host, ".bashrc", text);
    return text;
  }

  async rcText(): Promise<string> {
    return readFile(join(this.host.home, ".bashrc"), "utf8");
  }

  /** ssh-anchor as the test user (`exe`: the npm install's by default). */
  anchor(args: string, exe = join(this.world.pkgBin, "ssh-anchor"), env = ""): ReturnType<typeof run> {
    return this.host.asUser(`${env} ${exe} ${args}`);
  }

  /** A fresh `ssh -A` login with `agent` (the default laptop's): its SSH_AUTH_SOCK and ssh-add -l. */
  async loginView(agent?: TestAgent): Promise<AgentView & { stderr: string }> {
    const result = await this.host.ssh('echo "sock=$SSH_AUTH_SOCK"; ssh-add -l; echo "add-rc=$?"', 20_000, agent);
    return {
      sock: /^sock=(.*)$/m.exec(result.stdout)?.[1] ?? "",
      keys: keysListed(result.stdout),
      rc: Number(/^add-rc=(\d+)$/m.exec(result.stdout)?.[1] ?? -1),
      text: result.stdout + result.stderr,
      stderr: result.stderr,
    };
  }

  /** `echo $SSH_AUTH_SOCK; ssh-add -l` typed into a pane of `session`. */
  async paneView(mux: Mux, session: string): Promise<AgentView> {
    const typed = await typeIn(this.host, mux, session, 'echo "sock=$SSH_AUTH_SOCK"; ssh-add -l', 10_000);
    return { sock: /^sock=(\S*)/m.exec(typed.output)?.[1] ?? "", keys: keysListed(typed.output), rc: typed.rc, text: typed.output };
  }

  /**
   * A window started without a shell in `session` (nothing re-evaluates the rc line there): what
   * its environment reaches, as a job or an editor started from tmux's or screen's menu would.
   */
  async rawWindowView(mux: Mux, session: string): Promise<AgentView> {
    const name = `raw${++this.#raw}`;
    // screen: also to a file (see typeIn: hardcopies hold each other up while a client is attached).
    const out = join(this.host.home, `.matrix-${name}.out`);
    const script = `{ echo "sock=$SSH_AUTH_SOCK"; ssh-add -l; echo "${name} rc=$?"; } 2>&1 | tee ${out}; sleep 60`;
    const quoted = `'${script.replaceAll("'", `'"'"'`)}'`;
    // screen would expand $SSH_AUTH_SOCK itself (see typeIn): it runs a file instead.
    if (mux === "screen") await writeAccountFile(this.host, `.matrix-${name}.sh`, `${script}\n`);
    const read = async () => {
      if (mux === "tmux") return (await this.host.asUser(`tmux capture-pane -p -J -t ${session}:${name}`)).stdout;
      return readFile(out, "utf8").catch(() => "");
    };
    const started =
      mux === "tmux"
        ? await this.host.asUser(`tmux new-window -d -t ${session} -n ${name} sh -c ${quoted}`)
        : await this.host.asUser(`screen -S ${session} -X screen -t ${name} sh ${join(this.host.home, `.matrix-${name}.sh`)} && screen -S ${session} -X other`);
    assert.equal(started.code, 0, started.stderr);
    const text = await waitFor(`the window ${name} without a shell in ${mux} ${session}`, async () => {
      const screen = await read();
      return new RegExp(`^${name} rc=\\d+`, "m").test(screen) && screen;
    }, 10_000, 100);
    return {
      sock: /^sock=(\S*)/m.exec(text)?.[1] ?? "",
      keys: keysListed(text),
      rc: Number(new RegExp(`^${name} rc=(\\d+)`, "m").exec(text)?.[1]),
      text,
    };
  }

  /** tmux's environment for new windows: a session's, or (no session) the global one. */
  async tmuxEnv(session?: string): Promise<string> {
    const shown = await this.host.asUser(`tmux show-environment ${session ? `-t ${session}` : "-g"} SSH_AUTH_SOCK`);
    return shown.stdout.trim().replace(/^SSH_AUTH_SOCK=/, "");
  }

  /**
   * Runs `ssh-anchor connect` in a laptop terminal with `agent` (the default laptop's), as a
   * user types it, and waits until the session runs on the host.
   */
  async connect(options: { session: string; mux: Mux; agent?: TestAgent; exe?: string; waitForSession?: boolean }) {
    const { session, mux } = options;
    this.#laptop ??= new LaptopTerminal(SAME_NETWORK, this.cleanup);
    const laptop = this.#laptop;
    const pane = await laptop.open({ SSH_AUTH_SOCK: (options.agent ?? this.host.laptopAgent).path, TERM: "xterm-256color" });
    const log = join(this.world.logs, `${session}-${Date.now()}.log`);
    const flags = `--log ${log} ${mux === "screen" ? "--screen " : ""}--session ${session}`;
    await laptop.type(pane, `${options.exe ?? BIN} connect ${flags} ${this.host.sshOptions.join(" ")}; echo "EXIT=$?"`);
    this.dump(`connect --session ${session} (log, then the laptop's terminal)`, async () => `${await readFile(log, "utf8").catch(() => "")}--- laptop:\n${await laptop.screen(pane)}`);
    await waitFor(`connect to attach ${session}`, async () => /connected in/.test(await readFile(log, "utf8").catch(() => "")), 15_000, 100);
    if (options.waitForSession !== false) {
      await waitFor(`the ${mux} session ${session} on the host`, async () =>
        mux === "tmux"
          ? (await this.host.asUser(`tmux has-session -t ${session}`)).code === 0
          : new RegExp(`\\d+\\.${session}\\s`).test((await this.host.asUser("screen -ls")).stdout), 10_000, 100);
    }
    return {
      /** Detaches (as the user would), waits for connect to exit; its login then ends. */
      detach: async () => {
        await this.host.asUser(mux === "tmux" ? `tmux detach-client -s ${session}` : `screen -S ${session} -X detach`);
        await laptop.waitForScreen(pane, /EXIT=\d+/, "connect to exit after the detach", 10_000);
      },
    };
  }

  /** systemd's socket unit on the stable socket, starting `exe run --idle-exit 1`. */
  async activate(exe = join(this.world.pkgBin, "ssh-anchor")): Promise<UserActivator> {
    const activator = await activateForUser(this.cleanup, this.host, this.world.shared, [exe, "run", "--socket", this.stable, "--idle-exit", "1"]);
    this.dump("socket activation (events, then the activated daemons' log)", async () => `${JSON.stringify(activator.events)}\n${activator.log().trimEnd().split("\n").slice(-30).join("\n")}`);
    return activator;
  }

  /** Keeps one client connection open to the stable socket (an activated daemon stays up). */
  async hold(): Promise<Socket> {
    const socket = dial({ path: this.stable });
    await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
    this.cleanup.add(() => socket.destroy());
    return socket;
  }

  /** Under activation: every daemon of the user is one the activator started, and its socket is the activator's. */
  async onlyActivatedDaemons(activator: UserActivator, inode: number): Promise<void> {
    const started = new Set(activator.events.flatMap((event) => (event.kind === "started" ? [event.pid] : [])));
    const pids = await daemonPids();
    this.expect(pids.every((pid) => started.has(pid)), `a daemon the activator did not start runs (pids ${pids.join(", ")}; activated: ${[...started].join(", ")}): something started one of its own beside systemd's`);
    const now = await lstat(this.stable).then((stats) => stats.ino, () => 0);
    this.expect(now === inode, `the stable socket is no longer systemd's (inode ${inode} became ${now}): the daemon must never replace or remove it`);
  }

  /** The pid of the daemon in the stable socket's pid file, and the file it runs. */
  async daemonExecutable(): Promise<string> {
    const pid = Number((await readFile(`${this.stable}.pid`, "utf8").catch(() => "0")).trim());
    return pid ? executableOf(pid) : "(no pid file)";
  }

  /** ssh-anchor doctor --json as the test user in a shell whose SSH_AUTH_SOCK is `sock`. */
  async doctor(sock: string, exe?: string): Promise<{ code: number | null; findings: Array<{ area: string; verdict: string; title: string }>; raw: string }> {
    const result = await this.anchor("doctor --json", exe, `SSH_AUTH_SOCK=${sock}`);
    let findings: Array<{ area: string; verdict: string; title: string }> = [];
    try {
      findings = (JSON.parse(result.stdout) as { findings: typeof findings }).findings;
    } catch {
      // Left empty: the caller's check then fails with the raw output.
    }
    return { code: result.code, findings, raw: result.stdout + result.stderr };
  }
}

export interface Cell {
  readonly pair: readonly [Feature, Feature];
  /** For pairs with connect: which multiplexer's prelude. */
  readonly mux?: Mux;
  /** What the check shows. */
  readonly title: string;
  check(t: CellRun): Promise<void>;
}

/** Title of a cell, as the test runner prints it. */
export function cellName(cell: Cell): string {
  return `${cell.pair[0]} × ${cell.pair[1]}${cell.mux ? ` [${cell.mux}]` : ""}: ${cell.title}`;
}

// ---------------------------------------------------------------------------------------------
// per-identity × ...

const perIdentityAndLink: Cell = {
  pair: ["per-identity", "link"],
  title: "refused by design, clearly; neither the refusal nor setup --link points anyone at the link, the stable socket or another's agent",
  async check(t) {
    const { alice, bob } = t.world;
    // 1. The refusal: one line, exit 2, nothing on stdout for an eval to run.
    for (const args of ["init --per-identity --link bash", "init --link --per-identity bash"]) {
      const refused = await t.anchor(args);
      t.expect(refused.code === 2 && refused.stdout === "" && /^ssh-anchor: --per-identity and --link do not go together: .+\n$/.test(refused.stderr),
        `\`ssh-anchor ${args}\` must be refused in one clear line with exit 2 and nothing on stdout: exit ${refused.code}, stdout ${JSON.stringify(refused.stdout.slice(0, 80))}, stderr ${JSON.stringify(refused.stderr)}`);
    }
    // Bob is logged in (per-identity), and newest.
    await t.rc(PER_IDENTITY);
    const bobLogin = await t.host.login(bob);
    // 2. Alice's rc line asks for both: her login keeps its own socket and says why.
    await t.rc('eval "$(ssh-anchor init --per-identity --link bash)"');
    const both = await t.loginView(alice);
    t.expect(/^\/tmp\/ssh-[^/]+\/agent\.\d+$/.test(both.sock) && sameKeys(both, ["alice-key"]),
      `a login whose rc line asks for --per-identity --link must keep its own forwarded socket: ${describeView(both)}`);
    t.expect(/do not go together/.test(both.stderr), `the login must say why its rc line did nothing: stderr ${JSON.stringify(both.stderr)}`);
    t.expect((await t.host.asUser(`test -e ${t.linkPath} -o -L ${t.linkPath}`)).code !== 0, `a refused --link made ${t.linkPath} anyway`);
    // 3. setup --link on an account whose rc runs init --per-identity must not stack a link line
    //    after it (the last line wins: every pane would follow whoever logged in last).
    await t.rc(PER_IDENTITY);
    const setup = await t.anchor("setup --link --shell bash");
    const last = lastInitLine(await t.rcText());
    t.expect(last?.includes("--per-identity"),
      `setup --link on a per-identity account stacked ${JSON.stringify(last)} after the per-identity line (issue 18 #2: setup must recognise every form of the init line, never stack a second): setup said ${JSON.stringify((setup.stdout + setup.stderr).trim().split("\n").slice(-2).join(" / "))}, exit ${setup.code}`);
    const after = await t.loginView(alice);
    t.expect(SCOPE_SOCKET.test(after.sock) && sameKeys(after, ["alice-key"]),
      `after setup --link, Alice's next login (Bob logged in) must get her own scope and only her key: ${describeView(after)} (issue 18 #2)`);
    await bobLogin.end();
  },
};

const perIdentityAndActivation: Cell = {
  pair: ["per-identity", "activation"],
  title: "a login while idle gets its scope; an idle exit keeps scope sockets reachable; a removed scope socket is bound again",
  async check(t) {
    const { alice, bob } = t.world;
    const activator = await t.activate();
    const inode = (await lstat(t.stable)).ino;
    await t.rc(PER_IDENTITY);
    // (a) Nothing runs: systemd holds the socket. Alice logs in.
    const idleLogin = await t.loginView(alice);
    t.expect(SCOPE_SOCKET.test(idleLogin.sock) && sameKeys(idleLogin, ["alice-key"]),
      `a login while the activated daemon was idle got no scope (issue 18 #3a): ${describeView(idleLogin)}; the login printed ${JSON.stringify(idleLogin.stderr.trim())}`);
    // (Whatever (a) gave, go on with the daemon up so that (b) and (c) are checked too.)
    let hold = await t.hold();
    await activator.nth("started", 1);
    assert.equal((await t.host.ssh("tmux new -d -s alice", 20_000, alice)).code, 0);
    const aliceLogin = await t.host.login(alice);
    const bobLogin = await t.host.login(bob);
    const before = await t.paneView("tmux", "alice");
    assert.ok(SCOPE_SOCKET.test(before.sock) && sameKeys(before, ["alice-key"]),
      `with the daemon up, Alice's pane must hold her scope and list only her key: ${describeView(before)}`);
    // (b) Every client leaves; after the idle period the daemon may exit (systemd keeps the stable socket).
    hold.destroy();
    const exited = await activator.nth("exited", 1, 5000).then(() => true, () => false);
    await sleep(300);
    const scopeFile = await lstat(before.sock).then((stats) => (stats.isSocket() ? "a socket" : "not a socket"), () => "missing");
    const afterIdle = await t.paneView("tmux", "alice");
    t.expect(sameKeys(afterIdle, ["alice-key"]),
      `after the idle period (${exited ? "the daemon exited" : "the daemon did not exit"}; Alice's scope socket is ${scopeFile}) her pane's ssh-add -l must still list her key (issue 18 #3b): ${describeView(afterIdle)}`);
    // (c) While activated and running, a scope socket a tmp cleaner removed is bound again (README: within 5 s).
    hold = await t.hold();
    await waitFor("the activated daemon to run", async () => (await daemonPids()).length > 0, 5000);
    await sleep(500);
    assert.equal((await t.host.asUser(`rm -f ${before.sock}`)).code, 0);
    const rebound = await waitFor("the scope socket to be bound again", async () => (await lstat(before.sock).catch(() => undefined))?.isSocket(), 8000, 200).then(() => true, () => false);
    t.expect(rebound, `a scope socket removed while the daemon ran socket-activated was not bound again within 8 s (issue 18 #3c: the periodic check is off in that mode)`);
    hold.destroy();
    if (rebound) {
      const rebind = await t.paneView("tmux", "alice");
      t.expect(sameKeys(rebind, ["alice-key"]), `after the re-bind Alice's pane must list only her key: ${describeView(rebind)}`);
    }
    // Activation's own promises: only systemd's daemon ran, on systemd's socket, and each exit was clean.
    await t.onlyActivatedDaemons(activator, inode);
    for (const event of activator.events) if (event.kind === "exited") t.expect(event.status === 0, `an activated daemon exited with status ${event.status}`);
    await bobLogin.end();
    await aliceLogin.end();
  },
};

function perIdentityAndConnect(mux: Mux): Cell {
  return {
    pair: ["per-identity", "connect"],
    mux,
    title: "Bob's connect touches only his own session, with his scope; Alice's session, panes and keys stay hers",
    async check(t) {
      const { alice, bob, host } = t.world;
      await t.rc(PER_IDENTITY);
      // Alice's own session, opened from her login: its panes hold her scope.
      const opened = mux === "tmux" ? "tmux new -d -s alice" : "screen -dmS alice";
      assert.equal((await host.ssh(opened, 20_000, alice)).code, 0);
      const aliceLogin = await host.login(alice);
      const aliceBefore = await t.paneView(mux, "alice");
      assert.ok(SCOPE_SOCKET.test(aliceBefore.sock) && sameKeys(aliceBefore, ["alice-key"]), `Alice's pane must start in her scope: ${describeView(aliceBefore)}`);
      const aliceScope = aliceBefore.sock;
      const aliceEnvBefore = mux === "tmux" ? await t.tmuxEnv("alice") : "";

      // Bob connects to a session of his own on the same account: now the newest login.
      await t.connect({ session: "bob", mux, agent: bob });
      if (mux === "tmux") {
        const aliceEnv = await t.tmuxEnv("alice");
        t.expect(aliceEnv === aliceEnvBefore, `Bob's connect changed Alice's tmux session environment from ${aliceEnvBefore} to ${aliceEnv} (issue 18 #1: connect must touch only the session it creates or attaches)`);
        const global = await t.tmuxEnv();
        t.expect(global !== t.stable, `Bob's connect pointed the tmux server's global environment at the stable socket ${global} on a per-identity account (issue 18 #1)`);
      }
      // Alice opens a new window in her session: her keys only, with Bob connected and newest.
      await host.asUser(mux === "tmux" ? "tmux new-window -t alice" : "screen -S alice -X screen");
      const aliceNew = await t.paneView(mux, "alice");
      t.expect(aliceNew.sock === aliceScope && sameKeys(aliceNew, ["alice-key"]),
        `a new window in Alice's session after Bob's connect must be in her scope ${aliceScope} and list only her key (issue 18 #1): ${describeView(aliceNew)}`);
      // ... and a key she adds there must reach her agent, never Bob's laptop.
      assert.equal((await host.asUser("ssh-keygen -q -t ed25519 -N '' -C alice-deploy -f ~/alice-deploy-key")).code, 0);
      t.cleanup.add(async () => {
        for (const agent of [alice, bob]) await run("ssh-add", ["-d", join(host.home, "alice-deploy-key.pub")], { env: { ...process.env, SSH_AUTH_SOCK: agent.path } });
      });
      await typeIn(host, mux, "alice", "ssh-add ~/alice-deploy-key");
      const bobHolds = keysListed((await run("ssh-add", ["-l"], { env: { ...process.env, SSH_AUTH_SOCK: bob.path } })).stdout);
      t.expect(!bobHolds.includes("alice-deploy"), `\`ssh-add ~/alice-deploy-key\` in Alice's new window put her private key into Bob's laptop agent (issue 18 #1): Bob's agent now holds [${bobHolds.join(", ")}]`);

      // Bob's session: his scope, his keys, also once Alice logs in again and is newest.
      const bobPane = await t.paneView(mux, "bob");
      t.expect(SCOPE_SOCKET.test(bobPane.sock) && bobPane.sock !== aliceScope && sameKeys(bobPane, ["bob-key"]),
        `Bob's connect session must hold his own scope and list only his key: ${describeView(bobPane)}`);
      const aliceAgain = await host.login(alice);
      const bobLater = await t.paneView(mux, "bob");
      t.expect(sameKeys(bobLater, ["bob-key"]), `after Alice logged in again (newest), Bob's connect pane must still list only his key: ${describeView(bobLater)} (issue 18 #1)`);
      if (mux === "tmux") {
        const bobRaw = await t.rawWindowView(mux, "bob");
        t.expect(!bobRaw.keys.includes("alice-key"), `a window without a shell in Bob's connect session reaches Alice's key: ${describeView(bobRaw)}`);
      }
      if (mux === "screen") {
        // screen finds a session by a prefix of its name: Bob's `--session al` must be a session
        // of his own, not Alice's "alice" (attached, her other client detached, her environment set).
        await t.connect({ session: "al", mux, agent: bob, waitForSession: false });
        const own = await waitFor('a screen session named "al"', async () => /\d+\.al\s/.test((await host.asUser("screen -ls")).stdout), 4000, 100).then(() => true, () => false);
        const listed = (await host.asUser("screen -ls")).stdout.replace(/\s+/g, " ").trim();
        t.expect(own, `Bob's \`connect --screen --session al\` made no session "al": screen matched Alice's session "alice" by a prefix of its name, so connect's prelude set her SSH_AUTH_SOCK and attached her session (screen -ls: ${listed})`);
        await host.asUser("screen -S alice -X screen");
        const aliceLast = await t.paneView(mux, "alice");
        t.expect(aliceLast.sock === aliceScope && sameKeys(aliceLast, ["alice-deploy", "alice-key"]), `a new window in Alice's session after Bob's \`connect --screen --session al\` must be in her scope and list only her keys (with the one she added): ${describeView(aliceLast)}`);
      }
      // doctor: a multiplexer pointing new panes at the stable socket on this account is not "ok".
      const doctor = await t.doctor(aliceScope);
      const falseOk = doctor.findings.filter((finding) => finding.verdict === "ok" && (finding.area === "tmux" || finding.area === "screen") && finding.title.includes(t.stable));
      t.expect(falseOk.length === 0, `doctor calls the stable socket in a multiplexer healthy on a per-identity account (issue 18 #1): ${falseOk.map((f) => `${f.verdict} ${f.title}`).join(" | ")}`);
      await aliceAgain.end();
      await aliceLogin.end();
    },
  };
}

const perIdentityAndSetup: Cell = {
  pair: ["per-identity", "setup"],
  title: "setup after a hand-written init --per-identity line stacks nothing; doctor FAILs a shell on the stable socket",
  async check(t) {
    const { alice, bob } = t.world;
    const original = await t.rc(PER_IDENTITY);
    // Bob logs in first (his login's own socket stays known to the helper whatever setup does).
    const bobLogin = await t.host.login(bob);
    const setup = await t.anchor("setup --shell bash");
    const after = await t.rcText();
    const last = lastInitLine(after);
    t.expect(last?.includes("--per-identity"),
      `setup appended ${JSON.stringify(last)} after the hand-written per-identity line (issue 18 #2: the last line wins, and it exports the stable socket); setup said ${JSON.stringify((setup.stdout + setup.stderr).trim().split("\n").slice(-2).join(" / "))}, exit ${setup.code}`);
    const aliceView = await t.loginView(alice);
    t.expect(SCOPE_SOCKET.test(aliceView.sock) && sameKeys(aliceView, ["alice-key"]),
      `after setup, Alice's next login (Bob logged in and newer) must get her scope and only her key (issue 18 #2): ${describeView(aliceView)}`);
    // doctor in a shell that holds the stable socket on this account: a FAIL naming the fix.
    const doctor = await t.doctor(t.stable);
    const shell = doctor.findings.find((finding) => finding.area === "shell");
    t.expect(shell?.verdict === "fail" && doctor.code === 1,
      `doctor must FAIL a shell holding the stable socket on a per-identity account (issue 18 #2): exit ${doctor.code}, shell finding ${JSON.stringify(shell ?? doctor.raw.slice(0, 300))}`);
    if (after !== original) {
      const undone = await t.anchor("setup --undo --shell bash");
      t.expect(undone.code === 0 && (await t.rcText()) === original, `setup --undo must give the rc file back byte for byte: exit ${undone.code}, ${undone.stderr}`);
    }
    await bobLogin.end();
  },
};

const perIdentityAndSea: Cell = {
  pair: ["per-identity", "single-executable"],
  title: "the single executable prints the per-identity code, answers scope, and its daemon keeps people apart",
  async check(t) {
    const { alice, bob, sea, seaBin, host } = t.world;
    for (const shell of ["bash", "fish"]) {
      const single = await run(sea, ["init", "--per-identity", shell], { env: { PATH: "/usr/bin:/bin", HOME: host.home } });
      const launcher = await run(BIN, ["init", "--per-identity", shell]);
      t.expect(single.code === 0 && withoutBinaryLine(single.stdout) === withoutBinaryLine(launcher.stdout), `the single executable's init --per-identity ${shell} differs from the npm install's (exit ${single.code}: ${single.stderr})`);
    }
    await t.rc(PER_IDENTITY, { bin: seaBin });
    const aliceLogin = await host.login(alice);
    assert.equal((await host.ssh("tmux new -d -s alice", 20_000, alice)).code, 0);
    const bobLogin = await host.login(bob);
    const pane = await t.paneView("tmux", "alice");
    t.expect(SCOPE_SOCKET.test(pane.sock) && sameKeys(pane, ["alice-key"]), `Alice's pane (Bob connected and newest) must hold her scope and list only her key: ${describeView(pane)}`);
    const exe = await t.daemonExecutable();
    t.expect(exe === sea, `the daemon must be the single executable itself: it runs ${exe}`);
    const asked = await host.ssh('SSH_AUTH_SOCK=$SSH_ANCHOR_ORIGINAL_SOCK ssh-anchor scope --json', 20_000, alice);
    const answer = (() => {
      try {
        return JSON.parse(asked.stdout) as { socket?: string };
      } catch {
        return {};
      }
    })();
    t.expect(answer.socket === pane.sock, `the single executable's \`scope --json\` for Alice's login must name her pane's socket ${pane.sock}: ${asked.stdout.trim()} ${asked.stderr.trim()}`);
    await bobLogin.end();
    await aliceLogin.end();
  },
};

// ---------------------------------------------------------------------------------------------
// link × ...

const linkAndActivation: Cell = {
  pair: ["link", "activation"],
  title: "link mode wakes no daemon; the activated daemon serves and idles out without touching the link",
  async check(t) {
    const { host } = t.world;
    const activator = await t.activate();
    const inode = (await lstat(t.stable)).ino;
    await t.rc(LINK);
    const login = await host.login();
    const view = await t.loginView();
    t.expect(view.sock === t.linkPath && sameKeys(view, ["laptop-key"]), `a link-mode login must export the link and reach its agent: ${describeView(view)}`);
    t.expect(activator.count("started") === 0, `a link-mode login woke the activated daemon (${JSON.stringify(activator.events)}): link mode runs no daemon`);
    const target = (await host.asUser(`readlink ${t.linkPath}`)).stdout.trim();
    // The stable socket, beside it: served on demand.
    const served = await host.asUser(`SSH_AUTH_SOCK=${t.stable} ssh-add -l`);
    t.expect(served.code === 0 && keysListed(served.stdout).includes("laptop-key"), `the activated stable socket must serve ssh-add -l: exit ${served.code} ${served.stdout}${served.stderr}`);
    const exited = await activator.nth("exited", 1, 6000).then(() => true, () => false);
    t.expect(exited, "the activated daemon must exit after its idle period");
    // The daemon's directory is also the link's: the daemon's start and exit leave the link alone.
    const linkNow = (await host.asUser(`readlink ${t.linkPath}`)).stdout.trim();
    const targetFile = await readFile(`${t.linkPath}.target`, "utf8").catch(() => "(missing)");
    t.expect(linkNow === target && targetFile.trim() === target, `the activated daemon's start or exit changed the link: it was ${target}, now ${linkNow || "(missing)"}, link.sock.target ${JSON.stringify(targetFile)}`);
    const again = await t.loginView();
    t.expect(again.sock === t.linkPath && sameKeys(again, ["laptop-key"]), `after the idle exit a link-mode login must still reach its agent through the link: ${describeView(again)}`);
    await t.onlyActivatedDaemons(activator, inode);
    await login.end();
  },
};

function linkAndConnect(mux: Mux): Cell {
  return {
    pair: ["link", "connect"],
    mux,
    title: "connect on a link-mode host starts no daemon; its session reaches the agent through the link, and nothing else once the login ends",
    async check(t) {
      const { host, attacker } = t.world;
      // Debian's rc: connect's remote command runs without the rc line, so the session starts
      // with the login's own socket unless connect's prelude gives it something that lasts.
      await t.rc(LINK, { guard: true });
      const session = `lk${mux}`;
      const connected = await t.connect({ session, mux });
      const pids = await daemonPids();
      t.expect(pids.length === 0, `connect started a daemon (pid ${pids.join(", ")}) on a host whose rc line is init --link: the user chose not to have one`);
      if (mux === "tmux") {
        const env = await t.tmuxEnv(session);
        t.expect(env !== t.stable, `connect pointed a link-mode host's tmux session at the stable socket ${env}`);
      }
      const pane = await t.paneView(mux, session);
      t.expect(pane.sock === t.linkPath && sameKeys(pane, ["laptop-key"]), `connect's pane on a link-mode host must use the link and reach the agent: ${describeView(pane)}`);
      const target = (await host.asUser(`readlink ${t.linkPath}`)).stdout.trim();
      const forwarded = t.expect(/^\/tmp\/ssh-[^/]+\/agent\.\d+$/.test(target),
        `connect's session pointed link mode's link at ${target}, not at its login's forwarded socket (its prelude exported ${t.stable} before the pane's rc line ran, and link mode took that for the login's agent)`);
      // The login ends (detach); another user re-creates its directory with a socket of their own.
      await connected.detach();
      let fake: Awaited<ReturnType<typeof attacker.fakeAgent>> | undefined;
      let receivedByPane = "";
      if (forwarded) {
        await waitFor(`${target} to disappear`, async () => (await run("test", ["-e", target])).code !== 0, 10_000);
        assert.equal((await attacker.run(`mkdir -m 755 ${dirname(target)}`)).code, 0);
        t.cleanup.add(() => run("rm", ["-rf", dirname(target)]));
        fake = await attacker.fakeAgent(target);
        const orphan = await t.paneView(mux, session);
        const received = await fake.received();
        receivedByPane = received;
        t.expect(received === "", `with its login ended, ssh-add -l in connect's pane reached the other user's socket at ${target} (issue 18 #4: ${received.split("\n").length - 1} lines received): ${describeView(orphan)}`);
      }
      // A new login (an interactive one: the rc line runs): the pane's link is repaired, and a
      // window without a shell reaches it too.
      await t.rc(LINK);
      const login = await host.login();
      const back = await t.paneView(mux, session);
      t.expect(sameKeys(back, ["laptop-key"]), `after a new login connect's pane must reach the agent again through the link: ${describeView(back)}`);
      const raw = await t.rawWindowView(mux, session);
      t.expect(raw.rc === 0 && sameKeys(raw, ["laptop-key"]), `a window started without a shell in connect's session on a link-mode host must reach the agent after a new login (connect's promise, without a daemon): ${describeView(raw)}`);
      // Nothing in the session, shell or not, may have reached the other user's socket.
      const reached = ((await fake?.received()) ?? "").slice(receivedByPane.length);
      t.expect(reached === "", `after the login ended, something else in connect's session reached the other user's socket at ${target} (${reached.split("\n").length - 1} lines; a window without a shell holds ${raw.sock}): the session must hold the link, never a login's own socket`);
      const after = await daemonPids();
      t.expect(after.length === 0 || pids.length > 0, `a daemon (pid ${after.join(", ")}) started on the link-mode host after connect`);
      await login.end();
    },
  };
}

const linkAndSetup: Cell = {
  pair: ["link", "setup"],
  title: "setup --link writes a line that works with no daemon; plain setup never stacks a daemon line on a link line; --undo restores",
  async check(t) {
    const original = await t.rc(undefined);
    const linked = await t.anchor("setup --link --shell bash");
    t.expect(linked.code === 0 && runsInitForm(lastInitLine(await t.rcText()), "init --link"), `setup --link must add ${LINK}: exit ${linked.code}, ${linked.stderr}`);
    let view = await t.loginView();
    t.expect(view.sock === t.linkPath && sameKeys(view, ["laptop-key"]) && view.stderr === "", `the line setup --link wrote must export the link and reach the agent, silently: ${describeView(view)}; stderr ${JSON.stringify(view.stderr)}`);
    t.expect((await daemonPids()).length === 0, "setup --link's line started a daemon");
    // Plain setup on top of it: refuses, offers the change, or replaces it; never two lines.
    const plain = await t.anchor("setup --shell bash");
    const lines = (await t.rcText()).split("\n").filter((line) => /ssh-anchor init/.test(line) && !/^\s*#/.test(line));
    t.expect(lines.length === 1, `plain setup after setup --link left ${lines.length} init lines: ${JSON.stringify(lines)} (setup said ${JSON.stringify(plain.stdout.trim())})`);
    const undone = await t.anchor("setup --undo --shell bash");
    t.expect(undone.code === 0 && (await t.rcText()) === original, `setup --undo must give the rc file back byte for byte: exit ${undone.code}: ${undone.stderr}`);
    // A hand-written link line: setup must recognise it, not append the daemon's line after it.
    const handWritten = await t.rc(LINK);
    const stacked = await t.anchor("setup --shell bash");
    const last = lastInitLine(await t.rcText());
    t.expect(last === LINK, `setup appended ${JSON.stringify(last)} after a hand-written \`${LINK}\` (issue 18 #2: every form of the init line must be recognised; the last line wins, and starts the daemon the user chose not to have); setup said ${JSON.stringify((stacked.stdout + stacked.stderr).trim().split("\n").slice(-2).join(" / "))}`);
    view = await t.loginView();
    const daemons = await daemonPids();
    t.expect(view.sock === t.linkPath && daemons.length === 0, `after setup on a hand-written link line, a login must still use the link with no daemon: ${describeView(view)}, daemons ${daemons.join(", ") || "none"}`);
    if ((await t.rcText()) !== handWritten) await t.anchor("setup --undo --shell bash");
  },
};

const linkAndSea: Cell = {
  pair: ["link", "single-executable"],
  title: "the single executable's link line, link and rc work: the link follows logins and is repaired, with no daemon",
  async check(t) {
    const { host, sea, seaBin } = t.world;
    for (const args of [["rc"], ["init", "--link", "bash"]]) {
      const single = await run(sea, args, { env: { PATH: "/usr/bin:/bin", HOME: host.home } });
      const launcher = await run(BIN, args);
      t.expect(single.code === 0 && withoutBinaryLine(single.stdout) === withoutBinaryLine(launcher.stdout), `the single executable's \`${args.join(" ")}\` differs from the npm install's (exit ${single.code}: ${single.stderr})`);
    }
    await t.rc(LINK, { bin: seaBin });
    const older = await host.login();
    const newer = await host.login();
    // A session opened from a third, short login: its link dangles at once, the next prompt repairs it.
    assert.equal((await host.ssh("tmux new -d -s seed")).code, 0);
    const first = await t.paneView("tmux", "seed");
    t.expect(first.sock === t.linkPath && sameKeys(first, ["laptop-key"]), `a pane of the single executable's link mode must reach the agent through the link: ${describeView(first)}`);
    await newer.end();
    const repaired = await t.paneView("tmux", "seed");
    const target = (await host.asUser(`readlink ${t.linkPath}`)).stdout.trim();
    t.expect(sameKeys(repaired, ["laptop-key"]) && target === older.forwardedSocket, `after the newer login ended the single executable's \`link\` must repair the link to the older one ${older.forwardedSocket}: it points at ${target}; ${describeView(repaired)}`);
    const daemons = await daemonPids();
    t.expect(daemons.length === 0, `link mode with the single executable started a daemon (pid ${daemons.join(", ")})`);
    await older.end();
  },
};

// ---------------------------------------------------------------------------------------------
// activation × ...

function activationAndConnect(mux: Mux): Cell {
  return {
    pair: ["activation", "connect"],
    mux,
    title: "connect's prelude uses systemd's socket (no daemon of its own); the session keeps reaching the agent across idle exits",
    async check(t) {
      const activator = await t.activate();
      const inode = (await lstat(t.stable)).ino;
      await t.rc(PLAIN);
      const session = `ac${mux}`;
      await t.connect({ session, mux });
      if (mux === "tmux") {
        const env = await t.tmuxEnv(session);
        t.expect(env === t.stable, `connect must point its session at the stable socket under socket activation: it holds ${env}`);
      }
      const pane = await t.paneView(mux, session);
      t.expect(pane.sock === t.stable && sameKeys(pane, ["laptop-key"]), `connect's pane must reach the agent through the activated stable socket: ${describeView(pane)}`);
      await t.onlyActivatedDaemons(activator, inode);
      const exited = await activator.nth("exited", 1, 6000).then(() => true, () => false);
      t.expect(exited, `the activated daemon did not exit after its idle period with connect's session attached (${JSON.stringify(activator.events)})`);
      const raw = await t.rawWindowView(mux, session);
      t.expect(raw.rc === 0 && sameKeys(raw, ["laptop-key"]), `after an idle exit a window without a shell in connect's session must reach the agent (systemd starts the daemon again): ${describeView(raw)}`);
      await t.onlyActivatedDaemons(activator, inode);
      for (const event of activator.events) if (event.kind === "exited") t.expect(event.status === 0, `an activated daemon exited with status ${event.status}`);
    },
  };
}

const activationAndSetup: Cell = {
  pair: ["activation", "setup"],
  title: "the line setup writes works silently beside systemd's socket, idle or running, and starts no daemon of its own",
  async check(t) {
    const activator = await t.activate();
    const inode = (await lstat(t.stable)).ino;
    const original = await t.rc(undefined);
    const setup = await t.anchor("setup --shell bash");
    t.expect(setup.code === 0 && runsInitForm(lastInitLine(await t.rcText()), "init"), `setup must add ${PLAIN}: exit ${setup.code}: ${setup.stderr}`);
    for (const state of ["idle", "after an idle exit"]) {
      const view = await t.loginView();
      t.expect(view.sock === t.stable && sameKeys(view, ["laptop-key"]) && view.stderr === "", `${state}: the line setup wrote must export the stable socket and reach the agent, silently: ${describeView(view)}; stderr ${JSON.stringify(view.stderr)}`);
      await t.onlyActivatedDaemons(activator, inode);
      if (state === "idle") await activator.nth("exited", 1, 6000).catch(() => t.expect(false, `the activated daemon did not exit when idle: ${JSON.stringify(activator.events)}`));
    }
    const undone = await t.anchor("setup --undo --shell bash");
    t.expect(undone.code === 0 && (await t.rcText()) === original, `setup --undo must give the rc file back byte for byte: exit ${undone.code}: ${undone.stderr}`);
  },
};

const activationAndSea: Cell = {
  pair: ["activation", "single-executable"],
  title: "systemd starts the single executable on demand; it serves, idles out cleanly, comes back; service install names it",
  async check(t) {
    const { host, sea, seaBin } = t.world;
    const activator = await t.activate(sea);
    const inode = (await lstat(t.stable)).ino;
    await t.rc(PLAIN, { bin: seaBin });
    const login = await host.login();
    const view = await t.loginView();
    t.expect(view.sock === t.stable && sameKeys(view, ["laptop-key"]) && view.stderr === "", `a login must reach the agent through the activated single executable: ${describeView(view)}; stderr ${JSON.stringify(view.stderr)}`);
    const started = await activator.nth("started", 1);
    const exe = await executableOf(started.pid);
    t.expect(exe === sea || exe === "", `the activated daemon must be the single executable: it runs ${exe}`);
    const exited = await activator.nth("exited", 1, 6000).catch(() => undefined);
    t.expect(exited?.status === 0, `the activated single executable must exit 0 after its idle period: ${JSON.stringify(activator.events)}`);
    const again = await host.asUser(`SSH_AUTH_SOCK=${t.stable} ssh-add -l`);
    t.expect(again.code === 0 && keysListed(again.stdout).includes("laptop-key"), `after the idle exit the next client must be served by the next start: exit ${again.code}: ${again.stderr}`);
    await t.onlyActivatedDaemons(activator, inode);
    const units = await t.anchor("service install --dry-run", sea);
    t.expect(new RegExp(`^ExecStart=${sea} run --socket ${t.stable} --idle-exit 600$`, "m").test(units.stdout), `the single executable's service units must start itself: ${units.stdout}${units.stderr}`);
    await login.end();
  },
};

// ---------------------------------------------------------------------------------------------
// connect × ...

function connectAndSetup(mux: Mux): Cell {
  return {
    pair: ["connect", "setup"],
    mux,
    title: "on an account set up by setup (Debian's rc), connect's session and its windows reach the agent; doctor is content; setup stays once",
    async check(t) {
      const { host } = t.world;
      await t.rc(undefined, { guard: true });
      const setup = await t.anchor("setup --shell bash");
      t.expect(setup.code === 0, `setup: exit ${setup.code}: ${setup.stderr}`);
      const session = `cs${mux}`;
      await t.connect({ session, mux });
      if (mux === "tmux") {
        for (const [what, env] of [["session", await t.tmuxEnv(session)], ["global", await t.tmuxEnv()]] as const) {
          t.expect(env === t.stable, `connect must point tmux's ${what} environment at the stable socket: it holds ${env}`);
        }
      }
      const pane = await t.paneView(mux, session);
      t.expect(pane.sock === t.stable && sameKeys(pane, ["laptop-key"]), `a pane of connect's session (the line setup wrote ran in it) must reach the agent through the stable socket: ${describeView(pane)}`);
      const raw = await t.rawWindowView(mux, session);
      t.expect(raw.rc === 0 && raw.sock === t.stable && sameKeys(raw, ["laptop-key"]), `a window without a shell in connect's session must hold the stable socket and reach the agent: ${describeView(raw)}`);
      const doctor = await t.doctor(t.stable);
      const bad = doctor.findings.filter((finding) => finding.area === mux && (finding.verdict === "fail" || finding.verdict === "warn"));
      t.expect(bad.length === 0, `doctor finds fault with connect's ${mux} session: ${bad.map((f) => `${f.verdict} ${f.title}`).join(" | ")}`);
      const again = await t.anchor("setup --shell bash");
      const lines = (await t.rcText()).split("\n").filter((line) => /ssh-anchor init/.test(line));
      t.expect(/already set up/.test(again.stdout) && lines.length === 1, `setup after connect must say it is already set up and leave one init line: ${again.stdout.trim()}; ${JSON.stringify(lines)}`);
      await host.asUser(`rm -f ${join(host.home, ".bashrc.ssh-anchor-backup")}`);
    },
  };
}

function connectAndSea(mux: Mux): Cell {
  return {
    pair: ["connect", "single-executable"],
    mux,
    title: "the single executable connects from the laptop, and on the host its prelude starts itself as the daemon",
    async check(t) {
      const { sea, seaBin } = t.world;
      await t.rc(PLAIN, { bin: seaBin });
      const session = `ce${mux}`;
      await t.connect({ session, mux, exe: sea });
      if (mux === "tmux") {
        const env = await t.tmuxEnv(session);
        t.expect(env === t.stable, `connect must point its session at the stable socket: it holds ${env}`);
      }
      const pane = await t.paneView(mux, session);
      t.expect(pane.sock === t.stable && sameKeys(pane, ["laptop-key"]), `connect's pane must reach the agent through the stable socket: ${describeView(pane)}`);
      const exe = await t.daemonExecutable();
      t.expect(exe === sea, `the daemon connect's prelude started must be the single executable: it runs ${exe}`);
      const raw = await t.rawWindowView(mux, session);
      t.expect(raw.rc === 0 && sameKeys(raw, ["laptop-key"]), `a window without a shell in connect's session must reach the agent: ${describeView(raw)}`);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// setup × single executable

const setupAndSea: Cell = {
  pair: ["setup", "single-executable"],
  title: "`ssh host .local/bin/ssh-anchor setup` (the README's way) writes a line that works, starting the executable; --undo restores",
  async check(t) {
    const { host, sea } = t.world;
    assert.equal((await host.asUser(`mkdir -p ~/.local/bin && ln -s ${sea} ~/.local/bin/ssh-anchor`)).code, 0);
    const original = await t.rc(undefined, { path: "$HOME/.local/bin" });
    const setup = await host.ssh(".local/bin/ssh-anchor setup --shell bash");
    t.expect(setup.code === 0 && runsInitForm(lastInitLine(await t.rcText()), "init"), `the single executable's setup must add ${PLAIN}: exit ${setup.code}: ${setup.stdout}${setup.stderr}`);
    const view = await t.loginView();
    t.expect(view.sock === t.stable && sameKeys(view, ["laptop-key"]) && view.stderr === "", `the line the single executable's setup wrote must export the stable socket and reach the agent, silently: ${describeView(view)}; stderr ${JSON.stringify(view.stderr)}`);
    const exe = await t.daemonExecutable();
    t.expect(exe === sea, `the daemon that line started must be the single executable: it runs ${exe}`);
    const undone = await host.ssh(".local/bin/ssh-anchor setup --undo --shell bash");
    t.expect(undone.code === 0 && (await t.rcText()) === original, `the single executable's setup --undo must give the rc file back byte for byte: exit ${undone.code}: ${undone.stderr}`);
  },
};

export const CELLS: readonly Cell[] = [
  perIdentityAndLink,
  perIdentityAndActivation,
  ...MULTIPLEXERS.map(perIdentityAndConnect),
  perIdentityAndSetup,
  perIdentityAndSea,
  linkAndActivation,
  ...MULTIPLEXERS.map(linkAndConnect),
  linkAndSetup,
  linkAndSea,
  ...MULTIPLEXERS.map(activationAndConnect),
  activationAndSetup,
  activationAndSea,
  ...MULTIPLEXERS.map(connectAndSetup),
  ...MULTIPLEXERS.map(connectAndSea),
  setupAndSea,
];

/** The cells a complete matrix has: every pair once, pairs with connect once per multiplexer. */
export function expectedCells(): string[] {
  const expected: string[] = [];
  FEATURES.forEach((first, i) =>
    FEATURES.slice(i + 1).forEach((second) => {
      const muxes = PER_MULTIPLEXER.includes(first) || PER_MULTIPLEXER.includes(second) ? MULTIPLEXERS : [undefined];
      for (const mux of muxes) expected.push(`${first} × ${second}${mux ? ` [${mux}]` : ""}`);
    }),
  );
  return expected;
}

describe("composition matrix: the list of cells", () => {
  it("has one cell for every pair of features (per multiplexer for connect), and nothing else", () => {
    const key = (cell: Cell) => {
      const [a, b] = [...cell.pair].sort((x, y) => FEATURES.indexOf(x) - FEATURES.indexOf(y));
      return `${a} × ${b}${cell.mux ? ` [${cell.mux}]` : ""}`;
    };
    for (const cell of CELLS) assert.notEqual(cell.pair[0], cell.pair[1], `${cellName(cell)} pairs a feature with itself`);
    const have = CELLS.map(key);
    assert.deepEqual([...have].sort(), [...new Set(have)].sort(), "a pair is checked twice");
    const missing = expectedCells().filter((cell) => !have.includes(cell));
    const extra = have.filter((cell) => !expectedCells().includes(cell));
    assert.deepEqual(missing, [], `pairs without a check: ${missing.join(", ")}`);
    assert.deepEqual(extra, [], `cells that are not a pair of the features (or a multiplexer where none is needed): ${extra.join(", ")}`);
    assert.equal(CELLS.length, 20, "15 pairs; the 5 with connect once per multiplexer");
  });
});

const skip = requireRoot();

describe("composition matrix: every pair of features keeps both promises (issue 18)", { skip }, () => {
  const cleanup = new Cleanup();
  let world: World;
  let defaultRc: string;
  before(async () => {
    const base = await tempDir("anchor-matrix-");
    await chmod(base, 0o755);
    cleanup.add(() => run("rm", ["-rf", base]));
    // The single executable, built once while sshd starts.
    const seaBin = join(base, "sea");
    await mkdir(seaBin, { mode: 0o755 });
    const sea = join(seaBin, "ssh-anchor");
    const building = run(process.execPath, [join(REPO, "scripts", "build-sea.mjs"), sea], { timeoutMs: 120_000 });
    const host = await startTestHost(cleanup);
    const alice = await host.addLaptopAgent("alice");
    const bob = await host.addLaptopAgent("bob");
    const attacker = await makeAttacker(cleanup);
    cleanup.add(() => run("find", ["/tmp", "-maxdepth", "1", "-user", attacker.name, "-name", "ssh-*", "-exec", "rm", "-rf", "{}", "+"]));
    const built = await building;
    assert.equal(built.code, 0, `build-sea: ${built.stderr}`);
    await chmod(sea, 0o755);
    const logs = join(base, "logs");
    await mkdir(logs);
    const shared = join(base, "shared");
    await mkdir(shared, { mode: 0o755 });
    world = { host, alice, bob, attacker, sea, seaBin, pkgBin: host.binDirectory, shared, logs };
    defaultRc = await readFile(join(host.home, ".bashrc"), "utf8");
    // startTestHost's first login ran the rc line (a daemon): every cell starts from nothing.
    await resetAccount(host, defaultRc);
  });
  after(() => cleanup.run());

  for (const cell of CELLS) {
    it(cellName(cell), { timeout: 90_000 }, async () => {
      const cellRun = new CellRun(world);
      try {
        await cell.check(cellRun);
        cellRun.problems.assertNone();
      } catch (error) {
        const dump = await cellRun.dumpAll().catch((failure) => `(dump failed: ${failure})`);
        const message = `${(error as Error).message}\n=== dump ===\n${dump}`;
        throw Object.assign(new Error(message), { stack: message });
      } finally {
        await cellRun.cleanup.run();
        await run("pkill", ["-KILL", "-u", world.attacker.name]);
        await run("find", ["/tmp", "-maxdepth", "1", "-user", world.attacker.name, "-name", "ssh-*", "-exec", "rm", "-rf", "{}", "+"]);
        await resetAccount(world.host, defaultRc);
      }
    });
  }
});
