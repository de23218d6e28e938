import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { dirname } from "node:path";
import { makeAttacker, type Attacker, type FakeAgent } from "../helpers/attacker.js";
import { TMUX } from "../helpers/panes.js";
import { Cleanup, requireRoot, run, sleep, waitFor } from "../helpers/process.js";
import { stableDirectory, startTestHost, type TestHost } from "../helpers/sshd.js";

const skip = requireRoot();

/**
 * Another local user tries every way to stand in for ssh-anchor (issue 9), with a fake agent
 * that writes down whatever reaches it. The victim is the test user, logged in through a real
 * sshd with ssh -A. Each test asserts that nothing reached the fake agent and that the victim's
 * agent still works through the stable socket.
 */
describe("end to end: another local user cannot stand in for ssh-anchor", { skip }, () => {
  const cleanup = new Cleanup();
  let host: TestHost;
  let attacker: Attacker;
  let squatDir: string;
  let stable: string;
  before(async () => {
    host = await startTestHost(cleanup);
    attacker = await makeAttacker(cleanup);
    squatDir = `/tmp/ssh-anchor-${host.uid}`;
    stable = host.stableSocket;
    cleanup.add(() => run("rm", ["-rf", squatDir]));
  });
  after(() => cleanup.run());

  const nothingReached = async (fake: FakeAgent) => assert.equal(await fake.received(), "", `the attacker's agent at ${fake.path} was reached`);
  const keyListed = (output: string) => assert.match(output, new RegExp(`${host.keyComment} \\(ED25519\\)`));

  /** The attacker squats the /tmp name first: a 0755 directory, a 0777 fake agent, and a pid
   * file naming a process of theirs called ssh-anchor (a copy of sleep so named). */
  const squat = async (): Promise<FakeAgent> => {
    await run("rm", ["-rf", squatDir]);
    assert.equal((await attacker.run(`mkdir -m 755 ${squatDir} && cp /bin/sleep ${squatDir}/ssh-anchor`)).code, 0);
    const fake = await attacker.fakeAgent(`${squatDir}/agent.sock`);
    const impostor = attacker.spawn(`${squatDir}/ssh-anchor`, ["600"]);
    await waitFor("the impostor process", async () => (await run("cat", [`/proc/${impostor.pid}/comm`])).stdout.startsWith("ssh-anchor"), 5000);
    assert.equal((await attacker.run(`echo ${impostor.pid} > ${squatDir}/agent.sock.pid && echo ${impostor.pid} > ${squatDir}/agent.sock.ctl`)).code, 0);
    return fake;
  };

  it("a squatted /tmp/ssh-anchor-$UID with a fake agent and pid file captures nothing", async () => {
    const fake = await squat();
    await host.anchor("stop");
    const login = await host.ssh('printf "sock=%s\\n" "$SSH_AUTH_SOCK"; ssh-add -l');
    assert.equal(login.code, 0, login.stderr);
    assert.match(login.stdout, new RegExp(`sock=${stable}\\n`));
    keyListed(login.stdout);
    assert.match(login.stderr, new RegExp(`ssh-anchor: warning: ${squatDir} was made by another user`));
    // A new key goes to the victim's own laptop agent, never to the attacker.
    const added = await host.ssh(`ssh-keygen -q -t ed25519 -N '' -C squat-key -f ~/squat-key && ssh-add ~/squat-key && ssh-add -l; rm -f ~/squat-key*`);
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, /squat-key \(ED25519\)/);
    await run("ssh-add", ["-d", "-"], { env: { ...process.env, SSH_AUTH_SOCK: host.laptopAgent.path } });
    await nothingReached(fake);
  });

  it("doctor names the squat's owner, fails, and never connects to it; --fix points tmux only at the user's own socket", async () => {
    const fake = await squat();
    assert.equal((await host.ssh(`${TMUX} new -d -s doctor`)).code, 0);
    const doctor = await host.ssh("ssh-anchor doctor; echo rc=$?");
    assert.match(doctor.stdout, new RegExp(`FAIL.*${squatDir} is owned by uid ${attacker.uid} \\(${attacker.name}\\), not you`));
    assert.match(doctor.stdout, /rc=1/);
    assert.match(doctor.stdout, new RegExp(`SSH_AUTH_SOCK is the stable socket ${stable}`));
    const fix = await host.ssh(`SSH_AUTH_SOCK=${squatDir}/agent.sock ssh-anchor doctor --fix >/dev/null; ${TMUX} show-environment -g SSH_AUTH_SOCK`);
    assert.equal(fix.stdout.trim(), `SSH_AUTH_SOCK=${stable}`);
    const pointed = await host.ssh(`SSH_AUTH_SOCK=${squatDir}/agent.sock ssh-anchor doctor | grep '^FAIL shell'`);
    assert.match(pointed.stdout, /which is not yours/);
    await host.asUser(`${TMUX} kill-server`);
    await nothingReached(fake);
  });

  it("with ssh_config set up, plain ssh never sends agent requests to the squat", async () => {
    const fake = await squat();
    assert.equal((await host.anchor("setup --shell bash --ssh-config")).code, 0);
    const config = await host.ssh("ssh -G somewhere.invalid | grep -i '^identityagent'");
    assert.equal(config.stdout.trim(), `identityagent ${stable}`);
    assert.equal((await host.anchor("setup --shell bash --ssh-config --undo")).code, 0);
    await nothingReached(fake);
  });

  it("an empty squatted directory does not pass for a running daemon; start, status and stop use the user's own", async () => {
    await run("rm", ["-rf", squatDir]);
    assert.equal((await attacker.run(`mkdir -m 700 ${squatDir}`)).code, 0);
    await host.anchor("stop");
    const start = await host.anchor("start");
    assert.equal(start.code, 0, start.stderr);
    assert.match(start.stdout, new RegExp(`started \\(pid \\d+\\) on ${stable}`));
    const status = await host.anchor("status");
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, new RegExp(`socket: +${stable}`));
    // Pointed at the squat by hand, every command refuses it instead of trusting it.
    const pointed = await host.anchor(`start --socket ${squatDir}/agent.sock`);
    assert.notEqual(pointed.code, 0);
    assert.match(pointed.stderr, new RegExp(`^ssh-anchor: refusing to use ${squatDir}: it is owned by uid ${attacker.uid}`));
    const statusThere = await host.anchor(`status --socket ${squatDir}/agent.sock`);
    assert.equal(statusThere.code, 3);
  });

  it("stop spares the process named in a planted pid file (the user's own tmux server)", async () => {
    await run("rm", ["-rf", squatDir]);
    assert.equal((await host.ssh(`${TMUX} new -d -s spared`)).code, 0);
    const tmuxPid = (await host.asUser(`${TMUX} display -p '#{pid}'`)).stdout.trim();
    assert.match(tmuxPid, /^\d+$/);
    assert.equal((await attacker.run(`mkdir -m 755 ${squatDir}`)).code, 0);
    const fake = await attacker.fakeAgent(`${squatDir}/agent.sock`);
    assert.equal((await attacker.run(`echo ${tmuxPid} > ${squatDir}/agent.sock.pid`)).code, 0);
    const stop = await host.anchor(`stop --socket ${squatDir}/agent.sock`);
    assert.notEqual(stop.code, 0);
    await sleep(200);
    assert.equal((await run("kill", ["-0", tmuxPid])).code, 0, "the tmux server must survive");
    assert.equal((await host.anchor("stop")).code, 0);
    assert.equal((await run("kill", ["-0", tmuxPid])).code, 0, "the tmux server must survive");
    await host.asUser(`${TMUX} kill-server`);
    await nothingReached(fake);
  });

  it("a relative SSH_ANCHOR_SOCKET is never exported; a socket under an open parent is refused", async () => {
    const relative = await host.ssh('SSH_ANCHOR_SOCKET=agent.sock; export SSH_ANCHOR_SOCKET; eval "$(ssh-anchor init bash)"; printf "sock=%s\\n" "$SSH_AUTH_SOCK"');
    assert.match(relative.stderr, /SSH_ANCHOR_SOCKET must be an absolute path, not "agent.sock"/);
    assert.doesNotMatch(relative.stdout, /sock=agent.sock/);
    const open = `/tmp/anchor-open-${process.pid}`;
    await run("mkdir", ["-m", "777", open]);
    cleanup.add(() => run("rm", ["-rf", open]));
    assert.equal((await host.asUser(`mkdir -m 700 ${open}/mine`)).code, 0);
    const refused = await host.anchor(`start --socket ${open}/mine/agent.sock`);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, new RegExp(`^ssh-anchor: refusing to use ${open}/mine: ${open} is writable by group or others`));
  });

  it("status shows nothing a fake control socket says: refused unless it is the user's own", async () => {
    await run("rm", ["-rf", squatDir]);
    assert.equal((await attacker.run(`mkdir -m 755 ${squatDir}`)).code, 0);
    const fake = await attacker.fakeAgent(`${squatDir}/agent.sock.ctl`);
    const status = await host.anchor(`status --socket ${squatDir}/agent.sock`);
    assert.equal(status.code, 3);
    assert.doesNotMatch(status.stderr, /at .*\.js:\d+/, "no stack trace");
    await nothingReached(fake);
  });

  it("a log file path that is the attacker's symlink is never written through", async () => {
    await run("rm", ["-rf", squatDir]);
    assert.equal((await host.ssh(`echo precious > ~/precious`)).code, 0);
    assert.equal((await attacker.run(`mkdir -m 777 ${squatDir} && ln -s ${host.home}/precious ${squatDir}/victim.log`)).code, 0);
    const daemon = await host.asUser(
      `timeout 3 ssh-anchor run --socket /tmp/anchor-logtest-$(id -u)/agent.sock --log-file ${squatDir}/victim.log; echo done`,
    );
    assert.match(daemon.stdout, /done/);
    assert.equal((await host.asUser("cat ~/precious")).stdout, "precious\n");
    await host.asUser("rm -rf /tmp/anchor-logtest-$(id -u) ~/precious");
  });

  it("link mode repairs a link whose target directory the attacker re-created, and never follows it", async () => {
    await run("rm", ["-rf", squatDir]);
    const older = await host.login();
    const newer = await host.login();
    const link = `${stableDirectory(host.home)}/link.sock`;
    const linkMode = (command: string) =>
      host.asUser(`cd; export PATH=${host.binDirectory}:$PATH; unset SSH_AUTH_SOCK; eval "$(ssh-anchor init --link bash)"; ${command}`);
    assert.equal((await host.asUser(`mkdir -p -m 700 ${stableDirectory(host.home)} && ln -sfn ${newer.forwardedSocket} ${link}`)).code, 0);
    await newer.end();
    // sshd removed the login's directory; the attacker re-creates it, with a socket of theirs
    // (OpenSSH >= 10.1 keeps sockets in ~/.ssh/agent, which no one else can write: the attacker
    // plants the same in /tmp, in the older layout's form).
    const { directory, socket } = plantable(newer.forwardedSocket);
    assert.equal((await attacker.run(`mkdir -m 755 ${directory}`)).code, 0);
    const fake = await attacker.fakeAgent(socket);
    const listed = await linkMode('ssh-add -l; printf "target=%s\\n" "$(readlink "$SSH_AUTH_SOCK")"');
    keyListed(listed.stdout);
    assert.match(listed.stdout, new RegExp(`target=${older.forwardedSocket}`));
    await older.end();
    await run("rm", ["-rf", directory]);
    await nothingReached(fake);
  });

  it("link mode never keeps or makes a link into the attacker's directory, even one leading to the victim's own socket", async () => {
    const older = await host.login();
    const newer = await host.login();
    const link = `${stableDirectory(host.home)}/link.sock`;
    const linkMode = (command: string, sshAuthSock = "") =>
      host.asUser(`cd; export PATH=${host.binDirectory}:$PATH; SSH_AUTH_SOCK='${sshAuthSock}'; eval "$(ssh-anchor init --link bash)"; ${command}`);
    const target = () => host.asUser(`readlink ${link}; cat ${link}.target`);
    assert.equal((await linkMode("true", newer.forwardedSocket)).code, 0);
    assert.equal((await target()).stdout, `${newer.forwardedSocket}\n${newer.forwardedSocket}\n`);
    await newer.end();
    // The attacker re-creates the dead login's directory with a symlink to the victim's live
    // socket: every -S and -O through the link passes, and the attacker can re-point it at will.
    const { directory, socket } = plantable(newer.forwardedSocket);
    assert.equal((await attacker.run(`mkdir -m 755 ${directory} && ln -s ${older.forwardedSocket} ${socket}`)).code, 0);
    const repaired = await linkMode(`printf "link=%s\\n" "$(readlink "$SSH_AUTH_SOCK")"`);
    assert.match(repaired.stdout, new RegExp(`link=${older.forwardedSocket}\n`), "repaired to the victim's own socket, not through the attacker's directory");
    // A shell that starts with the dead login's path (a tmux server's stale environment) does not
    // point the link into the attacker's directory either.
    const injected = await linkMode(`printf "link=%s\\n" "$(readlink "$SSH_AUTH_SOCK")"`, socket);
    assert.match(injected.stdout, new RegExp(`link=${older.forwardedSocket}\n`));
    await older.end();
    await run("rm", ["-rf", directory]);
  });

  it("link mode with no live agent leads nowhere: a re-created login directory is never reached (bash, fish)", async () => {
    const link = `${stableDirectory(host.home)}/link.sock`;
    const only = await host.login();
    const bash = (command: string, sshAuthSock = "") =>
      host.asUser(`cd; export PATH=${host.binDirectory}:$PATH; SSH_AUTH_SOCK='${sshAuthSock}'; eval "$(ssh-anchor init --link bash)"; ${command}`);
    const fish = (command: string) =>
      host.asUser(`cd; export PATH=${host.binDirectory}:$PATH; SSH_AUTH_SOCK= fish -c 'ssh-anchor init --link fish | source; ${command}'`);
    const linkState = async () => (await host.asUser(`readlink ${link} || echo no-link; cat ${link}.target 2>/dev/null || echo no-target`)).stdout;
    // A pane that started while the login lived: its link points at the login's socket.
    assert.equal((await bash("true", only.forwardedSocket)).code, 0);
    assert.equal(await linkState(), `${only.forwardedSocket}\n${only.forwardedSocket}\n`);
    await only.end();
    // sshd removed the login's directory; the attacker re-creates the same name with a socket.
    const { directory, socket } = plantable(only.forwardedSocket);
    assert.equal((await attacker.run(`mkdir -m 755 ${directory}`)).code, 0);
    const fake = await attacker.fakeAgent(socket);
    // That pane's shell checks before its next command, within the 30 s after a failed look
    // (so no `ssh-anchor link` runs): the shell alone must stop following the link.
    const pane = await bash(`__ssh_anchor_retry_at=999999; __ssh_anchor_check; ssh-add -l; echo "rc=$?"`);
    assert.match(pane.stdout, /rc=2\n/, `ssh-add must find no agent: ${pane.stdout}${pane.stderr}`);
    await nothingReached(fake);
    // A new shell with no forwarded agent: the link leads nowhere, and stays gone.
    const fresh = await bash('ssh-add -l; echo "rc=$?"');
    assert.match(fresh.stdout, /rc=2\n/, `ssh-add must find no agent: ${fresh.stdout}${fresh.stderr}`);
    assert.equal(await linkState(), "no-link\nno-target\n");
    // The same in fish, with a link left from before (planted as it was).
    assert.equal((await host.asUser(`ln -sfn ${only.forwardedSocket} ${link} && echo ${only.forwardedSocket} > ${link}.target`)).code, 0);
    const fishShell = await fish('set -g __ssh_anchor_retry_at 9999999999; __ssh_anchor_check; ssh-add -l; echo "rc=$status"');
    assert.match(fishShell.stdout, /rc=2\n/, `ssh-add must find no agent in fish: ${fishShell.stdout}${fishShell.stderr}`);
    assert.equal(await linkState(), "no-link\nno-target\n");
    // `ssh-anchor link` with nothing live removes a link left from before instead of keeping it.
    assert.equal((await host.asUser(`ln -sfn ${only.forwardedSocket} ${link} && echo ${only.forwardedSocket} > ${link}.target`)).code, 0);
    const linked = await host.anchor("link");
    assert.equal(linked.code, 1);
    assert.match(linked.stderr, /no live agent to link to/);
    assert.equal(await linkState(), "no-link\nno-target\n");
    await nothingReached(fake);
    await run("rm", ["-rf", directory]);
  });

  it("the daemon takes its directory back at once when it is removed, keeping its pid; old panes keep working", async () => {
    assert.equal((await host.anchor("start")).code, 0);
    const pid = (await host.asUser(`cat ${stable}.pid`)).stdout.trim();
    const login = await host.login();
    // The attacker races for both names (the home one is out of their reach, /tmp is not).
    await run("rm", ["-rf", squatDir]);
    const racer = attacker.spawn(process.execPath, [
      "-e",
      `const fs=require("fs");fs.watch("/tmp",(e,n)=>{if(n==="${squatDir.slice(5)}")try{fs.mkdirSync("${squatDir}",0o755)}catch{}});setTimeout(()=>{},8000)`,
    ]);
    await sleep(300);
    for (let round = 0; round < 3; round++) {
      await run("rm", ["-rf", stableDirectory(host.home)]);
      await waitFor("the socket to be back", async () => (await host.asUser(`test -S ${stable} && test -O ${stable}`)).code === 0, 6000, 20);
    }
    racer.kill("SIGKILL");
    const listed = await host.asUser(`SSH_AUTH_SOCK=${stable} ssh-add -l`);
    keyListed(listed.stdout);
    assert.equal((await host.asUser(`cat ${stable}.pid`)).stdout.trim(), pid, "the same daemon, never stopped");
    assert.equal((await host.asUser(`stat -c %a ${stableDirectory(host.home)}`)).stdout.trim(), "700");
    await login.end();
  });

  it("a process of the attacker's named sshd does not make the user's own ssh-agent pass for a login's", async () => {
    assert.equal((await host.anchor("start")).code, 0);
    const login = await host.login();
    const fakeDirectory = `/tmp/anchor-fake-sshd-${process.pid}`;
    cleanup.add(() => run("rm", ["-rf", fakeDirectory]));
    assert.equal((await attacker.run(`mkdir -m 755 ${fakeDirectory} && ln -s "$(command -v sleep)" ${fakeDirectory}/sshd`)).code, 0);
    const fakeSshd = attacker.spawn(`${fakeDirectory}/sshd`, ["600"]);
    await waitFor("the attacker's process named sshd", async () => (await run("cat", [`/proc/${fakeSshd.pid}/comm`])).stdout.startsWith("sshd"), 5000);
    // The user's own agent in the /tmp layout, named after that pid, in a directory named by
    // hand (neither sshd's ten characters nor ssh-agent's twelve: the pid decides): as sshd names
    // a login's socket, or as an eval'd agent's name reads once its first pid went to someone else.
    const started = await host.asUser(
      `d=$(mktemp -d /tmp/ssh-XXXXXXXX) && s=$d/agent.${fakeSshd.pid} && ssh-keygen -q -t ed25519 -N '' -C local-key -f $d/key && eval "$(ssh-agent -s -a $s)" >/dev/null && SSH_AUTH_SOCK=$s ssh-add -q $d/key && echo "$s $SSH_AGENT_PID"`,
    );
    assert.equal(started.code, 0, started.stderr);
    const [socket, agentPid] = started.stdout.trim().split(" ") as [string, string];
    cleanup.add(() => host.asUser(`kill ${agentPid}; rm -rf ${dirname(socket)}`));
    type Agent = { path: string; kind: string };
    const known = await waitFor(
      "the daemon to know the user's local agent",
      async () => (JSON.parse((await host.anchor("status --json")).stdout) as { agents: Agent[] }).agents.find((agent) => agent.path === socket),
      10_000,
      200,
    );
    const listed = await host.asUser(`SSH_AUTH_SOCK=${stable} ssh-add -l`);
    keyListed(listed.stdout);
    assert.doesNotMatch(listed.stdout, /local-key/, "the request reached the user's local agent, not the login's");
    assert.equal(known.kind, "local", JSON.stringify(known));
    await login.end();
  });
});

/**
 * Where the attacker plants a stand-in for a dead login's socket: its own directory, which in
 * OpenSSH <= 10.0's layout (/tmp/ssh-XXXX/agent.N) sshd has just removed and anyone may
 * re-create; in the >= 10.1 layout (~/.ssh/agent, the user's own) the same form in /tmp, which
 * discovery still reads.
 */
function plantable(forwardedSocket: string): { directory: string; socket: string } {
  if (forwardedSocket.startsWith("/tmp/")) return { directory: dirname(forwardedSocket), socket: forwardedSocket };
  return { directory: "/tmp/ssh-PlantedByAttacker", socket: "/tmp/ssh-PlantedByAttacker/agent.4242" };
}
